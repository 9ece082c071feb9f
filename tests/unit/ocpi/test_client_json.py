"""The OCPI client's pure parts: Decimal-safe JSON, envelope detection, Link parsing, and error
classification over an in-memory transport (the real-HTTP tests are in tests/integration/ocpi)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest

from borne.ocpi.client import (
    OcpiClient,
    OcpiClientError,
    _envelope,
    _next_link,
    _safe_url,
    dumps,
    loads,
)


def test_dumps_decimal_as_numbers_and_datetimes_as_utc_z() -> None:
    body = {
        "price": Decimal("0.2500"),
        "kwh": Decimal("12.3456"),
        "whole": Decimal("20"),
        "big": Decimal("2E+4"),  # PostgreSQL hands integral numerics back like this
        "at": datetime(2025, 1, 1, 13, 0, tzinfo=timezone(timedelta(hours=1))),
        "micro": datetime(2025, 1, 1, 12, 0, 0, 500000, tzinfo=UTC),
        "day": date(2025, 1, 2),
    }
    assert dumps(body) == (
        b'{"price":0.25,"kwh":12.3456,"whole":20,"big":20000,"at":"2025-01-01T12:00:00Z",'
        b'"micro":"2025-01-01T12:00:00.500000Z","day":"2025-01-02"}'
    )
    with pytest.raises(TypeError):
        dumps({"at": datetime(2025, 1, 1)})  # naive: refused rather than guessed
    with pytest.raises(TypeError):
        dumps({"x": Decimal("NaN")})


def test_loads_fractions_as_decimal() -> None:
    assert loads(b'{"a": 0.1, "b": 3, "c": 1e2}') == {"a": Decimal("0.1"), "b": 3, "c": 100}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"status_code": 1000, "status_message": "ok", "data": [1]}', (1000, "ok", [1])),
        (b'{"status_code": 2001}', (2001, None, None)),
        (b'{"status_code": "1000"}', None),
        (b'{"status_code": true}', None),
        (b"[1, 2]", None),
        (b"<html/>", None),
        (b"", None),
        (b"[" * 100_000, None),
    ],
)
def test_envelope_detection(body: bytes, expected: object) -> None:
    assert _envelope(body) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('<https://p/x?offset=10&limit=10>; rel="next"', "https://p/x?offset=10&limit=10"),
        ("<https://p/x?a=1,2>;rel=next", "https://p/x?a=1,2"),
        ('<https://p/prev>; rel="prev", <https://p/next>; rel="next"', "https://p/next"),
        ('<https://p/x>; rel="prev"', None),
        ("garbage", None),
        (None, None),
    ],
)
def test_next_link(header: str | None, expected: str | None) -> None:
    assert _next_link(header) == expected


def test_safe_url_drops_userinfo_and_query() -> None:
    assert _safe_url("https://u:pw@h:8443/a/b?token=x") == "https://h:8443/a/b"


async def test_relative_next_link_is_resolved_against_the_page() -> None:
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.params.get("offset") == "1":
            return httpx.Response(200, json={"status_code": 1000, "data": ["b"]})
        return httpx.Response(
            200,
            json={"status_code": 1000, "data": ["a"]},
            headers={"Link": '</ocpi/items?offset=1>; rel="next"'},
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as http:
        client = OcpiClient(http)
        items = [i async for i in client.iterate("https://p.example/ocpi/items", token="t")]
        await client.aclose()  # does not close a client it was given
        assert not http.is_closed
    assert items == ["a", "b"]
    assert seen == ["https://p.example/ocpi/items", "https://p.example/ocpi/items?offset=1"]


async def test_a_link_loop_is_an_error() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={"status_code": 1000, "data": []},
            headers={"Link": f'<{request.url}>; rel="next"'},
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as http:
        with pytest.raises(OcpiClientError, match="pagination does not end"):
            async for _ in OcpiClient(http).iterate("https://p.example/items", token="t"):
                pass


async def test_invalid_url_is_not_retryable() -> None:
    client = OcpiClient()
    try:
        with pytest.raises(OcpiClientError) as info:
            await client.request("GET", "http://[::1", token="t")
        assert not info.value.retryable
        with pytest.raises(OcpiClientError) as info:
            await client.request("GET", "ftp://example.org/versions", token="t")
        assert not info.value.retryable
    finally:
        await client.aclose()
