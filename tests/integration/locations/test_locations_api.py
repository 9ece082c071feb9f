"""The locations operator API: CRUD, stations at a location, EVSE descriptors, time zone."""

from __future__ import annotations

from typing import Any

import httpx

from borne.core.deps import Deps
from borne.locations.service import location_time_zone

API = "/api/v1"


def location(location_id: str = "LOC-1", **fields: Any) -> dict[str, Any]:
    return {
        "id": location_id,
        "country_code": "fr",
        "party_id": "brn",
        "name": "Gare",
        "address": "1 place de la Gare",
        "city": "Lyon",
        "postal_code": "69002",
        "country": "fra",
        "latitude": "45.760696",
        "longitude": "4.859804",
        "time_zone": "Europe/Paris",
        **fields,
    }


def evse(uid: str, *connectors: int) -> dict[str, Any]:
    return {
        "evse_uid": uid,
        "physical_reference": "A1",
        "connectors": [
            {
                "connector_id": c,
                "standard": "IEC_62196_T2_COMBO",
                "format": "CABLE",
                "power_type": "DC",
                "max_voltage": 920,
                "max_amperage": 400,
                "max_electric_power": 150000,
            }
            for c in connectors
        ],
    }


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    error: dict[str, Any] = body["error"]
    return error


async def station(api: httpx.AsyncClient, station_id: str) -> None:
    r = await api.post(f"{API}/stations", json={"station_id": station_id, "security_profile": 0})
    assert r.status_code == 201, r.text


async def test_crud(api: httpx.AsyncClient) -> None:
    r = await api.post(f"{API}/locations", json=location())
    assert r.status_code == 201, r.text
    assert r.headers["location"] == "/api/v1/locations/LOC-1"
    created = r.json()
    assert (created["country_code"], created["party_id"], created["country"]) == (
        "FR",
        "BRN",
        "FRA",
    )
    assert created["publish"] is True and created["stations"] == []
    error_of(await api.post(f"{API}/locations", json=location()), 409, "conflict")

    r = await api.patch(f"{API}/locations/LOC-1", json={"name": None, "publish": False})
    assert r.status_code == 200, r.text
    assert r.json()["name"] is None and r.json()["publish"] is False
    assert r.json()["city"] == "Lyon"

    await api.post(f"{API}/locations", json=location("LOC-0"))
    listed = (await api.get(f"{API}/locations", params={"limit": 1})).json()
    assert listed["total"] == 2 and [x["id"] for x in listed["items"]] == ["LOC-0"]

    assert (await api.delete(f"{API}/locations/LOC-1")).status_code == 204
    error_of(await api.get(f"{API}/locations/LOC-1"), 404, "not_found")
    error_of(await api.delete(f"{API}/locations/LOC-1"), 404, "not_found")


async def test_invalid_input_is_refused_precisely(api: httpx.AsyncClient) -> None:
    r = await api.post(f"{API}/locations", json=location(time_zone="Europe/Atlantis"))
    error = error_of(r, 422, "invalid_input")
    assert error["details"]["errors"] == [
        {"field": "time_zone", "reason": "not an IANA time zone name"}
    ]
    r = await api.post(f"{API}/locations", json=location(latitude="95.000000", country="F1X"))
    fields = {e["field"] for e in error_of(r, 422, "invalid_input")["details"]["errors"]}
    assert fields == {"latitude", "country"}
    r = await api.post(f"{API}/locations", json=location(latitude="45.7"))
    error_of(r, 422, "validation_error")
    r = await api.post(f"{API}/locations", json=location("bad/id"))
    error_of(r, 422, "validation_error")
    r = await api.post(f"{API}/locations", json=location(time_zone="localtime"))
    error_of(r, 422, "invalid_input")
    await api.post(f"{API}/locations", json=location())
    r = await api.patch(f"{API}/locations/LOC-1", json={"city": None})
    assert error_of(r, 422, "invalid_input")["details"]["errors"][0]["field"] == "city"
    r = await api.patch(f"{API}/locations/LOC-1", json={"time_zone": "Nowhere/City"})
    error_of(r, 422, "invalid_input")
    assert (await api.get(f"{API}/locations")).json()["total"] == 1
    assert (await api.get(f"{API}/locations/LOC-1")).json()["time_zone"] == "Europe/Paris"


