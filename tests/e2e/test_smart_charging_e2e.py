"""Smart charging end to end: the ``ocpp`` package's ChargePoint (1.6 and 2.0.1) over a real
socket against the real server, driven through the operator API.

A profile set through the API reaches the station in its version's form and is stored once the
station accepts it; an invalid profile is refused with 422 before anything is sent;
GetCompositeSchedule and ClearChargingProfile make the round trip; on 2.0.1, GetChargingProfiles
is answered by ReportChargingProfiles parts, and NotifyChargingLimit, ClearedChargingLimit,
NotifyEVChargingNeeds and NotifyEVChargingSchedule are stored and listed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from helpers import (
    BorneServer,
    Station16,
    Station201,
    create_id_token,
    create_station,
    now_iso,
    open_ws,
    start_server,
    stop_server,
    unique_id,
)
from ocpp.routing import on
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

START = "2026-01-01T00:00:00+00:00"
VERSIONS = ["1.6", "2.0.1"]


@pytest.fixture
async def borne(db_url: str) -> AsyncIterator[BorneServer]:
    server = await start_server(db_url)
    try:
        yield server
    finally:
        await stop_server(server)


class Smart16(Station16):
    @on("SetChargingProfile")
    def on_set_profile(self, **kw: Any) -> Any:
        return self._reply("SetChargingProfile", kw, {"status": "Accepted"})

    @on("ClearChargingProfile")
    def on_clear_profile(self, **kw: Any) -> Any:
        return self._reply("ClearChargingProfile", kw, {"status": "Accepted"})

    @on("GetCompositeSchedule")
    def on_composite(self, **kw: Any) -> Any:
        answer = {
            "status": "Accepted",
            "connector_id": kw["connector_id"],
            "schedule_start": START,
            "charging_schedule": {
                "charging_rate_unit": "A",
                "duration": kw["duration"],
                "charging_schedule_period": [
                    {"start_period": 0, "limit": 16.0},
                    {"start_period": 600, "limit": 10.0},
                ],
            },
        }
        return self._reply("GetCompositeSchedule", kw, answer)


class Smart201(Station201):
    @on("SetChargingProfile")
    def on_set_profile(self, **kw: Any) -> Any:
        return self._reply("SetChargingProfile", kw, {"status": "Accepted"})

    @on("ClearChargingProfile")
    def on_clear_profile(self, **kw: Any) -> Any:
        return self._reply("ClearChargingProfile", kw, {"status": "Accepted"})

    @on("GetChargingProfiles")
    def on_get_profiles(self, **kw: Any) -> Any:
        return self._reply("GetChargingProfiles", kw, {"status": "Accepted"})

    @on("GetCompositeSchedule")
    def on_composite(self, **kw: Any) -> Any:
        answer = {
            "status": "Accepted",
            "schedule": {
                "evse_id": kw["evse_id"],
                "duration": kw["duration"],
                "schedule_start": START,
                "charging_rate_unit": "A",
                "charging_schedule_period": [
                    {"start_period": 0, "limit": 16.0},
                    {"start_period": 600, "limit": 10.0},
                ],
            },
        }
        return self._reply("GetCompositeSchedule", kw, answer)


Station = Smart16 | Smart201


@contextlib.asynccontextmanager
async def online(borne: BorneServer, ocpp: str) -> AsyncIterator[tuple[Station, str]]:
    """A created, connected and booted station of ``ocpp``'s version."""
    station_id = unique_id("SC")
    async with borne.api() as api:
        await create_station(api, station_id)
    ws = await open_ws(borne, station_id, "ocpp1.6" if ocpp == "1.6" else "ocpp2.0.1")
    cp: Station = (Smart16 if ocpp == "1.6" else Smart201)(station_id, ws)
    task = asyncio.get_running_loop().create_task(cp.start())
    try:
        await cp.boot()
        yield cp, station_id
    finally:
        task.cancel()
        await ws.close()
        await asyncio.gather(task, return_exceptions=True)


def profile_body(evse_id: int = 1, **profile: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "id": 0,
        "stack_level": 1,
        "purpose": "TxDefaultProfile",
        "kind": "Absolute",
        "schedules": [
            {
                "charging_rate_unit": "A",
                "start_schedule": START,
                "periods": [{"start_period": 0, "limit": 16}, {"start_period": 900, "limit": 8}],
            }
        ],
    }
    p.update(profile)
    return {"evse_id": evse_id, "charging_profile": p}


async def stored(api: httpx.AsyncClient, station_id: str) -> list[dict[str, Any]]:
    r = await api.get(f"/stations/{station_id}/charging-profiles")
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


