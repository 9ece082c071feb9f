"""The OCPI sub-application through the real ASGI stack (and once over loopback HTTP)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from borne.ocpi import (
    AnyParty,
    OcpiModel,
    Page,
    Party,
    RegisteredParty,
    RoutingHeaders,
    UnknownLocation,
    ok,
    paginated,
    request_ids,
)
from borne.ocpi.server import create_ocpi_app

TOKEN_C = "token-c-0001"
TOKEN_A = "token-a-0002"
BASE = "http://testserver"
T0 = datetime(2025, 1, 1, tzinfo=UTC)


class FakeAuthenticator:
    """Token C = registered partner, token A = unregistered; records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def authenticate(self, tokens: Sequence[str]) -> Party | None:
        self.calls.append(list(tokens))
        for token in tokens:
            if token == TOKEN_C:
                return Party(1, "partner", (), registered=True, version="2.2.1", token_base64=True)
            if token == TOKEN_A:
                return Party(2, "newcomer", (), registered=False, version=None, token_base64=True)
        return None


@dataclass(frozen=True)
class Item:
    id: str
    last_updated: datetime


# 250 objects, three per last_updated, ordered by (last_updated, id).
ITEMS = sorted(
    (Item(f"LOC{i:03d}", T0 + timedelta(minutes=i // 3)) for i in range(250)),
    key=lambda o: (o.last_updated, o.id),
)
ITEM_IDS = [o.id for o in ITEMS]


class Evse(OcpiModel):
    uid: str


class Thing(OcpiModel):
    id: str
    count: int
    evse: Evse


def _router() -> APIRouter:
    r = APIRouter()

    @r.get("/versions")
    async def versions(party: AnyParty) -> Any:
        return ok({"party": party.name})

    @r.get("/2.2.1/cpo/locations")
    async def locations(
        request: Request,
        _: RegisteredParty,
        params: Page,
    ) -> Any:
        window = [o for o in ITEMS if params.in_window(o.last_updated)]
        page = [asdict(o) for o in window[params.offset : params.offset + params.limit]]
        return paginated(request, params, page, len(window))

    @r.post("/2.2.1/cpo/things")
    async def things(body: Thing, _: RegisteredParty) -> Any:
        return ok(body)

    @r.get("/2.2.1/ids")
    async def ids(request: Request, routing: RoutingHeaders) -> Any:
        rid, cid = request_ids(request)
        return ok({"request_id": rid, "correlation_id": cid, "routing": routing.__dict__})

    @r.get("/2.2.1/boom")
    async def boom() -> Any:
        raise RuntimeError("secret detail of the crash")

    async def failing_dependency() -> None:
        raise KeyError("dependency broke")

    @r.get("/2.2.1/dep-boom", dependencies=[Depends(failing_dependency)])
    async def dep_boom() -> Any:
        return ok()

    @r.get("/2.2.1/cpo/locations/{uid}")
    async def location(uid: str, _: RegisteredParty) -> Any:
        raise UnknownLocation(f"no location {uid}")

    return r


class ExplodingMiddleware:
    """A later-added middleware that crashes on one path (the catch-all must cover it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/mw-boom"):
            raise ValueError("middleware broke")
        await self.app(scope, receive, send)


def build(max_page_limit: int = 50) -> tuple[FastAPI, FakeAuthenticator]:
    auth = FakeAuthenticator()
    ocpi = create_ocpi_app(routers=[_router()], authenticator=auth, max_page_limit=max_page_limit)
    ocpi.add_middleware(ExplodingMiddleware)
    outer = FastAPI()
    outer.mount("/ocpi", ocpi)
    return outer, auth


def b64(token: str) -> str:
    return "Token " + base64.b64encode(token.encode()).decode()


@pytest.fixture
def auth_and_app() -> tuple[FastAPI, FakeAuthenticator]:
    return build()


@pytest.fixture
async def client(
    auth_and_app: tuple[FastAPI, FakeAuthenticator],
) -> AsyncIterator[httpx.AsyncClient]:
    app, _ = auth_and_app
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        yield c


def assert_envelope(resp: httpx.Response, http_status: int, status_code: int) -> dict[str, Any]:
    assert resp.status_code == http_status, resp.text
    body: dict[str, Any] = resp.json()
    assert set(body) == {"data", "status_code", "status_message", "timestamp"}
    assert body["status_code"] == status_code, body
    assert body["timestamp"].endswith("Z")
    return body


def assert_uuid(value: str | None) -> None:
    assert value is not None
    uuid.UUID(value)


# --- authentication -------------------------------------------------------------------------


async def test_missing_token_is_401(client: httpx.AsyncClient) -> None:
    resp = await client.get("/ocpi/versions")
    assert_envelope(resp, 401, 2000)


@pytest.mark.parametrize("header", ["Token nope", b64("nope"), "Bearer " + TOKEN_C, "Token "])
async def test_unknown_or_malformed_token_is_401(client: httpx.AsyncClient, header: str) -> None:
    resp = await client.get("/ocpi/versions", headers={"Authorization": header})
    assert_envelope(resp, 401, 2000)


async def test_token_a_only_for_versions(client: httpx.AsyncClient) -> None:
    headers = {"Authorization": b64(TOKEN_A)}
    resp = await client.get("/ocpi/versions", headers=headers)
    assert assert_envelope(resp, 200, 1000)["data"] == {"party": "newcomer"}
    resp = await client.get("/ocpi/2.2.1/cpo/locations", headers=headers)
    assert_envelope(resp, 401, 2000)


@pytest.mark.parametrize("header", [b64(TOKEN_C), "Token " + TOKEN_C, "token " + TOKEN_C])
async def test_base64_and_raw_tokens_accepted(client: httpx.AsyncClient, header: str) -> None:
    resp = await client.get("/ocpi/2.2.1/cpo/locations", headers={"Authorization": header})
    assert_envelope(resp, 200, 1000)


async def test_authenticator_gets_decoded_then_raw(
    auth_and_app: tuple[FastAPI, FakeAuthenticator], client: httpx.AsyncClient
) -> None:
    _, auth = auth_and_app
    await client.get("/ocpi/versions", headers={"Authorization": b64(TOKEN_C)})
    assert auth.calls == [[TOKEN_C, base64.b64encode(TOKEN_C.encode()).decode()]]


# --- request / correlation ids ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "http_status"),
    [
        ("GET", "/ocpi/versions", 200),  # success (with token below)
        ("GET", "/ocpi/2.2.1/cpo/locations", 401),  # token refused (token A)
        ("GET", "/ocpi/nowhere", 404),
        ("DELETE", "/ocpi/versions", 405),
        ("GET", "/ocpi/2.2.1/boom", 200),
        ("GET", "/ocpi/2.2.1/mw-boom", 200),
    ],
)
async def test_ids_echoed_on_every_response(
    client: httpx.AsyncClient, method: str, path: str, http_status: int
) -> None:
    headers = {
        "Authorization": b64(TOKEN_A),
        "X-Request-ID": "req-123",
        "X-Correlation-ID": "corr-456",
    }
    resp = await client.request(method, path, headers=headers)
    assert resp.status_code == http_status
    assert resp.headers["X-Request-ID"] == "req-123"
    assert resp.headers["X-Correlation-ID"] == "corr-456"


async def test_ids_generated_when_missing_and_seen_by_handler(client: httpx.AsyncClient) -> None:
    resp = await client.get("/ocpi/2.2.1/ids")
    data = assert_envelope(resp, 200, 1000)["data"]
    assert_uuid(resp.headers.get("X-Request-ID"))
    assert_uuid(resp.headers.get("X-Correlation-ID"))
    assert data["request_id"] == resp.headers["X-Request-ID"]
    assert data["correlation_id"] == resp.headers["X-Correlation-ID"]
    resp404 = await client.get("/ocpi/nowhere")
    assert_uuid(resp404.headers.get("X-Request-ID"))
    assert resp404.headers["X-Request-ID"] != resp.headers["X-Request-ID"]


async def test_routing_headers_parsed(client: httpx.AsyncClient) -> None:
    resp = await client.get(
        "/ocpi/2.2.1/ids",
        headers={
            "OCPI-to-country-code": "NL",
            "OCPI-to-party-id": "BRN",
            "OCPI-from-country-code": "DE",
            "OCPI-from-party-id": "EMS",
        },
    )
    routing = resp.json()["data"]["routing"]
    assert routing == {
        "to_country_code": "NL",
        "to_party_id": "BRN",
        "from_country_code": "DE",
        "from_party_id": "EMS",
    }


# --- bodies and errors ------------------------------------------------------------------------

AUTH_C = {"Authorization": b64(TOKEN_C)}


@pytest.mark.parametrize("content_type", ["application/json", None])
async def test_invalid_json_is_400(client: httpx.AsyncClient, content_type: str | None) -> None:
    headers = dict(AUTH_C)
    if content_type:
        headers["Content-Type"] = content_type
    resp = await client.post("/ocpi/2.2.1/cpo/things", content=b'{"id": ', headers=headers)
    body = assert_envelope(resp, 400, 2000)
    assert "json" in body["status_message"].lower()


@pytest.mark.parametrize("body", [b'{"id": ', b'{"id": "X", "count": "many"}'])
@pytest.mark.parametrize("header", [None, b64("nope")])
async def test_without_a_valid_token_a_bad_body_is_still_401(
    client: httpx.AsyncClient, body: bytes, header: str | None
) -> None:
    """The body is parsed before the token dependency runs; the caller still hears 401 (R28),
    not how its body was wrong."""
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Authorization"] = header
    resp = await client.post("/ocpi/2.2.1/cpo/things", content=body, headers=headers)
    assert_envelope(resp, 401, 2000)


async def test_invalid_content_is_2001_with_field_path(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "/ocpi/2.2.1/cpo/things", json={"id": "X", "count": "many", "evse": {}}, headers=AUTH_C
    )
    message = assert_envelope(resp, 200, 2001)["status_message"]
    assert "body.count" in message
    assert "body.evse.uid" in message
    assert "Field required" in message


async def test_unknown_fields_accepted_and_kept(client: httpx.AsyncClient) -> None:
    payload = {"id": "X", "count": 2, "evse": {"uid": "E1", "future": 1}, "new_230_field": "v"}
    resp = await client.post("/ocpi/2.2.1/cpo/things", json=payload, headers=AUTH_C)
    assert assert_envelope(resp, 200, 1000)["data"] == payload


async def test_valid_json_without_content_type_is_parsed(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "/ocpi/2.2.1/cpo/things", content=b'{"id":"X","count":1,"evse":{"uid":"E"}}', headers=AUTH_C
    )
    assert_envelope(resp, 200, 1000)


async def test_ocpi_error_keeps_its_codes(client: httpx.AsyncClient) -> None:
    resp = await client.get("/ocpi/2.2.1/cpo/locations/NOPE", headers=AUTH_C)
    assert assert_envelope(resp, 404, 2003)["status_message"] == "no location NOPE"


@pytest.mark.parametrize(
    ("path", "marker"),
    [
        ("/ocpi/2.2.1/boom", "secret detail"),
        ("/ocpi/2.2.1/dep-boom", "dependency broke"),
        ("/ocpi/2.2.1/mw-boom", "middleware broke"),
    ],
)
async def test_uncaught_exception_is_3000_never_500(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, path: str, marker: str
) -> None:
    with caplog.at_level(logging.ERROR, logger="borne.ocpi"):
        resp = await client.get(path)
    body = assert_envelope(resp, 200, 3000)
    assert marker not in resp.text and "Traceback" not in resp.text
    assert body["status_message"] == "Internal error"
    # Logged server-side with the traceback.
    assert any(r.exc_info and marker in str(r.exc_info[1]) for r in caplog.records)


async def test_method_not_allowed_is_405_envelope(client: httpx.AsyncClient) -> None:
    resp = await client.put("/ocpi/versions", headers=AUTH_C)
    assert_envelope(resp, 405, 2000)


async def test_openapi_of_sub_app(client: httpx.AsyncClient) -> None:
    resp = await client.get("/ocpi/openapi.json")
    assert resp.status_code == 200
    assert "/2.2.1/cpo/locations" in resp.json()["paths"]


# --- pagination -------------------------------------------------------------------------------


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def _next_link(resp: httpx.Response) -> str | None:
    link: str | None = resp.headers.get("Link")
    if link is None:
        return None
    assert link.endswith('>; rel="next"'), link
    return link[1 : link.index(">")]


async def test_limit_capped_by_server_max(client: httpx.AsyncClient) -> None:
    resp = await client.get("/ocpi/2.2.1/cpo/locations?limit=500", headers=AUTH_C)
    assert len(assert_envelope(resp, 200, 1000)["data"]) == 50
    assert resp.headers["X-Limit"] == "50"
    assert resp.headers["X-Total-Count"] == "250"


async def test_default_limit_is_server_max(client: httpx.AsyncClient) -> None:
    resp = await client.get("/ocpi/2.2.1/cpo/locations", headers=AUTH_C)
    assert resp.headers["X-Limit"] == "50"
    link = _next_link(resp)
    assert link is not None
    assert _query(link)["offset"] == ["50"]


async def test_link_keeps_filters_and_walks_all_pages(client: httpx.AsyncClient) -> None:
    date_from = (T0 + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    date_to = (T0 + timedelta(minutes=70)).strftime("%Y-%m-%dT%H:%M:%SZ")
    url: str | None = (
        f"/ocpi/2.2.1/cpo/locations?date_from={date_from}&date_to={date_to}&limit=40&extra=keep"
    )
    expected = [
        o.id
        for o in ITEMS
        if T0 + timedelta(minutes=10) <= o.last_updated < T0 + timedelta(minutes=70)
    ]
    seen: list[str] = []
    pages = 0
    while url is not None:
        resp = await client.get(url, headers=AUTH_C)
        seen += [o["id"] for o in assert_envelope(resp, 200, 1000)["data"]]
        assert resp.headers["X-Total-Count"] == str(len(expected))
        assert resp.headers["X-Limit"] == "40"
        url = _next_link(resp)
        if url is not None:
            assert url.startswith(f"{BASE}/ocpi/2.2.1/cpo/locations?")
            q = _query(url)
            assert q["date_from"] == [date_from]
            assert q["date_to"] == [date_to]
            assert q["extra"] == ["keep"]
            assert q["limit"] == ["40"]
            assert q["offset"] == [str(len(seen))]
        pages += 1
    assert seen == expected
    assert pages == 5  # 180 items / 40


async def test_no_link_on_last_page(client: httpx.AsyncClient) -> None:
    resp = await client.get("/ocpi/2.2.1/cpo/locations?offset=200&limit=50", headers=AUTH_C)
    assert len(resp.json()["data"]) == 50
    assert "Link" not in resp.headers
    resp = await client.get("/ocpi/2.2.1/cpo/locations?offset=999", headers=AUTH_C)
    assert resp.json()["data"] == []
    assert "Link" not in resp.headers


@pytest.mark.parametrize(
    "query",
    [
        "offset=-1",
        "offset=x",
        "limit=0",
        "limit=-5",
        "limit=1.5",
        "date_from=yesterday",
        "date_to=2025-13-01T00:00:00Z",
    ],
)
async def test_bad_paging_parameters_are_2001(client: httpx.AsyncClient, query: str) -> None:
    resp = await client.get(f"/ocpi/2.2.1/cpo/locations?{query}", headers=AUTH_C)
    body = assert_envelope(resp, 200, 2001)
    assert query.split("=", maxsplit=1)[0] in body["status_message"]


async def test_windows_tile_without_gap_or_overlap(client: httpx.AsyncClient) -> None:
    # Boundaries fall on timestamps shared by several objects: each must appear exactly once.
    bounds = [T0 + timedelta(minutes=m) for m in (0, 7, 7, 33, 90)]
    seen: list[str] = []
    for lo, hi in zip(bounds, [*bounds[1:], None], strict=True):
        q = f"date_from={lo.isoformat()}&limit=50" + (f"&date_to={hi.isoformat()}" if hi else "")
        url: str | None = f"/ocpi/2.2.1/cpo/locations?{q}".replace("+", "%2B")
        while url is not None:
            resp = await client.get(url, headers=AUTH_C)
            seen += [o["id"] for o in assert_envelope(resp, 200, 1000)["data"]]
            url = _next_link(resp)
    assert seen == ITEM_IDS


# --- real loopback HTTP -----------------------------------------------------------------------


async def test_ids_echoed_over_loopback_http() -> None:
    app, _ = build()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.get_running_loop().create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                await task
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            resp = await http.get(
                "/ocpi/nowhere", headers={"X-Request-ID": "r-1", "X-Correlation-ID": "c-1"}
            )
            assert_envelope(resp, 404, 2000)
            assert (resp.headers["X-Request-ID"], resp.headers["X-Correlation-ID"]) == (
                "r-1",
                "c-1",
            )
            resp = await http.get("/ocpi/2.2.1/boom")
            assert_envelope(resp, 200, 3000)
            assert_uuid(resp.headers.get("X-Request-ID"))
            assert_uuid(resp.headers.get("X-Correlation-ID"))
            resp = await http.get("/ocpi/2.2.1/cpo/locations?limit=2&offset=0", headers=AUTH_C)
            link = _next_link(resp)
            assert link == f"http://127.0.0.1:{port}/ocpi/2.2.1/cpo/locations?offset=2&limit=2"
    finally:
        server.should_exit = True
        await task
