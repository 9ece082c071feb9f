"""A real Borne for the OCPI contract tests, seeded with data the generated requests can hit.

schemathesis calls the server synchronously (``requests``), so Borne runs on its own event loop
in a background thread, on real loopback sockets, for the whole module. Seeding goes through
Borne's public interfaces only: the operator API (station, location with EVSE and connector
descriptors, tariff), one ``EmspPeer`` per OCPI version registering over real HTTP (their
tokens C are what the generated requests present), a roaming token pushed by a peer and an
OCPP 1.6 transaction charged with it (so Sessions and CDRs have content).
"""

from __future__ import annotations

import asyncio
import base64
import os
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from borne.core.db import Base
from e2e.helpers import (
    BOOT16,
    BorneServer,
    create_station,
    now_iso,
    raw_connect,
    start_server,
    stop_server,
    unique_id,
)
from ocpi_peer import EmspPeer

PG_URL = os.environ.get("BORNE_TEST_DATABASE_URL", "")
VERSIONS = ("2.2.1", "2.3.0")
CPO = ("NL", "BRN")
T = TypeVar("T")


@dataclass
class Seed:
    """What the contract tests may address, per version where it differs."""

    api_url: str
    token_c: dict[str, str]  # version -> token C of the peer registered in that version
    token_a: str  # a partner that never registered (credentials answers 405 to it)
    location_id: str
    evse_uid: str
    connector_id: str
    tariff_id: str
    session_ids: dict[str, list[str]] = field(default_factory=dict)  # version -> its sessions
    token_uid: dict[str, str] = field(default_factory=dict)  # version -> a token it pushed
    peer_party: dict[str, tuple[str, str]] = field(default_factory=dict)

    def auth(self, version: str) -> str:
        return "Token " + base64.b64encode(self.token_c[version].encode()).decode()


