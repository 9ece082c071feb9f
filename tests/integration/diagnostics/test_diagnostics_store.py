"""Diagnostics storage on both backends: notifications applied to the right log request in any
delivery order, customer information parts kept once, monitors upserted and cleared."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from borne.commands.results import VariableRef
from borne.core.deps import Deps
from borne.diagnostics import store
from borne.diagnostics.models import REQUESTED, LogRequest
from borne.diagnostics.subscribers import DiagnosticsSubscribers
from borne.stations.events import StationNotificationReceived
from borne.stations.models import Station

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)


async def _station(deps: Deps, station_id: str) -> None:
    async with deps.db.unit_of_work() as uow:
        uow.session.add(Station(station_id=station_id, created_at=T0, updated_at=T0))
        await uow.commit()


async def _request(deps: Deps, station_id: str, action: str, request_id: int | None) -> int:
    async with deps.db.unit_of_work() as uow:
        pk = await store.create_log_request(
            uow,
            LogRequest(
                station_id=station_id,
                ocpp_version="ocpp1.6",
                action=action,
                log_type="DiagnosticsLog",
                request_id=request_id,
                status=REQUESTED,
                status_at=T0,
                token_hash=f"{station_id}-{action}-{request_id}".ljust(64, "0")[:64],
                token_expires_at=T0 + timedelta(hours=1),
                created_at=T0,
            ),
        )
        await uow.commit()
    return pk


async def _status(deps: Deps, station_id: str, pk: int) -> str:
    async with deps.db.unit_of_work() as uow:
        return (await store.get_log_request(uow, station_id, pk)).status


async def test_notifications_reach_their_request_in_any_order(deps: Deps) -> None:
    await _station(deps, "CP-N")
    diag = await _request(deps, "CP-N", "GetDiagnostics", None)
    log = await _request(deps, "CP-N", "GetLog", 42)
    subs = DiagnosticsSubscribers(deps)

    def ev(kind: str, status: str, rid: int | None, s: int) -> StationNotificationReceived:
        return StationNotificationReceived("CP-N", kind, status, rid, T0 + timedelta(seconds=s))

    # Uploaded (later) delivered before Uploading (earlier): Uploaded stays.
    await subs.on_notification(ev("diagnostics", "Uploaded", None, 5))
    await subs.on_notification(ev("diagnostics", "Uploading", None, 2))
    await subs.on_notification(ev("diagnostics", "Idle", None, 9))  # about no request
    assert await _status(deps, "CP-N", diag) == "Uploaded"
    # The station's answer recorded after a notification does not undo it.
    await subs.on_notification(ev("log", "UploadFailure", 42, 3))
    async with deps.db.unit_of_work() as uow:
        await store.record_log_answer(uow, log, status="Accepted", status_info=None, filename="f")
        await uow.commit()
    assert await _status(deps, "CP-N", log) == "UploadFailure"
    # Another request id is someone else's: nothing changes.
    await subs.on_notification(ev("log", "Uploaded", 7, 8))
    assert await _status(deps, "CP-N", log) == "UploadFailure"


async def test_customer_parts_kept_once_and_monitors_upserted(deps: Deps) -> None:
    await _station(deps, "CP-C")
    async with deps.db.unit_of_work() as uow:
        for seq, tbc in [(0, True), (0, True), (1, False)]:
            await store.add_customer_information_part(
                uow,
                station_id="CP-C",
                request_id=9,
                seq_no=seq,
                tbc=tbc,
                data=f"part{seq};",
                generated_at=T0,
                received_at=T0,
            )
            await uow.session.flush()
        ref = VariableRef(component="EVSE", variable="Temperature", evse_id=1)
        m = store.MonitorIn(
            monitor_id=3, ref=ref, type="UpperThreshold", value=80, severity=2, transaction=False
        )
        await store.upsert_monitors(uow, station_id="CP-C", monitors=[m], source="set", now=T0)
        await uow.session.flush()
        m2 = store.MonitorIn(
            monitor_id=3, ref=ref, type="UpperThreshold", value=90, severity=1, transaction=False
        )
        await store.upsert_monitors(uow, station_id="CP-C", monitors=[m2], source="report", now=T0)
        await uow.commit()
    async with deps.db.unit_of_work() as uow:
        _, monitors = await store.monitoring_of(uow, "CP-C")
        assert [(x.monitor_id, x.value, x.source) for x in monitors] == [(3, 90.0, "report")]
        await store.delete_monitors(uow, station_id="CP-C", ids=[3])
        await uow.commit()
    async with deps.db.unit_of_work() as uow:
        _, monitors = await store.monitoring_of(uow, "CP-C")
        assert monitors == []
        from sqlalchemy import select

        from borne.diagnostics.models import CustomerInformationPart

        parts = (await uow.session.scalars(select(CustomerInformationPart.seq_no))).all()
        assert sorted(parts) == [0, 1]
