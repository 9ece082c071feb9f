"""Smart charging through the operator API and the station handlers, on SQLite and PostgreSQL:
validation before sending, stacking, clearing, composite schedules, reports and notices."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

import borne.smart_charging.models  # noqa: F401  (registers the tables)
from borne.api_context import ApiContext
from borne.app import create_app
from borne.core.deps import Deps
from borne.ocpp.context import CallContext, StationSessionState
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.router import Router
from borne.ocpp.versions import OcppVersion, models_of
from borne.smart_charging import api as smart_charging_api
from borne.smart_charging import ocpp_v201 as smart_charging_v201
from borne.smart_charging.subscribers import TxProfileJanitor
from borne.stations import admin
from borne.transactions.events import TransactionEnded
from fake_station import FakeStation

KEY = "test-operator-key-0123456789"
V16, V201 = OcppVersion.V16, OcppVersion.V201
START = "2026-01-01T00:00:00+00:00"


@pytest.fixture
async def client(deps: Deps) -> AsyncIterator[httpx.AsyncClient]:
    context = ApiContext(
        deps=deps,
        outbound=OcppOutbound(deps.registry),
        api_keys=[KEY],
        routers=[smart_charging_api.router],
    )
    transport = httpx.ASGITransport(app=create_app(context))
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://borne/api/v1",
        headers={"Authorization": f"Bearer {KEY}"},
    ) as c:
        yield c


async def station(
    deps: Deps, version: OcppVersion, answers: dict[str, Any], sid: str = "CP-1"
) -> FakeStation:
    async with deps.db.unit_of_work() as uow:
        await admin.create_station(uow, station_id=sid, now=datetime.now(UTC), security_profile=0)
        await uow.commit()
    fake = FakeStation(sid, version, answers)
    deps.registry.register(fake)
    return fake


def body(evse_id: int = 1, **profile: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "id": 1,
        "stack_level": 0,
        "purpose": "TxDefaultProfile",
        "kind": "Absolute",
        "schedules": [
            {
                "charging_rate_unit": "W",
                "start_schedule": START,
                "periods": [
                    {"start_period": 0, "limit": 11000},
                    {"start_period": 600, "limit": 7400},
                ],
            }
        ],
    }
    p.update(profile)
    return {"evse_id": evse_id, "charging_profile": p}


ACCEPTED = {"SetChargingProfile": {"status": "Accepted"}}


async def stored(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    r = await client.get("/stations/CP-1/charging-profiles", params=params)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def test_set_profile_on_16_sends_the_1_6_form_and_stores_it(
    client: httpx.AsyncClient, deps: Deps
) -> None:
    fake = await station(deps, V16, ACCEPTED)
    r = await client.post(
        "/stations/CP-1/charging-profiles",
        json=body(0, purpose="ChargingStationMaxProfile", stack_level=3),
    )

    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "Accepted" and out["profile_id"] == 1
    action, payload = fake.last
    assert action == "SetChargingProfile"
    assert payload["connectorId"] == 0
    sent = payload["csChargingProfiles"]
    assert sent["chargingProfileId"] == 1
    assert sent["chargingProfilePurpose"] == "ChargePointMaxProfile"
    assert sent["chargingSchedule"]["chargingSchedulePeriod"][1] == {
        "startPeriod": 600,
        "limit": 7400.0,
    }
    [row] = await stored(client)
    assert row["purpose"] == "ChargePointMaxProfile" and row["stack_level"] == 3
    assert row["profile"] == sent and row["ocpp_version"] == "ocpp1.6"


async def test_set_profile_on_201_sends_the_2_0_1_form(
    client: httpx.AsyncClient, deps: Deps
) -> None:
    fake = await station(deps, V201, ACCEPTED)
    r = await client.post(
        "/stations/CP-1/charging-profiles",
        json=body(2, purpose="TxProfile", transaction_id="tx-9", id=0),
    )

    assert r.status_code == 200, r.text
    _, payload = fake.last
    assert payload["evseId"] == 2
    sent = payload["chargingProfile"]
    assert sent["id"] == 1  # the station's first free id
    assert sent["transactionId"] == "tx-9"
    assert sent["chargingSchedule"][0]["id"] == 1
    assert r.json()["stored"]["transaction_id"] == "tx-9"


@pytest.mark.parametrize(
    ("profile", "evse_id", "fragment"),
    [
        ({"kind": "Recurring"}, 1, "recurrencyKind"),
        ({"kind": "Relative"}, 1, "no startSchedule"),
        ({"purpose": "TxProfile"}, 1, "needs the transaction"),
        ({"purpose": "ChargePointMaxProfile"}, 1, "evse_id must be 0"),
        ({"purpose": "ChargingStationExternalConstraints"}, 1, "K01.FR.22"),
        (
            {
                "schedules": [
                    {
                        "charging_rate_unit": "A",
                        "start_schedule": START,
                        "periods": [{"start_period": 60, "limit": 6}],
                    }
                ]
            },
            1,
            "starts at 0",
        ),
    ],
)
async def test_an_invalid_profile_is_refused_before_anything_is_sent(
    client: httpx.AsyncClient,
    deps: Deps,
    profile: dict[str, Any],
    evse_id: int,
    fragment: str,
) -> None:
    fake = await station(deps, V201, ACCEPTED)
    r = await client.post("/stations/CP-1/charging-profiles", json=body(evse_id, **profile))

    assert r.status_code == 422, r.text
    messages = [e["message"] for e in r.json()["error"]["details"]["errors"]]
    assert any(fragment in m for m in messages), messages
    assert fake.calls == []
    assert await stored(client) == []


async def test_a_bad_unit_is_refused_by_the_api(client: httpx.AsyncClient, deps: Deps) -> None:
    fake = await station(deps, V16, ACCEPTED)
    b = body()
    b["charging_profile"]["schedules"][0]["charging_rate_unit"] = "kW"
    r = await client.post("/stations/CP-1/charging-profiles", json=b)
    assert r.status_code == 422 and fake.calls == []


async def test_a_rejected_profile_is_not_stored(client: httpx.AsyncClient, deps: Deps) -> None:
    await station(deps, V201, {"SetChargingProfile": {"status": "Rejected"}})
    r = await client.post("/stations/CP-1/charging-profiles", json=body())
    assert r.status_code == 200
    assert r.json()["status"] == "Rejected" and r.json()["stored"] is None
    assert await stored(client) == []


@pytest.mark.parametrize("version", [V16, V201])
async def test_same_stack_level_and_purpose_replaces_the_older_profile(
    client: httpx.AsyncClient, deps: Deps, version: OcppVersion
) -> None:
    await station(deps, version, ACCEPTED)

    async def put(evse_id: int, **profile: Any) -> None:
        r = await client.post("/stations/CP-1/charging-profiles", json=body(evse_id, **profile))
        assert r.status_code == 200, r.text

    await put(1, id=1, stack_level=0)
    await put(1, id=2, stack_level=0)  # same EVSE, stack level, purpose: replaces id 1
    await put(1, id=3, stack_level=1)  # another stack level: both kept
    await put(2, id=4, stack_level=0)  # another EVSE: kept
    await put(0, id=5, stack_level=0, purpose="ChargePointMaxProfile")
    await put(0, id=6, stack_level=0, purpose="ChargingStationMaxProfile")  # same profile slot
    await put(2, id=3, stack_level=5)  # same id: moves

    rows = await stored(client)
    assert sorted((r["profile_id"], r["evse_id"], r["stack_level"]) for r in rows) == [
        (2, 1, 0),
        (3, 2, 5),
        (4, 2, 0),
        (6, 0, 0),
    ]
    assert [r["profile_id"] for r in await stored(client, evse_id=2)] == [4, 3]


@pytest.mark.parametrize("version", [V16, V201])
async def test_clear_by_criteria_and_by_id(
    client: httpx.AsyncClient, deps: Deps, version: OcppVersion
) -> None:
    fake = await station(
        deps, version, {**ACCEPTED, "ClearChargingProfile": {"status": "Accepted"}}
    )
    for pid, evse, level in [(1, 1, 0), (2, 1, 1), (3, 2, 0), (4, 2, 1)]:
        await client.post(
            "/stations/CP-1/charging-profiles", json=body(evse, id=pid, stack_level=level)
        )

    r = await client.delete(
        "/stations/CP-1/charging-profiles",
        params={"evse_id": 1, "purpose": "TxDefaultProfile", "stack_level": 1},
    )
    assert r.status_code == 200, r.text
    action, payload = fake.last
    assert action == "ClearChargingProfile"
    if version is V16:
        assert payload == {
            "connectorId": 1,
            "chargingProfilePurpose": "TxDefaultProfile",
            "stackLevel": 1,
        }
    else:
        assert payload == {
            "chargingProfileCriteria": {
                "evseId": 1,
                "chargingProfilePurpose": "TxDefaultProfile",
                "stackLevel": 1,
            }
        }
    assert sorted(r["profile_id"] for r in await stored(client)) == [1, 3, 4]

    await client.delete("/stations/CP-1/charging-profiles", params={"profile_id": 3})
    assert sorted(r["profile_id"] for r in await stored(client)) == [1, 4]

    await client.delete("/stations/CP-1/charging-profiles", params={"stack_level": 0})
    assert [r["profile_id"] for r in await stored(client)] == [4]


async def test_a_clear_the_station_does_not_know_forgets_the_record_too(
    client: httpx.AsyncClient, deps: Deps
) -> None:
    fake = await station(deps, V16, ACCEPTED)
    await client.post("/stations/CP-1/charging-profiles", json=body())
    fake.answers["ClearChargingProfile"] = {"status": "Unknown"}
    r = await client.delete("/stations/CP-1/charging-profiles", params={"profile_id": 1})
    assert r.json()["status"] == "Unknown"
    assert await stored(client) == []


async def test_composite_schedule_on_16(client: httpx.AsyncClient, deps: Deps) -> None:
    answer = {
        "status": "Accepted",
        "connectorId": 1,
        "scheduleStart": START,
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "duration": 3600,
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16, "numberPhases": 3}],
        },
    }
    fake = await station(deps, V16, {"GetCompositeSchedule": answer})
    r = await client.get(
        "/stations/CP-1/composite-schedule",
        params={"evse_id": 1, "duration": 3600, "charging_rate_unit": "A"},
    )
    assert r.status_code == 200, r.text
    assert fake.last == (
        "GetCompositeSchedule",
        {"connectorId": 1, "duration": 3600, "chargingRateUnit": "A"},
    )
    out = r.json()
    assert out["evse_id"] == 1 and out["charging_rate_unit"] == "A" and out["duration"] == 3600
    assert out["periods"] == [
        {"start_period": 0, "limit": 16.0, "number_phases": 3, "phase_to_use": None}
    ]


async def test_composite_schedule_on_201(client: httpx.AsyncClient, deps: Deps) -> None:
    answer = {
        "status": "Accepted",
        "schedule": {
            "evseId": 0,
            "duration": 600,
            "scheduleStart": START,
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 22000}],
        },
    }
    fake = await station(deps, V201, {"GetCompositeSchedule": answer})
    r = await client.get("/stations/CP-1/composite-schedule", params={"duration": 600})
    assert fake.last == ("GetCompositeSchedule", {"duration": 600, "evseId": 0})
    assert r.json()["periods"][0]["limit"] == 22000
    assert r.json()["schedule_start"].startswith("2026-01-01T00:00:00")


async def test_get_charging_profiles_is_2_0_1_only(client: httpx.AsyncClient, deps: Deps) -> None:
    fake = await station(deps, V16, {})
    r = await client.post("/stations/CP-1/charging-profiles/report", json={})
    assert r.status_code == 422 and fake.calls == []


def _context(deps: Deps, fake: FakeStation) -> CallContext:
    return CallContext(
        station_id=fake.station_id,
        version=V201,
        message_id=str(uuid.uuid4()),
        received_at=datetime.now(UTC),
        connection=fake,
        state=StationSessionState(),
    )


async def handle(deps: Deps, fake: FakeStation, action: str, payload: dict[str, Any]) -> Any:
    router = Router(V201)
    smart_charging_v201.register(router, deps)
    handler = router.handler_for(action)
    assert handler is not None
    request = models_of(V201).REQUESTS[action].model_validate(payload)
    return (await handler(_context(deps, fake), request)).to_payload()


def wire_profile(pid: int, purpose: str = "TxDefaultProfile") -> dict[str, Any]:
    return {
        "id": pid,
        "stackLevel": 0,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Relative",
        "chargingSchedule": [
            {
                "id": 1,
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 8}],
            }
        ],
    }


async def test_get_charging_profiles_then_report_parts_are_stored(
    client: httpx.AsyncClient, deps: Deps
) -> None:
    fake = await station(deps, V201, {"GetChargingProfiles": {"status": "Accepted"}})
    r = await client.post(
        "/stations/CP-1/charging-profiles/report",
        json={"request_id": 77, "purpose": "TxDefaultProfile", "limit_sources": ["CSO"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["request_id"] == 77
    assert fake.last == (
        "GetChargingProfiles",
        {
            "requestId": 77,
            "chargingProfile": {
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingLimitSource": ["CSO"],
            },
        },
    )
    part1 = {
        "requestId": 77,
        "chargingLimitSource": "CSO",
        "evseId": 1,
        "chargingProfile": [wire_profile(10), wire_profile(11)],
        "tbc": True,
    }
    part2 = {
        "requestId": 77,
        "chargingLimitSource": "EMS",
        "evseId": 0,
        "chargingProfile": [wire_profile(12, "ChargingStationExternalConstraints")],
    }
    assert await handle(deps, fake, "ReportChargingProfiles", part1) == {}
    assert await handle(deps, fake, "ReportChargingProfiles", part2) == {}

    items = (await client.get("/stations/CP-1/charging-profiles/reported")).json()["items"]
    assert [(i["evse_id"], i["profile_id"], i["charging_limit_source"]) for i in items] == [
        (0, 12, "EMS"),
        (1, 10, "CSO"),
        (1, 11, "CSO"),
    ]
    assert items[0]["purpose"] == "ChargingStationExternalConstraints"
    other = await client.get("/stations/CP-1/charging-profiles/reported", params={"request_id": 5})
    assert other.json()["items"] == []


async def test_station_notices_are_stored_and_listed(client: httpx.AsyncClient, deps: Deps) -> None:
    fake = await station(deps, V201, {})
    schedule = {
        "id": 1,
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 5000}],
    }
    await handle(
        deps,
        fake,
        "NotifyChargingLimit",
        {
            "evseId": 1,
            "chargingLimit": {"chargingLimitSource": "SO", "isGridCritical": True},
            "chargingSchedule": [schedule],
        },
    )
    await handle(deps, fake, "ClearedChargingLimit", {"chargingLimitSource": "SO", "evseId": 1})
    needs = await handle(
        deps,
        fake,
        "NotifyEVChargingNeeds",
        {
            "evseId": 2,
            "maxScheduleTuples": 3,
            "chargingNeeds": {
                "requestedEnergyTransfer": "AC_three_phase",
                "departureTime": "2026-01-01T08:00:00Z",
                "acChargingParameters": {
                    "energyAmount": 20000,
                    "evMinCurrent": 6,
                    "evMaxCurrent": 32,
                    "evMaxVoltage": 400,
                },
            },
        },
    )
    ev_schedule = await handle(
        deps,
        fake,
        "NotifyEVChargingSchedule",
        {"timeBase": START, "evseId": 2, "chargingSchedule": schedule},
    )
    assert needs == {"status": "Accepted"} and ev_schedule == {"status": "Accepted"}

    limits = (await client.get("/stations/CP-1/charging-limits")).json()["items"]
    assert [(n["kind"], n["limit_source"], n["evse_id"]) for n in limits] == [
        ("cleared_charging_limit", "SO", 1),
        ("charging_limit", "SO", 1),
    ]
    assert limits[1]["payload"]["chargingLimit"]["isGridCritical"] is True
    [need] = (await client.get("/stations/CP-1/ev-charging-needs")).json()["items"]
    assert need["evse_id"] == 2
    assert need["payload"]["chargingNeeds"]["acChargingParameters"]["evMaxCurrent"] == 32
    [sched] = (await client.get("/stations/CP-1/ev-charging-schedules")).json()["items"]
    assert sched["payload"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] == 5000


async def test_lists_of_an_unknown_station_are_404(client: httpx.AsyncClient) -> None:
    for path in [
        "charging-profiles",
        "charging-profiles/reported",
        "charging-limits",
        "ev-charging-needs",
    ]:
        r = await client.get(f"/stations/NOPE/{path}")
        assert r.status_code == 404, path


async def test_commands_to_a_station_not_connected_are_409(client: httpx.AsyncClient) -> None:
    r = await client.post("/stations/CP-9/charging-profiles", json=body())
    assert r.status_code == 409
    r = await client.get("/stations/CP-9/composite-schedule", params={"duration": 60})
    assert r.status_code == 409


async def test_a_tx_profile_is_forgotten_when_its_transaction_ends(
    client: httpx.AsyncClient, deps: Deps
) -> None:
    await station(deps, V201, ACCEPTED)
    await client.post(
        "/stations/CP-1/charging-profiles",
        json=body(1, id=1, purpose="TxProfile", transaction_id="tx-1"),
    )
    await client.post(
        "/stations/CP-1/charging-profiles",
        json=body(2, id=2, purpose="TxProfile", transaction_id="tx-2"),
    )
    await client.post("/stations/CP-1/charging-profiles", json=body(1, id=3))

    ended = TransactionEnded(
        transaction_pk=1,
        station_id="CP-1",
        transaction_id="tx-1",
        started_at=None,
        stopped_at=None,
        stop_reason="EVDisconnected",
        meter_start_wh=None,
        meter_stop_wh=None,
        energy_wh=None,
        flags=(),
    )
    await TxProfileJanitor(deps).on_transaction_ended(ended)

    assert sorted(r["profile_id"] for r in await stored(client)) == [2, 3]
