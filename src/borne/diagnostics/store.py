"""Database work of the diagnostics domain: every function runs in the caller's unit of work
(or group-commit batch) and never commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from borne.commands.results import VariableRef
from borne.core.errors import NotFound
from borne.diagnostics.models import (
    REQUESTED,
    CustomerInformationPart,
    CustomerInformationRequest,
    LogRequest,
    MonitoringSettings,
    StationEvent,
    VariableMonitor,
)

T = TypeVar("T")
MAX_LIMIT = 1000
# Notification statuses that say nothing about a particular request.
_IGNORED = frozenset({"Idle"})


class HasSession(Protocol):
    @property
    def session(self) -> AsyncSession: ...


@dataclass(frozen=True)
class Page:
    items: list[Any]
    total: int
    offset: int
    limit: int


async def _page(unit: HasSession, query: Select[Any], offset: int, limit: int) -> Page:
    limit = max(1, min(limit, MAX_LIMIT))
    total = await unit.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = (await unit.session.scalars(query.offset(offset).limit(limit))).all()
    return Page(items=list(rows), total=int(total or 0), offset=offset, limit=limit)


# ------------------------------------------------------------------------------ log requests


async def create_log_request(unit: HasSession, row: LogRequest) -> int:
    unit.session.add(row)
    await unit.session.flush()
    return row.id


async def record_log_answer(
    unit: HasSession,
    pk: int,
    *,
    status: str,
    status_info: str | None,
    filename: str | None,
) -> None:
    """The station's answer; a notification that already moved the request on is kept.

    ``status_at`` stays the request's: a notification the station sent right after answering
    may be delivered after this, and must still apply (see ``apply_log_notification``).
    """
    await unit.session.execute(
        update(LogRequest)
        .where(LogRequest.id == pk, LogRequest.status == REQUESTED)
        .values(status=status, status_info=status_info)
    )
    if filename is not None:
        await unit.session.execute(
            update(LogRequest).where(LogRequest.id == pk).values(filename=filename[:255])
        )


async def apply_log_notification(
    unit: HasSession,
    *,
    station_id: str,
    kind: str,
    status: str,
    request_id: int | None,
    at: datetime,
) -> int | None:
    """Move the request a DiagnosticsStatusNotification / LogStatusNotification is about.

    A 1.6 DiagnosticsStatusNotification has no request id: it is about the station's latest
    GetDiagnostics. A LogStatusNotification without one (triggered) is about the latest GetLog.
    Deliveries may arrive out of order: an older notification never overwrites a newer one.
    Returns the request's pk, or None when no request matches.
    """
    if status in _IGNORED:
        return None
    query = select(LogRequest.id).where(LogRequest.station_id == station_id)
    if kind == "diagnostics":
        query = query.where(LogRequest.action == "GetDiagnostics")
    else:
        query = query.where(LogRequest.action == "GetLog")
        if request_id is not None:
            query = query.where(LogRequest.request_id == request_id)
    pk = await unit.session.scalar(query.order_by(LogRequest.id.desc()).limit(1))
    if pk is None:
        return None
    await unit.session.execute(
        update(LogRequest)
        .where(LogRequest.id == pk, LogRequest.status_at <= at)
        .values(status=status, status_info=None, status_at=at)
    )
    return pk


async def upload_target(unit: HasSession, token_hash: str, now: datetime) -> LogRequest | None:
    """The request an upload token belongs to, if the token exists and has not expired."""
    row = await unit.session.scalar(select(LogRequest).where(LogRequest.token_hash == token_hash))
    if row is None or row.token_expires_at <= now:
        return None
    return row


async def record_upload(
    unit: HasSession,
    pk: int,
    *,
    stored_name: str,
    filename: str | None,
    content_type: str | None,
    size: int,
    sha256: str,
    at: datetime,
) -> None:
    await unit.session.execute(
        update(LogRequest)
        .where(LogRequest.id == pk)
        .values(
            stored_name=stored_name,
            upload_filename=None if filename is None else filename[:255],
            upload_content_type=None if content_type is None else content_type[:255],
            upload_size=size,
            upload_sha256=sha256,
            uploaded_at=at,
        )
    )


async def forget_upload(unit: HasSession, station_id: str, pk: int) -> str | None:
    """Drop the metadata of a request's file; returns the stored name to delete, if any."""
    row = await get_log_request(unit, station_id, pk)
    stored = row.stored_name
    row.stored_name = row.upload_filename = row.upload_content_type = None
    row.upload_size = None
    row.upload_sha256 = None
    row.uploaded_at = None
    return stored


