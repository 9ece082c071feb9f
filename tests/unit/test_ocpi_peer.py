"""Self-tests of the independent eMSP peer (tests/ocpi_peer) against a tiny hand-written stub CPO.

Real loopback HTTP both ways; no Borne involved.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ocpi_peer import EmspPeer, SchemaLibrary, encode_token, next_link

V = "2.2.1"
pytestmark = pytest.mark.skipif(
    not SchemaLibrary().available, reason="../shared/ocpi/openapi absent: peer validation off"
)


def _loc(i: int) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "CPO",
        "id": f"LOC{i:03d}",
        "publish": True,
        "address": "Street 1",
        "city": "Town",
        "country": "NLD",
        "coordinates": {"latitude": "52.370216", "longitude": "4.895168"},
        "time_zone": "Europe/Amsterdam",
        "last_updated": f"2024-01-01T00:{i:02d}:00Z",
    }


class StubCpo:
    """Versions, details, credentials and a paginated locations sender: just enough for the peer."""

    def __init__(self) -> None:
        self.token_a = "token-a"
        self.token_c: str | None = None
        self.peer_token: str | None = None
        self.locations = [_loc(i) for i in range(7)]
        self.base = ""
        app = FastAPI()
        self.app = app

        def env(request: Request, data: Any, headers: dict[str, str] | None = None) -> JSONResponse:
            h = {k: request.headers.get(k, "") for k in ("X-Request-ID", "X-Correlation-ID")}
            body = {"data": data, "status_code": 1000, "timestamp": "2024-01-01T00:00:00Z"}
            return JSONResponse(body, headers={**h, **(headers or {})})

        def token(request: Request) -> str:
            raw = request.headers.get("Authorization", "").removeprefix("Token ")
            return base64.b64decode(raw).decode()

        @app.get("/ocpi/versions")
        async def versions(request: Request) -> JSONResponse:
            return env(request, [{"version": V, "url": f"{self.base}/ocpi/cpo/{V}"}])

        @app.get("/ocpi/cpo/2.2.1")
        async def details(request: Request) -> JSONResponse:
            eps = [
                {"identifier": "credentials", "role": "RECEIVER", "url": f"{self.base}/cred"},
                {"identifier": "locations", "role": "SENDER", "url": f"{self.base}/locations/"},
            ]
            return env(request, {"version": V, "endpoints": eps})

        @app.post("/cred")
        async def register(request: Request) -> JSONResponse:
            assert token(request) == self.token_a
            creds = await request.json()
            self.peer_token = creds["token"]
            async with httpx.AsyncClient() as c:  # connect back to the peer with token B
                h = {"Authorization": encode_token(creds["token"]), "X-Request-ID": "1",
                     "X-Correlation-ID": "2"}  # fmt: skip
                r = await c.get(creds["url"], headers=h)
                assert r.json()["status_code"] == 1000
            self.token_c = f"C-{uuid.uuid4()}"
            role = {"role": "CPO", "country_code": "NL", "party_id": "CPO",
                    "business_details": {"name": "Stub"}}  # fmt: skip
            return env(
                request,
                {"token": self.token_c, "url": f"{self.base}/ocpi/versions", "roles": [role]},
            )

        @app.get("/locations/")
        async def locations(request: Request) -> JSONResponse:
            assert token(request) == self.token_c
            offset = int(request.query_params.get("offset", "0"))
            limit = min(int(request.query_params.get("limit", "3")), 3)
            date_from = request.query_params.get("date_from")
            items = [
                o for o in self.locations if date_from is None or o["last_updated"] >= date_from
            ]
            headers = {"X-Total-Count": str(len(items)), "X-Limit": str(limit)}
            if offset + limit < len(items):
                q = f"offset={offset + limit}&limit={limit}"
                if date_from:
                    q += f"&date_from={date_from}"
                headers["Link"] = f'<{self.base}/locations/?{q}>; rel="next"'
            return env(request, items[offset : offset + limit], headers)


@pytest.fixture
async def stub_cpo() -> AsyncIterator[StubCpo]:
    stub = StubCpo()
    server = uvicorn.Server(
        uvicorn.Config(stub.app, host="127.0.0.1", port=0, log_config=None, lifespan="off")
    )
    task = asyncio.get_running_loop().create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.01)
    stub.base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    try:
        yield stub
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


@pytest.fixture
async def peer() -> AsyncIterator[EmspPeer]:
    async with EmspPeer() as p:
        yield p


async def test_handshake_from_the_peer_side(stub_cpo: StubCpo, peer: EmspPeer) -> None:
    creds = await peer.register_with(f"{stub_cpo.base}/ocpi/versions", stub_cpo.token_a)
    assert creds["token"] == stub_cpo.token_c
    assert peer.client_token == stub_cpo.token_c
    assert peer.version == V
    assert peer.endpoint("locations") == f"{stub_cpo.base}/locations/"
    assert stub_cpo.peer_token in peer.server_tokens
    assert peer.cpo_parties() == {("NL", "CPO")}
    versions_calls = peer.requests_to("versions")
    assert versions_calls and versions_calls[0].http_status == 200
    peer.assert_no_violations()


async def test_pull_follows_link_pagination(stub_cpo: StubCpo, peer: EmspPeer) -> None:
    await peer.register_with(f"{stub_cpo.base}/ocpi/versions", stub_cpo.token_a)
    items = await peer.pull_locations()
    assert [o["id"] for o in items] == [f"LOC{i:03d}" for i in range(7)]
    assert peer.last_pull is not None
    assert [p.count for p in peer.last_pull.pages] == [3, 3, 1]
    assert peer.last_pull.oldest_first
    items = await peer.pull_locations(date_from="2024-01-01T00:02:00Z")
    assert len(items) == 5
    peer.assert_no_violations()


async def test_pull_flags_a_link_that_drops_filters(stub_cpo: StubCpo, peer: EmspPeer) -> None:
    await peer.register_with(f"{stub_cpo.base}/ocpi/versions", stub_cpo.token_a)
    await peer.pull_locations(date_to="2030-01-01T00:00:00Z")  # the stub forgets date_to
    assert any("date_to" in v.message for v in peer.violations)


async def test_borne_side_registration_with_token_a(stub_cpo: StubCpo, peer: EmspPeer) -> None:
    token_a = peer.issue_token_a()
    stub_cpo.token_c = "cpo-token-b"  # the token the CPO gives us (its token B)
    async with httpx.AsyncClient() as c:
        h = {"Authorization": encode_token(token_a), "X-Request-ID": "r1", "X-Correlation-ID": "c1"}
        r = await c.get(peer.versions_url, headers=h)
        assert r.headers["X-Request-ID"] == "r1"
        assert r.json()["data"][0]["version"] == "2.2.1"
        body = {
            "token": "cpo-token-b",
            "url": f"{stub_cpo.base}/ocpi/versions",
            "roles": [{"role": "CPO", "country_code": "NL", "party_id": "CPO",
                       "business_details": {"name": "Stub"}}],
        }  # fmt: skip
        r = await c.post(f"{peer.version_url(V)}/credentials", headers=h, json=body)
        answer = r.json()
        assert answer["status_code"] == 1000, answer
        token_c = answer["data"]["token"]
        assert peer.client_token == "cpo-token-b"
        assert peer.endpoint("locations") == f"{stub_cpo.base}/locations/"
        # token A is retired; token C opens the functional modules
        r = await c.get(peer.versions_url, headers=h)
        assert r.status_code == 401
        h["Authorization"] = encode_token(token_c)
        r = await c.post(f"{peer.version_url(V)}/credentials", headers=h, json=body)
        assert r.status_code == 405
    peer.assert_no_violations()


async def test_authorize_answers_as_configured(peer: EmspPeer) -> None:
    token = peer.issue_token_a()
    peer.server_tokens.add(token)  # pretend registration happened
    peer.set_authorization("OK1", "ALLOWED", authorization_reference="REF-1")
    peer.set_authorization("BAD1", "BLOCKED")
    peer.set_authorization("SLOW", "ALLOWED", delay=0.3)
    url = f"{peer.version_url(V)}/tokens/{{}}/authorize"
    h = {"Authorization": encode_token(token), "X-Request-ID": "r", "X-Correlation-ID": "c"}
    async with httpx.AsyncClient() as c:
        ok = (await c.post(url.format("OK1"), headers=h, params={"type": "RFID"})).json()
        assert ok["status_code"] == 1000
        assert ok["data"]["allowed"] == "ALLOWED"
        assert ok["data"]["authorization_reference"] == "REF-1"
        assert not peer.schemas.validate(V, "tokens", "AuthorizationInfo", ok["data"])
        bad = (await c.post(url.format("BAD1"), headers=h)).json()
        assert bad["data"]["allowed"] == "BLOCKED"
        r = await c.post(url.format("WHO"), headers=h)
        assert r.status_code == 404
        assert r.json()["status_code"] == 2004
        assert "data" not in r.json()
        with pytest.raises(httpx.ReadTimeout):
            await c.post(url.format("SLOW"), headers=h, timeout=0.1)
        r = await c.post(url.format("OK1"), headers={"X-Request-ID": "r"})
        assert r.status_code == 401
    assert [a.uid for a in peer.authorize_requests] == ["OK1", "BAD1", "WHO", "SLOW"]


async def test_down_and_up_keeps_the_port(peer: EmspPeer) -> None:
    url = peer.versions_url
    port = peer.port
    await peer.stop()
    assert not peer.running
    async with httpx.AsyncClient() as c:
        with pytest.raises(httpx.ConnectError):
            await c.get(url)
        await peer.start()
        assert peer.port == port
        r = await c.get(url)
        assert r.status_code == 401  # up again (and still demanding a token)


async def test_invalid_object_is_flagged_and_answered_2001(peer: EmspPeer) -> None:
    token = peer.issue_token_a()
    peer.server_tokens.add(token)
    peer.cpo_credentials = {"roles": [{"role": "CPO", "country_code": "NL", "party_id": "CPO"}]}
    h = {"Authorization": encode_token(token), "X-Request-ID": "r", "X-Correlation-ID": "c"}
    base = f"{peer.version_url(V)}/locations/NL/CPO"
    async with httpx.AsyncClient() as c:
        good = await c.put(f"{base}/LOC001", headers=h, json=_loc(1))
        assert good.json()["status_code"] == 1000
        again = await c.put(f"{base}/LOC001", headers=h, json=_loc(1))
        assert again.json()["status_code"] == 1000
        bad_loc = {**_loc(2), "last_updated": "2024-01-01T00:00:00+00:00"}
        bad = await c.put(f"{base}/LOC002", headers=h, json=bad_loc)
        assert bad.status_code == 200
        assert bad.json()["status_code"] == 2001
        mismatch = await c.put(f"{base}/LOC009", headers=h, json=_loc(3))
        assert mismatch.json()["status_code"] == 2001
        not_json = await c.put(f"{base}/LOC004", headers=h, content=b"{nope")
        assert not_json.status_code == 400
    assert peer.locations.by_id("LOC001") == _loc(1)
    assert peer.locations.total_duplicates() == 1
    assert peer.locations.by_id("LOC002") is None
    messages = [v.message for v in peer.violations]
    assert any("last_updated" in m for m in messages), messages
    assert any("id of body and path differ" in m for m in messages), messages


def test_spec_examples_validate_and_link_parsing() -> None:
    lib = SchemaLibrary()
    assert lib.validate("2.3.0", "tariffs", "Tariff", {"id": "x"})  # missing fields
    tariff = {
        "country_code": "NL", "party_id": "CPO", "id": "T1", "currency": "EUR",
        "tax_included": "YES", "last_updated": "2024-01-01T00:00:00Z",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.25, "step_size": 1}]}],
    }  # fmt: skip
    assert lib.validate("2.3.0", "tariffs", "Tariff", tariff) == []  # YES stays a string
    # open enumerations accept values beyond the listed ones
    assert lib.validate("2.2.1", "locations", "Capability", "FUTURE_THING") == []
    assert lib.validate("2.2.1", "locations", "Status", "FUTURE_THING")  # closed enum
    assert next_link('<http://x/a?offset=3>; rel="next"') == "http://x/a?offset=3"
    assert next_link('<http://x/p>; rel="prev"') is None
