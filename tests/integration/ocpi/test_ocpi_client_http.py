"""OcpiClient against a real partner over HTTP: headers, envelope errors, discovery, pages."""

from __future__ import annotations

import base64
import uuid
from decimal import Decimal

import pytest
from http_partner import Peer, envelope

from borne.ocpi.client import OcpiClient, OcpiClientError
from borne.ocpi.headers import Routing

TOKEN = "secret-token-b-123"


async def test_headers_base64_token_new_request_id_and_routing(
    peer: Peer, client: OcpiClient
) -> None:
    routing = Routing("DE", "ABC", "NL", "BRN")
    body = {"id": "1", "kwh": Decimal("12.3456"), "total": Decimal("20")}
    reply = await client.request(
        "put", f"{peer.url}/sessions/NL/BRN/1", token=TOKEN, json=body, routing=routing
    )
    await client.request("GET", f"{peer.url}/sessions", token=TOKEN)

    assert (reply.http_status, reply.status_code, reply.data) == (200, 1000, None)
    first, second = peer.requests
    assert first.method == "PUT"
    assert first.headers["authorization"] == "Token " + base64.b64encode(TOKEN.encode()).decode()
    assert first.headers["content-type"] == "application/json"
    assert first.headers["ocpi-to-country-code"] == "DE"
    assert first.headers["ocpi-to-party-id"] == "ABC"
    assert first.headers["ocpi-from-country-code"] == "NL"
    assert first.headers["ocpi-from-party-id"] == "BRN"
    assert first.body == b'{"id":"1","kwh":12.3456,"total":20}'
    # a new request id per request, and a new correlation id when none is given
    ids = {r.headers["x-request-id"] for r in peer.requests}
    assert len(ids) == 2
    assert all(uuid.UUID(i) for i in ids)
    assert first.headers["x-correlation-id"] != second.headers["x-correlation-id"]
    assert "ocpi-to-party-id" not in second.headers


async def test_raw_token_and_given_correlation_id(peer: Peer, client: OcpiClient) -> None:
    for _ in range(2):
        await client.request(
            "GET", f"{peer.url}/x", token=TOKEN, token_base64=False, correlation_id="corr-1"
        )
    a, b = peer.requests
    assert a.headers["authorization"] == f"Token {TOKEN}"
    assert a.headers["x-correlation-id"] == b.headers["x-correlation-id"] == "corr-1"
    assert a.headers["x-request-id"] != b.headers["x-request-id"]


def _no_token(exc: OcpiClientError) -> None:
    text = str(exc) + repr(exc.args)
    assert TOKEN not in text
    assert base64.b64encode(TOKEN.encode()).decode() not in text


@pytest.mark.parametrize(
    ("answer", "http", "code", "retryable"),
    [
        ((503, 3000), 503, 3000, True),
        ((500, 1000), 500, 1000, True),
        ((401, 2000), 401, 2000, True),
        ((404, 2000), 404, 2000, False),
        ((200, 3000), 200, 3000, True),
        ((200, 2001), 200, 2001, False),
        ((200, 4001), 200, 4001, True),
        ((200, 999), 200, 999, True),
    ],
)
async def test_error_classification(
    peer: Peer,
    client: OcpiClient,
    answer: tuple[int, int],
    http: int,
    code: int,
    retryable: bool,
) -> None:
    peer.fail.append(answer)
    with pytest.raises(OcpiClientError) as info:
        await client.request("POST", f"{peer.url}/cdrs", token=TOKEN, json={"a": 1})
    exc = info.value
    assert (exc.status_http, exc.status_code, exc.retryable) == (http, code, retryable)
    assert f"POST http://127.0.0.1:{peer.port}/cdrs" in exc.message
    assert str(code) in exc.message
    _no_token(exc)


async def test_body_that_is_not_an_envelope(peer: Peer, client: OcpiClient) -> None:
    peer.raw_body = b"<html>maintenance</html>"
    with pytest.raises(OcpiClientError) as info:
        await client.request("GET", f"{peer.url}/x", token=TOKEN)
    assert info.value.status_http == 200
    assert info.value.status_code is None
    assert "not an OCPI envelope" in info.value.message
    assert not info.value.retryable


async def test_connection_refused_and_timeout(peer: Peer, client: OcpiClient) -> None:
    peer.delay_s = 3.0  # the client's timeout is 2 s
    with pytest.raises(OcpiClientError) as info:
        await client.request("GET", f"{peer.url}/slow?token={TOKEN}", token=TOKEN)
    assert info.value.status_http is None
    assert info.value.retryable
    assert "no answer within 2s" in info.value.message
    _no_token(info.value)  # the query string is left out of messages too

    await peer.stop()
    with pytest.raises(OcpiClientError) as info:
        await client.request("GET", f"{peer.url}/x", token=TOKEN)
    assert info.value.status_http is None
    assert info.value.retryable
    assert "ConnectError" in info.value.message
    _no_token(info.value)


async def test_fetch_versions_and_endpoints(peer: Peer, client: OcpiClient) -> None:
    versions = await client.fetch_versions(f"{peer.url}/versions", token=TOKEN)
    assert versions == [
        ("2.2.1", f"{peer.url}/2.2.1/details"),
        ("2.3.0", f"{peer.url}/2.3.0/details"),
    ]
    endpoints = await client.fetch_endpoints(versions[0][1], token=TOKEN)
    assert [(e.identifier, e.role, e.url) for e in endpoints] == [
        ("credentials", "SENDER", f"{peer.url}/cred"),
        ("sessions", "RECEIVER", f"{peer.url}/sessions"),
        ("tokens", "SENDER", f"{peer.url}/tokens"),
    ]


async def test_iterate_follows_link_with_every_parameter(peer: Peer, client: OcpiClient) -> None:
    peer.items = [{"uid": str(i), "price": i / 4} for i in range(7)]
    got = [
        item
        async for item in client.iterate(
            f"{peer.url}/items",
            token=TOKEN,
            params={"limit": "3", "date_from": "2025-01-01T00:00:00Z"},
        )
    ]
    assert [g["uid"] for g in got] == [str(i) for i in range(7)]
    assert got[1]["price"] == Decimal("0.25")  # numbers with a fraction come back as Decimal
    pages = peer.on("/items")
    assert [p.query.get("offset", "0") for p in pages] == ["0", "3", "6"]
    assert all(p.query["date_from"] == "2025-01-01T00:00:00Z" for p in pages)
    # one crawl, one correlation id; a request id per page
    assert len({p.headers["x-correlation-id"] for p in pages}) == 1
    assert len({p.headers["x-request-id"] for p in pages}) == 3


async def test_iterate_stops_on_a_page_that_is_not_a_list(peer: Peer, client: OcpiClient) -> None:
    peer.fail.append((200, 1000))  # envelope with data null
    with pytest.raises(OcpiClientError, match="not a list"):
        async for _ in client.iterate(f"{peer.url}/items", token=TOKEN):
            pass


def test_envelope_helper_shape() -> None:
    assert envelope(None)["status_code"] == 1000