async def list_log_requests(unit: HasSession, station_id: str, offset: int, limit: int) -> Page:
    query = (
        select(LogRequest).where(LogRequest.station_id == station_id).order_by(LogRequest.id.desc())
    )
    return await _page(unit, query, offset, limit)


async def get_log_request(unit: HasSession, station_id: str, pk: int) -> LogRequest:
    row = await unit.session.get(LogRequest, pk)
    if row is None or row.station_id != station_id:
        raise NotFound(f"log request {pk} of station {station_id} not found")
    return row


# ----------------------------------------------------------------------- customer information


async def create_customer_information(unit: HasSession, row: CustomerInformationRequest) -> int:
    unit.session.add(row)
    await unit.session.flush()
    return row.id


async def set_customer_information_status(
    unit: HasSession, pk: int, *, status: str, status_info: str | None
) -> None:
    await unit.session.execute(
        update(CustomerInformationRequest)
        .where(CustomerInformationRequest.id == pk)
        .values(status=status, status_info=status_info)
    )


async def add_customer_information_part(
    unit: HasSession,
    *,
    station_id: str,
    request_id: int,
    seq_no: int,
    tbc: bool,
    data: str,
    generated_at: datetime,
    received_at: datetime,
) -> None:
    """Store one part; a part sent again (same seqNo) is kept once."""
    exists = await unit.session.scalar(
        select(CustomerInformationPart.id).where(
            CustomerInformationPart.station_id == station_id,
            CustomerInformationPart.request_id == request_id,
            CustomerInformationPart.seq_no == seq_no,
        )
    )
    if exists is not None:
        return
    unit.session.add(
        CustomerInformationPart(
            station_id=station_id,
            request_id=request_id,
            seq_no=seq_no,
            tbc=tbc,
            data=data,
            generated_at=generated_at,
            received_at=received_at,
        )
    )


async def list_customer_information(
    unit: HasSession, station_id: str, offset: int, limit: int
) -> Page:
    query = (
        select(CustomerInformationRequest)
        .where(CustomerInformationRequest.station_id == station_id)
        .order_by(CustomerInformationRequest.id.desc())
    )
    return await _page(unit, query, offset, limit)


async def get_customer_information(
    unit: HasSession, station_id: str, pk: int
) -> tuple[CustomerInformationRequest, list[CustomerInformationPart]]:
    row = await unit.session.get(CustomerInformationRequest, pk)
    if row is None or row.station_id != station_id:
        raise NotFound(f"customer information request {pk} of station {station_id} not found")
    parts = await unit.session.scalars(
        select(CustomerInformationPart)
        .where(
            CustomerInformationPart.station_id == station_id,
            CustomerInformationPart.request_id == row.request_id,
        )
        .order_by(CustomerInformationPart.seq_no)
    )
    return row, list(parts)


# --------------------------------------------------------------------------------- monitoring


@dataclass(frozen=True)
class MonitorIn:
    monitor_id: int
    ref: VariableRef
    type: str
    value: float
    severity: int
    transaction: bool


async def upsert_monitors(
    unit: HasSession, *, station_id: str, monitors: list[MonitorIn], source: str, now: datetime
) -> None:
    if not monitors:
        return
    ids = [m.monitor_id for m in monitors]
    existing = {
        row.monitor_id: row
        for row in await unit.session.scalars(
            select(VariableMonitor).where(
                VariableMonitor.station_id == station_id, VariableMonitor.monitor_id.in_(ids)
            )
        )
    }
    for m in monitors:
        row = existing.get(m.monitor_id)
        if row is None:
            row = VariableMonitor(station_id=station_id, monitor_id=m.monitor_id)
            unit.session.add(row)
            existing[m.monitor_id] = row
        row.component = m.ref.component
        row.component_instance = m.ref.component_instance
        row.evse_id = m.ref.evse_id
        row.connector_id = m.ref.connector_id
        row.variable = m.ref.variable
        row.variable_instance = m.ref.variable_instance
        row.type = m.type
        row.value = m.value
        row.severity = m.severity
        row.transaction = m.transaction
        row.source = source
        row.updated_at = now