@pytest.mark.parametrize("ocpp", VERSIONS)
async def test_set_profile_reaches_the_station_and_is_stored(borne: BorneServer, ocpp: str) -> None:
    async with online(borne, ocpp) as (cp, sid), borne.api() as api:
        r = await api.post(f"/stations/{sid}/charging-profiles", json=profile_body(1))
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "Accepted"

        got = await cp.received("SetChargingProfile")
        if ocpp == "1.6":
            assert got["connector_id"] == 1
            sent = got["cs_charging_profiles"]
            assert sent["charging_profile_id"] == 1
            schedule = sent["charging_schedule"]
        else:
            assert got["evse_id"] == 1
            sent = got["charging_profile"]
            assert sent["id"] == 1
            [schedule] = sent["charging_schedule"]
        assert sent["charging_profile_purpose"] == "TxDefaultProfile"
        assert sent["stack_level"] == 1
        assert [p["limit"] for p in schedule["charging_schedule_period"]] == [16, 8]

        [row] = await stored(api, sid)
        assert (row["profile_id"], row["evse_id"], row["stack_level"]) == (1, 1, 1)

        # Same EVSE, stack level and purpose: the station replaces it, so does Borne.
        await api.post(f"/stations/{sid}/charging-profiles", json=profile_body(1, id=7))
        await cp.received("SetChargingProfile")
        assert [r["profile_id"] for r in await stored(api, sid)] == [7]


@pytest.mark.parametrize("ocpp", VERSIONS)
async def test_invalid_profile_is_refused_before_anything_is_sent(
    borne: BorneServer, ocpp: str
) -> None:
    async with online(borne, ocpp) as (cp, sid), borne.api() as api:
        for b in [
            profile_body(1, kind="Recurring"),  # no recurrencyKind
            profile_body(1, kind="Relative"),  # a start schedule
            profile_body(0, purpose="TxProfile"),  # no transaction, whole station
            profile_body(2, purpose="ChargePointMaxProfile"),  # max profile on one EVSE
        ]:
            r = await api.post(f"/stations/{sid}/charging-profiles", json=b)
            assert r.status_code == 422, r.text
            assert r.json()["error"]["details"]["errors"]
        await asyncio.sleep(0.2)
        assert cp.calls["SetChargingProfile"] == []
        assert await stored(api, sid) == []


@pytest.mark.parametrize("ocpp", VERSIONS)
async def test_composite_schedule_round_trip(borne: BorneServer, ocpp: str) -> None:
    async with online(borne, ocpp) as (cp, sid), borne.api() as api:
        r = await api.get(
            f"/stations/{sid}/composite-schedule",
            params={"evse_id": 1, "duration": 3600, "charging_rate_unit": "A"},
        )
        assert r.status_code == 200, r.text
        got = await cp.received("GetCompositeSchedule")
        assert got["duration"] == 3600 and got["charging_rate_unit"] == "A"
        assert got["connector_id" if ocpp == "1.6" else "evse_id"] == 1
        out = r.json()
        assert out["status"] == "Accepted" and out["evse_id"] == 1
        assert out["charging_rate_unit"] == "A" and out["duration"] == 3600
        assert [(p["start_period"], p["limit"]) for p in out["periods"]] == [(0, 16), (600, 10)]


@pytest.mark.parametrize("ocpp", VERSIONS)
async def test_clear_profile_round_trip(borne: BorneServer, ocpp: str) -> None:
    async with online(borne, ocpp) as (cp, sid), borne.api() as api:
        await api.post(f"/stations/{sid}/charging-profiles", json=profile_body(1, id=1))
        await api.post(f"/stations/{sid}/charging-profiles", json=profile_body(2, id=2))
        r = await api.delete(f"/stations/{sid}/charging-profiles", params={"evse_id": 2})
        assert r.status_code == 200 and r.json()["status"] == "Accepted"
        got = await cp.received("ClearChargingProfile")
        if ocpp == "1.6":
            assert got == {"connector_id": 2}
        else:
            assert got == {"charging_profile_criteria": {"evse_id": 2}}
        assert [p["profile_id"] for p in await stored(api, sid)] == [1]

        await api.delete(f"/stations/{sid}/charging-profiles", params={"profile_id": 1})
        got = await cp.received("ClearChargingProfile")
        assert got == ({"id": 1} if ocpp == "1.6" else {"charging_profile_id": 1})
        assert await stored(api, sid) == []


def _wire_profile(pid: int) -> dict[str, Any]:
    return {
        "id": pid,
        "stack_level": 0,
        "charging_profile_purpose": "TxDefaultProfile",
        "charging_profile_kind": "Relative",
        "charging_schedule": [
            {
                "id": 1,
                "charging_rate_unit": "W",
                "charging_schedule_period": [{"start_period": 0, "limit": 7400.0}],
            }
        ],
    }