async def test_stations_evses_and_time_zone(api: httpx.AsyncClient, deps: Deps) -> None:
    await station(api, "CP-1")
    await station(api, "CP-2")
    await api.post(f"{API}/locations", json=location())
    await api.post(f"{API}/locations", json=location("LOC-2", time_zone="Asia/Tokyo"))

    async with deps.db.unit_of_work() as uow:
        assert await location_time_zone(uow.session, "CP-1") == "UTC"

    r = await api.put(f"{API}/locations/LOC-1/stations/CP-1")
    assert r.status_code == 200 and [s["station_id"] for s in r.json()["stations"]] == ["CP-1"]
    error_of(await api.put(f"{API}/locations/LOC-1/stations/NOPE"), 404, "not_found")
    error_of(await api.put(f"{API}/locations/NOPE/stations/CP-1"), 404, "not_found")

    r = await api.put(f"{API}/locations/LOC-1/stations/CP-1/evses/1", json=evse("FR*BRN*E1", 1, 2))
    assert r.status_code == 200, r.text
    assert [c["max_power_w"] for c in r.json()["connectors"]] == [150000, 150000]
    r = await api.put(f"{API}/locations/LOC-1/stations/CP-1/evses/1", json=evse("FR*BRN*E1", 1))
    assert [c["connector_id"] for c in r.json()["connectors"]] == [1]  # replaced
    r = await api.put(f"{API}/locations/LOC-1/stations/CP-2/evses/1", json=evse("X", 1))
    error_of(r, 404, "not_found")  # CP-2 is not at LOC-1
    await api.put(f"{API}/locations/LOC-1/stations/CP-2")
    r = await api.put(f"{API}/locations/LOC-1/stations/CP-2/evses/1", json=evse("FR*BRN*E1", 1))
    error_of(r, 409, "conflict")  # EVSE uid already used
    r = await api.put(f"{API}/locations/LOC-1/stations/CP-2/evses/1", json=evse("E2"))
    error_of(r, 422, "validation_error")  # no connector
    bad = evse("E2", 1)
    bad["connectors"][0]["power_type"] = "AC_4_PHASE"
    error_of(
        await api.put(f"{API}/locations/LOC-1/stations/CP-2/evses/1", json=bad),
        422,
        "validation_error",
    )

    detail = (await api.get(f"{API}/locations/LOC-1")).json()
    assert [(s["station_id"], len(s["evses"])) for s in detail["stations"]] == [
        ("CP-1", 1),
        ("CP-2", 0),
    ]
    async with deps.db.unit_of_work() as uow:
        assert await location_time_zone(uow.session, "CP-1") == "Europe/Paris"

    # moving a station keeps its EVSE descriptors
    assert (await api.put(f"{API}/locations/LOC-2/stations/CP-1")).status_code == 200
    moved = (await api.get(f"{API}/locations/LOC-2")).json()
    assert moved["stations"][0]["evses"][0]["evse_uid"] == "FR*BRN*E1"
    async with deps.db.unit_of_work() as uow:
        assert await location_time_zone(uow.session, "CP-1") == "Asia/Tokyo"
    error_of(await api.delete(f"{API}/locations/LOC-1/stations/CP-1"), 404, "not_found")

    r = await api.delete(f"{API}/locations/LOC-2/stations/CP-1/evses/1")
    assert r.status_code == 204
    error_of(await api.delete(f"{API}/locations/LOC-2/stations/CP-1/evses/1"), 404, "not_found")
    assert (await api.delete(f"{API}/locations/LOC-2/stations/CP-1")).status_code == 204
    # deleting a location detaches its stations; deleting a station detaches it
    assert (await api.delete(f"{API}/stations/CP-2")).status_code == 204
    assert (await api.get(f"{API}/locations/LOC-1")).json()["stations"] == []