async def delete_monitors(unit: HasSession, *, station_id: str, ids: list[int]) -> None:
    if ids:
        await unit.session.execute(
            delete(VariableMonitor).where(
                VariableMonitor.station_id == station_id, VariableMonitor.monitor_id.in_(ids)
            )
        )


async def set_monitoring_settings(
    unit: HasSession,
    *,
    station_id: str,
    now: datetime,
    monitoring_base: str | None = None,
    monitoring_level: int | None = None,
) -> None:
    row = await unit.session.get(MonitoringSettings, station_id)
    if row is None:
        row = MonitoringSettings(station_id=station_id)
        unit.session.add(row)
    if monitoring_base is not None:
        row.monitoring_base = monitoring_base
    if monitoring_level is not None:
        row.monitoring_level = monitoring_level
    row.updated_at = now


async def monitoring_of(
    unit: HasSession, station_id: str
) -> tuple[MonitoringSettings | None, list[VariableMonitor]]:
    settings = await unit.session.get(MonitoringSettings, station_id)
    monitors = await unit.session.scalars(
        select(VariableMonitor)
        .where(VariableMonitor.station_id == station_id)
        .order_by(VariableMonitor.monitor_id)
    )
    return settings, list(monitors)


# ------------------------------------------------------------------------------------ events


@dataclass(frozen=True)
class EventIn:
    event_id: int
    timestamp: datetime
    trigger: str
    cause: int | None
    actual_value: str
    tech_code: str | None
    tech_info: str | None
    cleared: bool
    transaction_id: str | None
    ref: VariableRef
    variable_monitoring_id: int | None
    event_notification_type: str


def add_events(
    unit: HasSession,
    *,
    station_id: str,
    events: list[EventIn],
    generated_at: datetime,
    seq_no: int,
    received_at: datetime,
) -> None:
    unit.session.add_all(
        StationEvent(
            station_id=station_id,
            event_id=e.event_id,
            timestamp=e.timestamp,
            trigger=e.trigger,
            cause=e.cause,
            actual_value=e.actual_value,
            tech_code=e.tech_code,
            tech_info=e.tech_info,
            cleared=e.cleared,
            transaction_id=e.transaction_id,
            component=e.ref.component,
            component_instance=e.ref.component_instance,
            evse_id=e.ref.evse_id,
            connector_id=e.ref.connector_id,
            variable=e.ref.variable,
            variable_instance=e.ref.variable_instance,
            variable_monitoring_id=e.variable_monitoring_id,
            event_notification_type=e.event_notification_type,
            generated_at=generated_at,
            seq_no=seq_no,
            received_at=received_at,
        )
        for e in events
    )


@dataclass(frozen=True)
class EventFilter:
    station_id: str | None = None
    component: str | None = None
    variable: str | None = None
    trigger: str | None = None
    event_notification_type: str | None = None
    cleared: bool | None = None
    tech_code: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    # Only events of a monitor (``variableMonitoringId`` set) or only hard-wired ones.
    from_monitor: bool | None = None


async def list_events(unit: HasSession, f: EventFilter, offset: int, limit: int) -> Page:
    e = StationEvent
    query = select(e)
    equal: list[tuple[Any, Any]] = [
        (e.station_id, f.station_id),
        (e.component, f.component),
        (e.variable, f.variable),
        (e.trigger, f.trigger),
        (e.event_notification_type, f.event_notification_type),
        (e.cleared, f.cleared),
        (e.tech_code, f.tech_code),
    ]
    for column, value in equal:
        if value is not None:
            query = query.where(column == value)
    if f.since is not None:
        query = query.where(e.timestamp >= f.since)
    if f.until is not None:
        query = query.where(e.timestamp < f.until)
    if f.from_monitor is not None:
        has = e.variable_monitoring_id.is_not(None)
        query = query.where(has if f.from_monitor else e.variable_monitoring_id.is_(None))
    return await _page(unit, query.order_by(e.timestamp.desc(), e.id.desc()), offset, limit)
