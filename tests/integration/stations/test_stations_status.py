"""StatusNotification: current state and history, both versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from borne.core.deps import Deps
from borne.ocpp.versions import OcppVersion
from borne.stations import admin
from borne.stations.events import StationStatusChanged

T0 = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)


def status_payload(version: OcppVersion, connector: int, status: str, at: datetime) -> dict:
    if version is OcppVersion.V16:
        return {
            "connectorId": connector,
            "status": status,
            "errorCode": "NoError" if status != "Faulted" else "GroundFailure",
            "timestamp": at.isoformat(),
            **({"info": "earth leak", "vendorErrorCode": "E42"} if status == "Faulted" else {}),
        }
    return {
        "evseId": connector,
        "connectorId": 1,
        "connectorStatus": status,
        "timestamp": at.isoformat(),
    }


async def statuses(deps: Deps, station_id: str = "CP-1"):
    async with deps.db.unit_of_work() as uow:
        current = await admin.list_connector_statuses(uow, station_id=station_id)
        history = await admin.list_status_history(uow, station_id=station_id)
    return current, history


async def test_status_keeps_current_state_and_history(
    deps: Deps, make_station, make_ctx, call, version
) -> None:
    await make_station("CP-1")
    ctx = make_ctx("CP-1", version)
    busy = "Charging" if version is OcppVersion.V16 else "Occupied"
    for i, status in enumerate(["Available", busy, "Faulted"]):
        assert (
            await call(
                ctx,
                "StatusNotification",
                status_payload(version, 1, status, T0 + timedelta(minutes=i)),
            )
            == {}
        )
    await call(ctx, "StatusNotification", status_payload(version, 2, "Available", T0))

    current, history = await statuses(deps)
    assert [(c.evse_id, c.connector_id, c.status) for c in current] == [
        (1, 1, "Faulted"),
        (2, 1, "Available"),
    ]
    assert current[0].timestamp == T0 + timedelta(minutes=2)
    assert history.total == 4
    evse1 = [h.status for h in history.items if h.evse_id == 1]
    assert evse1 == ["Faulted", busy, "Available"]  # newest first
    if version is OcppVersion.V16:
        assert current[0].error_code == "GroundFailure"
        assert current[0].info == "earth leak"
        assert current[0].vendor_error_code == "E42"
        assert current[0].ocpp_connector_id == 1


async def test_v16_connector_zero_is_the_whole_station(
    deps: Deps, make_station, make_ctx, call
) -> None:
    await make_station("CP-1")
    ctx = make_ctx("CP-1", OcppVersion.V16)
    await call(
        ctx,
        "StatusNotification",
        {"connectorId": 0, "status": "Unavailable", "errorCode": "NoError"},
    )
    current, _ = await statuses(deps)
    assert [(c.evse_id, c.connector_id, c.status) for c in current] == [(0, 0, "Unavailable")]
    # No timestamp from the station: the receive time is used.
    assert current[0].timestamp == ctx.received_at


async def test_a_late_older_status_goes_to_history_only(
    deps: Deps, make_station, make_ctx, call, version
) -> None:
    await make_station("CP-1")
    ctx = make_ctx("CP-1", version)
    await call(ctx, "StatusNotification", status_payload(version, 1, "Faulted", T0))
    await call(
        ctx, "StatusNotification", status_payload(version, 1, "Available", T0 - timedelta(hours=1))
    )
    current, history = await statuses(deps)
    assert [c.status for c in current] == ["Faulted"]
    assert history.total == 2


async def test_status_change_event_only_on_change(
    deps: Deps, make_station, make_ctx, call, version
) -> None:
    import asyncio

    seen: list[StationStatusChanged] = []

    async def on_change(ev: StationStatusChanged) -> None:
        seen.append(ev)

    deps.bus.subscribe(StationStatusChanged, on_change)
    await make_station("CP-1")
    ctx = make_ctx("CP-1", version)
    await call(ctx, "StatusNotification", status_payload(version, 1, "Available", T0))
    await call(
        ctx,
        "StatusNotification",
        status_payload(version, 1, "Available", T0 + timedelta(seconds=1)),
    )
    await call(
        ctx, "StatusNotification", status_payload(version, 1, "Faulted", T0 + timedelta(seconds=2))
    )
    await asyncio.sleep(0.05)
    assert [(e.previous_status, e.status) for e in seen] == [
        (None, "Available"),
        ("Available", "Faulted"),
    ]


async def test_status_lists_of_an_unknown_station_are_not_found(deps: Deps) -> None:
    import pytest

    from borne.core.errors import NotFound

    async with deps.db.unit_of_work() as uow:
        with pytest.raises(NotFound):
            await admin.list_connector_statuses(uow, station_id="nope")