async def test_get_charging_profiles_report_parts_are_stored(borne: BorneServer) -> None:
    async with online(borne, "2.0.1") as (cp, sid), borne.api() as api:
        r = await api.post(f"/stations/{sid}/charging-profiles/report", json={"evse_id": 1})
        assert r.status_code == 200, r.text
        request_id = r.json()["request_id"]
        got = await cp.received("GetChargingProfiles")
        assert got["request_id"] == request_id and got["evse_id"] == 1

        for pids, tbc in [([3, 4], True), ([5], False)]:
            await cp.call(
                call201.ReportChargingProfiles(
                    request_id=request_id,
                    charging_limit_source="CSO",
                    evse_id=1,
                    charging_profile=[_wire_profile(p) for p in pids],
                    tbc=tbc,
                )
            )
        items = (await api.get(f"/stations/{sid}/charging-profiles/reported")).json()["items"]
        assert [(i["profile_id"], i["evse_id"], i["charging_limit_source"]) for i in items] == [
            (3, 1, "CSO"),
            (4, 1, "CSO"),
            (5, 1, "CSO"),
        ]
        assert items[0]["profile"]["chargingSchedule"][0]["chargingSchedulePeriod"] == [
            {"startPeriod": 0, "limit": 7400.0}
        ]


async def test_get_charging_profiles_on_16_is_refused(borne: BorneServer) -> None:
    async with online(borne, "1.6") as (_, sid), borne.api() as api:
        r = await api.post(f"/stations/{sid}/charging-profiles/report", json={})
        assert r.status_code == 422


async def test_limits_and_ev_needs_sent_by_the_station_are_stored(borne: BorneServer) -> None:
    async with online(borne, "2.0.1") as (cp, sid), borne.api() as api:
        schedule = {
            "id": 1,
            "charging_rate_unit": "W",
            "charging_schedule_period": [{"start_period": 0, "limit": 11000.0}],
        }
        await cp.call(
            call201.NotifyChargingLimit(
                charging_limit={"charging_limit_source": "EMS", "is_grid_critical": False},
                evse_id=1,
                charging_schedule=[schedule],
            )
        )
        await cp.call(call201.ClearedChargingLimit(charging_limit_source="EMS", evse_id=1))
        needs = await cp.call(
            call201.NotifyEVChargingNeeds(
                evse_id=1,
                charging_needs={
                    "requested_energy_transfer": "DC",
                    "dc_charging_parameters": {
                        "ev_max_current": 200,
                        "ev_max_voltage": 800,
                        "energy_amount": 45000,
                        "state_of_charge": 20,
                    },
                },
            )
        )
        assert needs.status == "Accepted"
        ev_schedule = await cp.call(
            call201.NotifyEVChargingSchedule(time_base=START, evse_id=1, charging_schedule=schedule)
        )
        assert ev_schedule.status == "Accepted"

        limits = (await api.get(f"/stations/{sid}/charging-limits")).json()["items"]
        assert [(n["kind"], n["limit_source"]) for n in limits] == [
            ("cleared_charging_limit", "EMS"),
            ("charging_limit", "EMS"),
        ]
        [need] = (await api.get(f"/stations/{sid}/ev-charging-needs")).json()["items"]
        dc = need["payload"]["chargingNeeds"]["dcChargingParameters"]
        assert (need["evse_id"], dc["evMaxVoltage"], dc["stateOfCharge"]) == (1, 800, 20)
        [chosen] = (await api.get(f"/stations/{sid}/ev-charging-schedules")).json()["items"]
        assert chosen["payload"]["evseId"] == 1


async def test_a_tx_profile_lives_as_long_as_its_transaction(borne: BorneServer) -> None:
    async with online(borne, "1.6") as (cp, sid), borne.api() as api:
        await create_id_token(api, "TAG-SC")
        start = await cp.call(
            call16.StartTransaction(
                connector_id=1, id_tag="TAG-SC", meter_start=0, timestamp=now_iso(-60)
            )
        )
        tx_id = start.transaction_id
        r = await api.post(
            f"/stations/{sid}/charging-profiles",
            json=profile_body(
                1,
                purpose="TxProfile",
                kind="Relative",
                transaction_id=str(tx_id),
                schedules=[
                    {"charging_rate_unit": "A", "periods": [{"start_period": 0, "limit": 10}]}
                ],
            ),
        )
        assert r.status_code == 200, r.text
        got = await cp.received("SetChargingProfile")
        assert got["cs_charging_profiles"]["transaction_id"] == tx_id
        assert [p["transaction_id"] for p in await stored(api, sid)] == [str(tx_id)]

        await cp.call(
            call16.StopTransaction(
                transaction_id=tx_id, meter_stop=5000, timestamp=now_iso(-1), id_tag="TAG-SC"
            )
        )
        for _ in range(100):  # the clean-up follows the committed TransactionEnded event
            if not await stored(api, sid):
                break
            await asyncio.sleep(0.05)
        assert await stored(api, sid) == []
