"""Borne (operator API + OCPI at /ocpi) and a fake eMSP peer, both under uvicorn on loopback.

The peer shares no code with Borne's OCPI package: a plain FastAPI app answering the versions,
details and credentials endpoints, checking Borne's token, and calling Borne back when Borne
registers with it (as a real party does). Test modules import the ``world`` fixture from here.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

import borne.roaming.api
import borne.roaming.models
from borne.api_context import ApiContext
from borne.app import create_app
from borne.core.deps import Deps
from borne.ocpi.auth import token_candidates
from borne.ocpi.client import OcpiClient
from borne.ocpi.party import Party
from borne.ocpi.server import create_ocpi_app
from borne.ocpp.outbound import OcppOutbound
from borne.roaming import ocpi_versions
from borne.roaming.authenticator import DbPartyAuthenticator
from borne.roaming.config import RoamingConfig, RoamingContext

API_KEY = "roaming-test-key"


class Served:
    """A FastAPI app under uvicorn on 127.0.0.1, on a free port."""

    def __init__(self, app: FastAPI) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
        self.server = uvicorn.Server(config)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> str:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task


def token_header(token: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


def role(kind: str, country: str, party: str, name: str) -> dict[str, Any]:
    return {
        "role": kind,
        "country_code": country,
        "party_id": party,
        "business_details": {"name": name},
    }


@dataclass
class Peer:
    """The fake eMSP: what it accepts, what it announces, what it saw."""

    base: str = ""
    versions: tuple[str, ...] = ("2.2.1",)
    accepted: set[str] = field(default_factory=set)  # tokens Borne may use to call it
    down: bool = False
    roles: list[dict[str, Any]] = field(
        default_factory=lambda: [role("EMSP", "NL", "EMS", "Peer eMSP")]
    )
    calls: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, token
    borne_token: str | None = None  # the token Borne offered when it registered with the peer
    borne_seen: dict[str, Any] = field(default_factory=dict)

    @property
    def versions_url(self) -> str:
        return f"{self.base}/versions"

    def credentials(self, token: str) -> dict[str, Any]:
        return {"token": token, "url": self.versions_url, "roles": self.roles}


def _envelope(data: Any, status_code: int = 1000, http: int = 200) -> JSONResponse:
    body = {
        "data": data,
        "status_code": status_code,
        "status_message": "ok" if status_code == 1000 else "error",
        "timestamp": "2025-01-01T00:00:00Z",
    }
    return JSONResponse(body, status_code=http)


def peer_app(peer: Peer) -> FastAPI:
    app = FastAPI()

    def caller(request: Request) -> str | None:
        value = request.headers.get("authorization", "")
        if not value.startswith("Token "):
            return None
        try:
            return base64.b64decode(value[6:], validate=True).decode()
        except ValueError:
            return None

    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        token = caller(request)
        peer.calls.append((request.method, request.url.path, token))
        if peer.down:
            return JSONResponse({"detail": "maintenance"}, status_code=503)
        if token not in peer.accepted:
            return _envelope(None, 2000, 401)
        return await call_next(request)

    @app.get("/versions")
    async def versions() -> Response:
        return _envelope([{"version": v, "url": f"{peer.base}/{v}"} for v in peer.versions])

    @app.get("/{version}")
    async def details(version: str) -> Response:
        modules = [("credentials", "SENDER"), ("tokens", "SENDER"), ("cdrs", "RECEIVER")]
        endpoints = [
            {"identifier": m, "role": r, "url": f"{peer.base}/{version}/{m}"} for m, r in modules
        ]
        return _envelope({"version": version, "endpoints": endpoints})

    @app.api_route("/{version}/credentials", methods=["POST", "PUT"])
    async def credentials(version: str, request: Request) -> Response:
        # Borne registers with us: check its credentials by calling its versions back.
        offer = await request.json()
        headers = token_header(offer["token"])
        async with httpx.AsyncClient() as http:
            versions = (await http.get(offer["url"], headers=headers)).json()
            peer.borne_seen["versions"] = versions
            if versions["status_code"] != 1000:
                return _envelope(None, 3001)
            url = next(v["url"] for v in versions["data"] if v["version"] == version)
            peer.borne_seen["details"] = (await http.get(url, headers=headers)).json()
        peer.borne_token = offer["token"]
        peer.borne_seen["offer"] = offer
        token_c = secrets.token_urlsafe(24)
        peer.accepted = {token_c}
        return _envelope(peer.credentials(token_c))

    return app


@dataclass
class World:
    borne: str  # Borne's root URL (operator API at /api/v1, OCPI at /ocpi)
    api: httpx.AsyncClient  # operator API client (with the key)
    http: httpx.AsyncClient  # plain client, for OCPI calls as the peer
    peer: Peer
    ctx: RoamingContext

    @property
    def ocpi(self) -> str:
        return f"{self.borne}/ocpi"

    async def create_partner(self, name: str = "Peer", **fields: Any) -> tuple[int, str]:
        r = await self.api.post("/api/v1/partners", json={"name": name, **fields})
        assert r.status_code == 201, r.text
        return r.json()["partner"]["id"], r.json()["token"]

    async def partner(self, partner_id: int) -> dict[str, Any]:
        r = await self.api.get(f"/api/v1/partners/{partner_id}")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    async def ocpi_call(
        self, method: str, path: str, token: str, body: Any = None
    ) -> httpx.Response:
        return await self.http.request(
            method, f"{self.ocpi}{path}", headers=token_header(token), json=body
        )

    async def party(self, token: str) -> Party | None:
        """Who Borne's authenticator says the caller with ``token`` (base64) is."""
        header = token_header(token)["Authorization"]
        return await DbPartyAuthenticator(self.ctx.db).authenticate(token_candidates(header))

    async def register(
        self, token_a: str, token_b: str, *, version: str = "2.2.1"
    ) -> dict[str, Any]:
        """The peer registers with Borne (token A → token C); returns Borne's credentials."""
        self.peer.accepted.add(token_b)
        r = await self.ocpi_call(
            "POST", f"/{version}/credentials", token_a, self.peer.credentials(token_b)
        )
        assert r.status_code == 200, r.text
        assert r.json()["status_code"] == 1000, r.text
        data: dict[str, Any] = r.json()["data"]
        return data


@pytest.fixture
async def world(deps: Deps) -> AsyncIterator[World]:
    peer = Peer()
    peer_server = Served(peer_app(peer))
    peer.base = await peer_server.start()

    client = OcpiClient(timeout_s=5.0)
    app = create_app(
        ApiContext(
            deps=deps,
            outbound=OcppOutbound(deps.registry),
            api_keys=[API_KEY],
            routers=[borne.roaming.api.router],
        )
    )
    ocpi_app = create_ocpi_app(
        routers=[ocpi_versions.router], authenticator=DbPartyAuthenticator(deps.db)
    )
    app.mount("/ocpi", ocpi_app)
    borne_server = Served(app)
    base = await borne_server.start()
    ctx = RoamingContext(
        db=deps.db,
        clock=deps.clock,
        config=RoamingConfig(
            base_url=f"{base}/ocpi", country_code="NL", party_id="BRN", business_name="Borne Test"
        ),
        client=client,
    )
    app.state.roaming = ctx
    ocpi_app.state.roaming = ctx
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with (
        httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as api,
        httpx.AsyncClient(timeout=10) as http,
    ):
        try:
            yield World(borne=base, api=api, http=http, peer=peer, ctx=ctx)
        finally:
            await client.aclose()
            await borne_server.stop()
            await peer_server.stop()
