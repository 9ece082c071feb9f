"""OCPI Locations, CPO sender side, on a real database: crawl with pagination while locations
are added (R31), date windows, objects, 404s with 2003, token A refused (R28), live status;
and the push subscriber's outbox rows."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

import borne.roaming.models  # noqa: F401  (partner tables for create_all)
from borne.core.deps import Deps
from borne.locations import service as locations
from borne.locations.events import LocationChanged
from borne.locations.service import ConnectorSpec
from borne.ocpi.client import OcpiClient
from borne.ocpi.outbox_models import OcpiOutboxRow
from borne.ocpi.party import Party, PartyRole
from borne.ocpi.server import create_ocpi_app
from borne.roaming import locations_api
from borne.roaming.config import RoamingConfig, RoamingContext
from borne.roaming.locations_push import LocationsPusher
from borne.roaming.models import Partner, PartnerRole
from borne.stations import admin as stations_admin
from borne.stations import service as stations
from borne.stations.events import StationStatusChanged
from borne.stations.models import Station

TOKEN_C = "token-c-registered"
TOKEN_A = "token-a-pending"


class Authenticator:
    async def authenticate(self, tokens: Sequence[str]) -> Party | None:
        roles = (PartyRole("DE", "EMS", "EMSP"),)
        for token in tokens:
            if token in (TOKEN_C, TOKEN_A):
                registered = token == TOKEN_C
                return Party(1, "peer", roles, registered, "2.2.1" if registered else None, True)
        return None


def auth(token: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


@pytest.fixture
async def ocpi(deps: Deps) -> AsyncIterator[httpx.AsyncClient]:
    app = create_ocpi_app(routers=[locations_api.router], authenticator=Authenticator())
    client = OcpiClient()
    app.state.roaming = RoamingContext(
        db=deps.db,
        clock=deps.clock,
        config=RoamingConfig(
            base_url="http://test/ocpi", country_code="NL", party_id="BRN", business_name="B"
        ),
        client=client,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=auth(TOKEN_C)
    ) as http:
        yield http
    await client.aclose()


async def add_location(deps: Deps, location_id: str, *, publish: bool = True) -> None:
    async with deps.db.unit_of_work() as uow:
        await locations.create_location(
            uow,
            location_id=location_id,
            now=deps.clock.now(),
            country_code="NL",
            party_id="BRN",
            address="Stationsplein 1",
            city="Utrecht",
            country="NLD",
            latitude="52.089444",
            longitude="5.110278",
            time_zone="Europe/Amsterdam",
            publish=publish,
            ocpi_extra={"facilities": ["CAFE"]},
        )
        await uow.commit()
    await asyncio.sleep(0.002)  # distinct last_updated, so "added later" sorts later


async def add_station(deps: Deps, location_id: str, station_id: str, uid: str) -> None:
    async with deps.db.unit_of_work() as uow:
        now = deps.clock.now()
        await stations_admin.create_station(uow, station_id=station_id, now=now, security_profile=0)
        await locations.attach_station(uow, location_id=location_id, station_id=station_id, now=now)
        await locations.put_evse(
            uow,
            location_id=location_id,
            station_id=station_id,
            evse_id=1,
            evse_uid=uid,
            connectors=[ConnectorSpec(1, "IEC_62196_T2", "SOCKET", "AC_3_PHASE", 230, 16)],
            now=now,
            ocpi_extra={"capabilities": ["RFID_READER"]},
        )
        await uow.commit()


async def crawl(http: httpx.AsyncClient, url: str, during: Any = None) -> list[str]:
    seen: list[str] = []
    pages = 0
    while url:
        r = await http.get(url)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status_code"] == 1000, body
        seen += [loc["id"] for loc in body["data"]]
        assert int(r.headers["X-Limit"]) == 2
        pages += 1
        if during is not None and pages == 1:
            await during()
        link = r.headers.get("Link")
        url = link[1 : link.index(">")] if link else ""
    return seen


async def test_crawl_returns_every_location_once_while_some_are_added(
    deps: Deps, ocpi: httpx.AsyncClient
) -> None:
    for i in range(5):
        await add_location(deps, f"LOC-{i}")
    await add_location(deps, "HIDDEN", publish=False)

    async def add_more() -> None:
        await add_location(deps, "LOC-new-1")
        await add_location(deps, "LOC-new-2")

    seen = await crawl(ocpi, "/2.2.1/cpo/locations?limit=2", during=add_more)
    assert seen == [f"LOC-{i}" for i in range(5)] + ["LOC-new-1", "LOC-new-2"]
    r = await ocpi.get("/2.3.0/cpo/locations", params={"limit": 1})
    assert r.headers["X-Total-Count"] == "7"
    assert "limit=1" in r.headers["Link"] and "offset=1" in r.headers["Link"]


async def test_date_windows_tile(deps: Deps, ocpi: httpx.AsyncClient) -> None:
    for i in range(4):
        await add_location(deps, f"LOC-{i}")
    r = await ocpi.get("/2.2.1/cpo/locations")
    stamps = {loc["id"]: loc["last_updated"] for loc in r.json()["data"]}
    async with deps.db.unit_of_work() as uow:
        views = await locations.get_locations(uow.session, ["LOC-2"])
    cut = views[0].updated_at
    fmt = cut.isoformat().replace("+00:00", "Z")
    before = await ocpi.get("/2.2.1/cpo/locations", params={"date_to": fmt})
    after = await ocpi.get("/2.2.1/cpo/locations", params={"date_from": fmt})
    assert [loc["id"] for loc in before.json()["data"]] == ["LOC-0", "LOC-1"]
    assert [loc["id"] for loc in after.json()["data"]] == ["LOC-2", "LOC-3"]
    assert set(stamps) == {"LOC-0", "LOC-1", "LOC-2", "LOC-3"}
    bad = await ocpi.get("/2.2.1/cpo/locations", params={"date_from": "yesterday"})
    assert bad.status_code == 200 and bad.json()["status_code"] == 2001


async def test_objects_status_and_not_found(deps: Deps, ocpi: httpx.AsyncClient) -> None:
    await add_location(deps, "LOC-1")
    await add_station(deps, "LOC-1", "CP-1", "EVSE-1")
    await add_location(deps, "HIDDEN", publish=False)

    r = await ocpi.get("/2.3.0/cpo/locations/LOC-1")
    assert r.status_code == 200, r.text
    loc = r.json()["data"]
    assert loc["facilities"] == ["CAFE"] and loc["opening_times"] == {"twentyfourseven": True}
    evse = loc["evses"][0]
    assert (evse["uid"], evse["evse_id"], evse["status"]) == ("EVSE-1", "NL*BRN*ECP1*1", "UNKNOWN")
    assert "RFID_READER" in evse["capabilities"]

    # the station connects and reports: its status shows and last_updated moves
    async with deps.db.unit_of_work() as uow:
        now = deps.clock.now()
        await uow.session.execute(
            update(Station).where(Station.station_id == "CP-1").values(connected_at=now)
        )
        await stations.record_connector_status(
            uow,
            station_id="CP-1",
            evse_id=1,
            connector_id=1,
            status="Occupied",
            timestamp=now,
            received_at=now,
        )
        await uow.commit()
    r = await ocpi.get("/2.2.1/cpo/locations/LOC-1/EVSE-1")
    assert r.json()["data"]["status"] == "CHARGING"
    assert r.json()["data"]["last_updated"] >= loc["last_updated"]
    r = await ocpi.get("/2.2.1/cpo/locations/LOC-1/evse-1/1")
    assert r.json()["data"]["standard"] == "IEC_62196_T2"

    for path in (
        "/2.2.1/cpo/locations/NOPE",
        "/2.2.1/cpo/locations/HIDDEN",
        "/2.2.1/cpo/locations/LOC-1/NOPE",
        "/2.2.1/cpo/locations/LOC-1/EVSE-1/9",
    ):
        r = await ocpi.get(path)
        assert r.status_code == 404 and r.json()["status_code"] == 2003, (path, r.text)
    r = await ocpi.get("/9.9/cpo/locations")
    assert r.status_code == 404

    for token in (TOKEN_A, "nobody"):
        r = await ocpi.get("/2.2.1/cpo/locations", headers=auth(token))
        assert r.status_code == 401 and r.json()["status_code"] == 2000


async def _receiver(deps: Deps) -> int:
    async with deps.db.unit_of_work() as uow:
        now = deps.clock.now()
        partner = Partner(
            name="peer",
            status="registered",
            their_token="their-token",
            version="2.3.0",
            endpoints=[
                {"identifier": "locations", "role": "RECEIVER", "url": "http://peer/locations"}
            ],
            created_at=now,
            updated_at=now,
        )
        uow.session.add(partner)
        await uow.session.flush()
        partner_id = partner.id
        uow.session.add(
            PartnerRole(country_code="DE", party_id="EMS", role="EMSP", partner_id=partner_id)
        )
        await uow.commit()
        return partner_id


async def test_pushes_go_to_the_outbox(deps: Deps) -> None:
    partner_id = await _receiver(deps)
    await add_location(deps, "LOC-1")
    await add_station(deps, "LOC-1", "CP-1", "EVSE-1")
    await add_location(deps, "HIDDEN", publish=False)
    pusher = LocationsPusher(deps.db, deps.clock)

    await pusher.on_location_changed(LocationChanged("LOC-1", "updated"))
    await pusher.on_location_changed(LocationChanged("HIDDEN", "updated"))
    now = datetime.now(UTC)
    await pusher.on_status_changed(StationStatusChanged("CP-1", 1, 1, "Available", None, None, now))
    await pusher.on_location_changed(
        LocationChanged("LOC-1", "evse_changed", "CP-1", 1, evse_uids=("OLD-UID",))
    )
    async with deps.db.unit_of_work() as uow:
        rows = list(await uow.session.scalars(select(OcpiOutboxRow).order_by(OcpiOutboxRow.id)))
        got = [(r.partner_id, r.method, r.path, r.key) for r in rows]
        targets = {(r.module, r.interface) for r in rows}
        bodies = [(r.body or "").replace(" ", "") for r in rows]
    key = "locations:NL/BRN/LOC-1"
    assert got == [
        (partner_id, "PUT", "/NL/BRN/LOC-1", key),
        (partner_id, "PATCH", "/NL/BRN/LOC-1/EVSE-1", key),
        (partner_id, "PATCH", "/NL/BRN/LOC-1/OLD-UID", key),
        (partner_id, "PUT", "/NL/BRN/LOC-1", key),
    ]
    assert targets == {("locations", "RECEIVER")}
    assert '"status":"UNKNOWN"' in bodies[1]  # the station never connected
    assert '"status":"REMOVED"' in bodies[2]
    assert '"tariff_ids":[]' in bodies[0] and '"RFID_READER"' in bodies[0]
