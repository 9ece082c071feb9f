"""BootNotification and Heartbeat through the registered handlers, both versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from borne.core.deps import Deps
from borne.ocpp.versions import OcppVersion
from borne.stations import admin
from borne.stations.events import StationBooted


def boot_payload(version: OcppVersion, firmware: str = "1.0") -> dict[str, Any]:
    if version is OcppVersion.V16:
        return {
            "chargePointVendor": "Acme",
            "chargePointModel": "X1",
            "chargePointSerialNumber": "SN-1",
            "firmwareVersion": firmware,
            "iccid": "8931",
        }
    return {
        "reason": "PowerUp",
        "chargingStation": {
            "vendorName": "Acme",
            "model": "X1",
            "serialNumber": "SN-1",
            "firmwareVersion": firmware,
            "modem": {"iccid": "8931"},
        },
    }


@pytest.mark.parametrize(
    ("registration", "expected_interval"),
    [("Accepted", 300), ("Pending", 60), ("Rejected", 60)],
)
async def test_boot_answers_the_operator_decision_and_updates_session_state(
    deps: Deps, make_station, make_ctx, call, version, registration, expected_interval
) -> None:
    await make_station("CP-1", registration_status=registration)
    ctx = make_ctx("CP-1", version)
    assert ctx.state.registration_status == "Pending"

    answer = await call(ctx, "BootNotification", boot_payload(version))

    assert answer["status"] == registration
    assert answer["interval"] == expected_interval
    assert datetime.fromisoformat(answer["currentTime"]) - datetime.now(UTC) < timedelta(seconds=5)
    assert ctx.state.registration_status == registration
    async with deps.db.unit_of_work() as uow:
        view = await admin.get_station(uow, station_id="CP-1")
        boots = await admin.list_boots(uow, station_id="CP-1")
    assert view.boot_count == 1
    assert view.last_boot_status == registration
    assert view.admission_status == registration
    assert (view.vendor, view.model, view.serial_number) == ("Acme", "X1", "SN-1")
    assert view.iccid == "8931"
    assert view.ocpp_version == str(version)
    assert boots.total == 1 and boots.items[0].status == registration


async def test_operator_acceptance_applies_at_the_next_boot(
    deps: Deps, make_station, make_ctx, call, version
) -> None:
    await make_station("CP-1", registration_status="Pending")
    ctx = make_ctx("CP-1", version)
    assert (await call(ctx, "BootNotification", boot_payload(version)))["status"] == "Pending"

    async with deps.db.unit_of_work() as uow:
        view = await admin.update_station(
            uow, station_id="CP-1", now=datetime.now(UTC), registration_status="Accepted"
        )
        await uow.commit()
    # Accepted by the operator but not yet booted as such: still Pending for the protocol layer.
    assert view.admission_status == "Pending"

    answer = await call(ctx, "BootNotification", boot_payload(version, firmware="2.0"))
    assert answer["status"] == "Accepted"
    assert ctx.state.registration_status == "Accepted"
    async with deps.db.unit_of_work() as uow:
        view = await admin.get_station(uow, station_id="CP-1")
    assert view.boot_count == 2
    assert view.firmware_version == "2.0"
    assert view.admission_status == "Accepted"


async def test_boot_publishes_station_booted_after_commit(
    deps: Deps, make_station, make_ctx, call, version
) -> None:
    seen: list[StationBooted] = []

    async def on_boot(ev: StationBooted) -> None:
        seen.append(ev)

    deps.bus.subscribe(StationBooted, on_boot)
    await make_station("CP-1")
    await call(make_ctx("CP-1", version), "BootNotification", boot_payload(version))
    for _ in range(50):
        if seen:
            break
        await __import__("asyncio").sleep(0.01)
    assert [(e.station_id, e.status, e.vendor) for e in seen] == [("CP-1", "Accepted", "Acme")]


async def test_boot_of_a_deleted_station_is_rejected(
    deps: Deps, make_station, make_ctx, call, version
) -> None:
    await make_station("CP-1")
    async with deps.db.unit_of_work() as uow:
        await admin.delete_station(uow, station_id="CP-1")
        await uow.commit()
    ctx = make_ctx("CP-1", version)
    answer = await call(ctx, "BootNotification", boot_payload(version))
    assert answer["status"] == "Rejected"
    assert ctx.state.registration_status == "Rejected"


async def test_heartbeat_answers_current_time_and_stamps_the_station(
    deps: Deps, make_station, make_ctx, call, version
) -> None:
    await make_station("CP-1")
    at = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    answer = await call(make_ctx("CP-1", version, received_at=at), "Heartbeat", {})
    sent = datetime.fromisoformat(answer["currentTime"].replace("Z", "+00:00"))
    assert abs(sent - datetime.now(UTC)) < timedelta(seconds=5)
    async with deps.db.unit_of_work() as uow:
        view = await admin.get_station(uow, station_id="CP-1")
    assert view.last_heartbeat_at == at