class BackgroundBorne:
    """Borne (and the eMSP peers) on an event loop of their own, driven from sync tests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: BorneServer | None = None
        self.peers: list[EmspPeer] = []

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


async def _create_schema(url: str, postgres: bool) -> None:
    import borne.models  # noqa: F401  (registers every table on Base.metadata)

    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            if postgres:
                await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
            await conn.run_sync(Base.metadata.create_all)
    finally:
        await engine.dispose()


async def _site(api: httpx.AsyncClient, station_id: str) -> tuple[str, str, str]:
    """A published location with the station, EVSE 1 / connector 1 and a tariff on it."""
    await create_station(api, station_id)
    location_id = unique_id("LOC")
    r = await api.post(
        "/locations",
        json={
            "id": location_id,
            "country_code": CPO[0],
            "party_id": CPO[1],
            "name": "Stationsplein",
            "address": "Stationsplein 1",
            "city": "Amsterdam",
            "postal_code": "1012AB",
            "country": "NLD",
            "latitude": "52.378900",
            "longitude": "4.900300",
            "time_zone": "Europe/Amsterdam",
        },
    )
    assert r.status_code == 201, r.text
    r = await api.put(f"/locations/{location_id}/stations/{station_id}")
    assert r.status_code in (200, 201), r.text
    evse_uid = unique_id("EVSE")
    r = await api.put(
        f"/locations/{location_id}/stations/{station_id}/evses/1",
        json={
            "evse_uid": evse_uid,
            "connectors": [
                {
                    "connector_id": 1,
                    "standard": "IEC_62196_T2",
                    "format": "SOCKET",
                    "power_type": "AC_3_PHASE",
                    "max_voltage": 230,
                    "max_amperage": 32,
                }
            ],
        },
    )
    assert r.status_code in (200, 201), r.text
    tariff_id = unique_id("CONTRACT-TARIFF")[:36]
    tariff = {
        "country_code": CPO[0],
        "party_id": CPO[1],
        "id": tariff_id,
        "currency": "EUR",
        "elements": [
            {
                "price_components": [
                    {"type": "ENERGY", "price": 0.25, "vat": 20.0, "step_size": 1},
                    {"type": "PARKING_TIME", "price": 2.0, "vat": 20.0, "step_size": 60},
                ],
                "restrictions": {"start_time": "08:00", "end_time": "20:00"},
            },
            {"price_components": [{"type": "ENERGY", "price": 0.20, "step_size": 1}]},
        ],
        "last_updated": "2025-01-01T00:00:00Z",
    }
    r = await api.post("/tariffs", json={"tariff": tariff, "version": "2.2.1"})
    assert r.status_code == 201, r.text
    record_id = r.json()["id"]
    r = await api.put(
        f"/tariffs/{record_id}/assignments", json={"station_id": station_id, "evse_id": 1}
    )
    assert r.status_code in (200, 201), r.text
    return location_id, evse_uid, tariff_id


async def _partner(api: httpx.AsyncClient, name: str) -> str:
    r = await api.post("/partners", json={"name": name})
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


async def _charge(borne: BorneServer, station_id: str, id_tag: str, ago_s: int) -> None:
    """A finished 1.6 transaction with the roaming token (a Session and a CDR), from
    ``ago_s`` to ``ago_s - 30`` seconds ago (charges on the connector must not overlap)."""
    async with raw_connect(borne, station_id, "ocpp1.6") as raw:
        assert (await raw.result("BootNotification", BOOT16))["status"] == "Accepted"
        await raw.result(
            "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": "Preparing"},
        )
        authorized = await raw.result("Authorize", {"idTag": id_tag})
        assert authorized["idTagInfo"]["status"] == "Accepted", authorized
        start = await raw.result(
            "StartTransaction",
            {"connectorId": 1, "idTag": id_tag, "meterStart": 1000, "timestamp": now_iso(-ago_s)},
        )
        assert start["idTagInfo"]["status"] == "Accepted", start
        await raw.result(
            "StopTransaction",
            {
                "transactionId": start["transactionId"],
                "idTag": id_tag,
                "meterStop": 3500,
                "timestamp": now_iso(30 - ago_s),
                "reason": "Local",
            },
        )


async def _sessions_of(borne: BorneServer, version: str, token_c: str) -> list[str]:
    """The partner's session ids once its charge shows (sessions are written after the
    transaction, by a subscriber)."""
    auth = "Token " + base64.b64encode(token_c.encode()).decode()
    url = f"{borne.api_url}/ocpi/{version}/cpo/sessions"
    async with httpx.AsyncClient(timeout=10) as http:
        for _ in range(100):
            data = (await http.get(url, headers={"Authorization": auth})).json()["data"]
            if data:
                return [str(s["id"]) for s in data]
            await asyncio.sleep(0.05)
    raise AssertionError(f"the {version} partner's charge never became an OCPI session")


async def _seed(bg: BackgroundBorne, db_url: str) -> Seed:
    borne = await start_server(db_url, ocpi_request_timeout_s=2)
    bg.server = borne
    station_id = unique_id("CONTRACT-CS")
    async with borne.api() as api:
        location_id, evse_uid, tariff_id = await _site(api, station_id)
        token_a = await _partner(api, "Never registered")
        tokens_a = {v: await _partner(api, f"Contract eMSP {v}") for v in VERSIONS}
    token_c: dict[str, str] = {}
    parties: dict[str, tuple[str, str]] = {}
    for n, version in enumerate(VERSIONS):
        peer = EmspPeer(country_code="DE", party_id=f"EC{n}", name=f"Contract eMSP {version}")
        await peer.start()
        bg.peers.append(peer)
        await peer.register_with(borne.ocpi_versions_url, tokens_a[version], version)
        assert peer.client_token is not None
        token_c[version] = peer.client_token
        parties[version] = (peer.country_code, peer.party_id)
    # One finished charge per peer, with a token it pushed: each version has a Session and a
    # CDR of its own partner to serve.
    token_uids = {v: unique_id("RFID")[:36] for v in VERSIONS}
    for n, (version, peer) in enumerate(zip(VERSIONS, bg.peers, strict=True)):
        await peer.push_token(peer.make_token(token_uids[version], whitelist="ALWAYS"))
        await _charge(borne, station_id, token_uids[version], ago_s=70 - 35 * n)
    session_ids = {v: await _sessions_of(borne, v, token_c[v]) for v in VERSIONS}
    return Seed(
        api_url=borne.api_url,
        session_ids=session_ids,
        token_c=token_c,
        token_a=token_a,
        location_id=location_id,
        evse_uid=evse_uid,
        connector_id="1",
        tariff_id=tariff_id,
        token_uid=token_uids,
        peer_party=parties,
    )


async def _teardown(bg: BackgroundBorne) -> None:
    for peer in bg.peers:
        await peer.stop()
        await peer.aclose()
    if bg.server is not None:
        await stop_server(bg.server)


def _backends() -> list[Any]:
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]


@pytest.fixture(scope="module", params=_backends())
def contract_backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "postgres" and not PG_URL:
        if os.environ.get("BORNE_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail("BORNE_TEST_REQUIRE_POSTGRES=1 but BORNE_TEST_DATABASE_URL is not set")
        pytest.skip("PostgreSQL suite off: set BORNE_TEST_DATABASE_URL to run it")
    return name


@pytest.fixture(scope="module")
def borne_seed(
    contract_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[BackgroundBorne, Seed]]:
    """Borne serving OCPI on loopback with seeded data, for every test of a module."""
    postgres = contract_backend == "postgres"
    db_url = (
        PG_URL
        if postgres
        else f"sqlite+aiosqlite:///{Path(tmp_path_factory.mktemp('contract')) / 'borne.db'}"
    )
    bg = BackgroundBorne()
    try:
        bg.run(_create_schema(db_url, postgres))
        seed = bg.run(_seed(bg, db_url))
        yield bg, seed
    finally:
        try:
            bg.run(_teardown(bg))
        finally:
            bg.close()
