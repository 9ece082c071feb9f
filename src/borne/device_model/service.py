"""Device-model and configuration storage, version-agnostic; each use case takes a ``Unit``
(unit of work) and never commits.

Report semantics (2.0.1): a ``FullInventory`` report Borne asked for *replaces* the station's
model when its last part (``tbc`` false) arrives: variables it did not list are removed then,
so the previous model stays readable while parts arrive. ``ConfigurationInventory``,
``SummaryInventory``, a ``GetReport`` with criteria and reports Borne did not ask for are
partial views: they are *merged* (listed variables and attributes upserted, nothing removed).
Get/SetVariables results update single attributes the same way.

Write-only attributes (``mutability`` WriteOnly, e.g. ``BasicAuthPassword``) never have their
value stored (R27); neither has the 1.6 ``AuthorizationKey``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, func, or_, select

from borne.core.errors import NotFound
from borne.device_model.events import ConfigurationRefreshed, DeviceReportCompleted
from borne.device_model.models import (
    ConfigurationKey,
    ConfigurationSnapshot,
    DeviceAttribute,
    DeviceReport,
    DeviceVariable,
)
from borne.stations.models import Station
from borne.stations.unit import Page, Unit, check_page

FULL_INVENTORY = "FullInventory"
UNSOLICITED = "Unsolicited"
_SECRET_KEYS = frozenset({"authorizationkey"})

Key = tuple[str, str, int, int, str, str]


@dataclass(frozen=True)
class Characteristics:
    data_type: str
    supports_monitoring: bool
    unit: str | None = None
    min_limit: float | None = None
    max_limit: float | None = None
    values_list: str | None = None


@dataclass(frozen=True)
class AttributeIn:
    type: str = "Actual"
    value: str | None = None
    mutability: str | None = None
    persistent: bool | None = None
    constant: bool | None = None


@dataclass(frozen=True)
class Address:
    """Where a variable lives; ``None`` instances/EVSE/connector are stored as ``""``/``0``."""

    component: str
    variable: str
    component_instance: str | None = None
    variable_instance: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None

    def key(self) -> Key:
        return (
            self.component,
            self.component_instance or "",
            self.evse_id or 0,
            self.connector_id or 0,
            self.variable,
            self.variable_instance or "",
        )


@dataclass(frozen=True)
class ReportEntry:
    address: Address
    attributes: Sequence[AttributeIn] = field(default_factory=tuple)
    characteristics: Characteristics | None = None


@dataclass(frozen=True)
class ValueUpdate:
    """A value learnt from GetVariables (``source="get"``) or an accepted SetVariables."""

    address: Address
    value: str | None
    attribute_type: str | None = None  # None: Actual


def _key_of(v: DeviceVariable) -> Key:
    return (
        v.component_name,
        v.component_instance,
        v.evse_id,
        v.connector_id,
        v.variable_name,
        v.variable_instance,
    )


async def require_station(unit: Unit, station_id: str) -> None:
    if await unit.session.get(Station, station_id) is None:
        raise NotFound(f"station {station_id} not found")


async def _variables(
    unit: Unit, station_id: str, addresses: Iterable[Address]
) -> dict[Key, DeviceVariable]:
    """The stored variables of these addresses' components, by key (attributes loaded)."""
    names = sorted({a.component for a in addresses})
    if not names:
        return {}
    rows = await unit.session.scalars(
        select(DeviceVariable).where(
            DeviceVariable.station_id == station_id, DeviceVariable.component_name.in_(names)
        )
    )
    return {_key_of(v): v for v in rows}


def _variable(station_id: str, a: Address, now: datetime) -> DeviceVariable:
    return DeviceVariable(
        station_id=station_id,
        component_name=a.component,
        component_instance=a.component_instance or "",
        evse_id=a.evse_id or 0,
        connector_id=a.connector_id or 0,
        variable_name=a.variable,
        variable_instance=a.variable_instance or "",
        updated_at=now,
        attributes=[],
    )


def _attribute(var: DeviceVariable, type_: str, now: datetime) -> DeviceAttribute:
    for attr in var.attributes:
        if attr.type == type_:
            return attr
    attr = DeviceAttribute(type=type_, updated_at=now)
    var.attributes.append(attr)
    return attr


def _visible(value: str | None, mutability: str | None) -> str | None:
    return None if mutability == "WriteOnly" else value


async def record_report_request(
    unit: Unit, *, station_id: str, request_id: int, kind: str, now: datetime
) -> None:
    """Note a report request *before* it is sent: its parts may arrive before the answer."""
    row = await unit.session.scalar(
        select(DeviceReport).where(
            DeviceReport.station_id == station_id, DeviceReport.request_id == request_id
        )
    )
    if row is None:
        row = DeviceReport(station_id=station_id, request_id=request_id)
        unit.session.add(row)
    row.kind, row.status, row.parts, row.variables = kind, "Sent", 0, 0
    row.requested_at, row.completed_at = now, None


async def record_report_answer(
    unit: Unit, *, station_id: str, request_id: int, status: str
) -> None:
    """The station's answer to the request; a report already complete stays complete."""
    row = await unit.session.scalar(
        select(DeviceReport).where(
            DeviceReport.station_id == station_id, DeviceReport.request_id == request_id
        )
    )
    if row is not None and row.status != "Complete":
        row.status = status


async def store_report_part(
    unit: Unit,
    *,
    station_id: str,
    request_id: int,
    seq_no: int,
    tbc: bool,
    entries: Sequence[ReportEntry],
    now: datetime,
) -> None:
    """Merge one NotifyReport part; on the last part of a FullInventory, drop what it missed."""
    existing = await _variables(unit, station_id, (e.address for e in entries))
    for entry in entries:
        key = entry.address.key()
        var = existing.get(key)
        if var is None:
            var = existing[key] = _variable(station_id, entry.address, now)
            unit.session.add(var)
        var.report_request_id, var.updated_at = request_id, now
        c = entry.characteristics
        if c is not None:
            var.data_type, var.unit, var.supports_monitoring = (
                c.data_type,
                c.unit,
                c.supports_monitoring,
            )
            var.min_limit, var.max_limit, var.values_list = c.min_limit, c.max_limit, c.values_list
        for a in entry.attributes:
            attr = _attribute(var, a.type, now)
            attr.value = _visible(a.value, a.mutability)
            attr.mutability, attr.persistent, attr.constant = a.mutability, a.persistent, a.constant
            attr.source, attr.updated_at = "report", now
    await unit.session.flush()
    report = await unit.session.scalar(
        select(DeviceReport).where(
            DeviceReport.station_id == station_id, DeviceReport.request_id == request_id
        )
    )
    if report is not None:
        report.parts += 1
        report.variables += len(entries)
    if tbc:
        return
    kind = UNSOLICITED if report is None else report.kind
    replaced = kind == FULL_INVENTORY
    if replaced:
        await unit.session.execute(
            delete(DeviceVariable).where(
                DeviceVariable.station_id == station_id,
                or_(
                    DeviceVariable.report_request_id.is_(None),
                    DeviceVariable.report_request_id != request_id,
                ),
            )
        )
    if report is not None:
        report.status, report.completed_at = "Complete", now
    unit.add_event(DeviceReportCompleted(station_id, request_id, kind, replaced))


async def store_values(
    unit: Unit, *, station_id: str, updates: Sequence[ValueUpdate], source: str, now: datetime
) -> int:
    """Upsert single attribute values (GetVariables or accepted SetVariables results)."""
    existing = await _variables(unit, station_id, (u.address for u in updates))
    for u in updates:
        key = u.address.key()
        var = existing.get(key)
        if var is None:
            var = existing[key] = _variable(station_id, u.address, now)
            unit.session.add(var)
        var.updated_at = now
        attr = _attribute(var, u.attribute_type or "Actual", now)
        attr.value = _visible(u.value, attr.mutability)
        attr.source, attr.updated_at = source, now
    await unit.session.flush()
    return len(updates)


async def list_variables(
    unit: Unit,
    *,
    station_id: str,
    component: str | None = None,
    variable: str | None = None,
    evse_id: int | None = None,
    offset: int = 0,
    limit: int = 100,
) -> Page[DeviceVariable]:
    check_page(offset, limit)
    await require_station(unit, station_id)
    v = DeviceVariable
    query = select(v).where(v.station_id == station_id)
    if component is not None:
        query = query.where(v.component_name == component)
    if variable is not None:
        query = query.where(v.variable_name == variable)
    if evse_id is not None:
        query = query.where(v.evse_id == evse_id)
    total = await unit.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await unit.session.scalars(
        query.order_by(v.component_name, v.component_instance, v.evse_id, v.connector_id)
        .order_by(v.variable_name, v.variable_instance)
        .offset(offset)
        .limit(limit)
    )
    return Page(items=list(rows), total=int(total or 0), offset=offset, limit=limit)


async def list_reports(
    unit: Unit, *, station_id: str, offset: int = 0, limit: int = 100
) -> Page[DeviceReport]:
    check_page(offset, limit)
    await require_station(unit, station_id)
    query = select(DeviceReport).where(DeviceReport.station_id == station_id)
    total = await unit.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await unit.session.scalars(
        query.order_by(DeviceReport.requested_at.desc(), DeviceReport.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return Page(items=list(rows), total=int(total or 0), offset=offset, limit=limit)


async def has_device_model(unit: Unit, station_id: str) -> bool:
    found = await unit.session.scalar(
        select(DeviceVariable.id).where(DeviceVariable.station_id == station_id).limit(1)
    )
    return found is not None


# ------------------------------------------------------------------ 1.6 configuration


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: str | None
    readonly: bool


def _config_value(key: str, value: str | None) -> str | None:
    return None if key.lower() in _SECRET_KEYS else value


async def store_configuration(
    unit: Unit,
    *,
    station_id: str,
    entries: Sequence[KeyValue],
    unknown_keys: Sequence[str],
    complete: bool,
    now: datetime,
) -> None:
    """Store a GetConfiguration answer. ``complete`` (all keys were asked for): the snapshot
    is replaced, keys not returned are removed. Otherwise the returned keys are upserted and
    the ones the station called unknown removed."""
    c = ConfigurationKey
    rows = {
        r.key: r for r in await unit.session.scalars(select(c).where(c.station_id == station_id))
    }
    seen = set()
    for e in entries:
        seen.add(e.key)
        row = rows.get(e.key)
        if row is None:
            row = ConfigurationKey(station_id=station_id, key=e.key)
            unit.session.add(row)
        row.value, row.readonly = _config_value(e.key, e.value), e.readonly
        row.source, row.updated_at = "get", now
    gone = set(rows) - seen if complete else set(unknown_keys) & set(rows)
    for key in gone:
        await unit.session.delete(rows[key])
    if complete:
        snap = await unit.session.get(ConfigurationSnapshot, station_id)
        if snap is None:
            snap = ConfigurationSnapshot(station_id=station_id)
            unit.session.add(snap)
        snap.refreshed_at, snap.keys = now, len(seen)
        unit.add_event(ConfigurationRefreshed(station_id, len(seen)))
    await unit.session.flush()


async def store_configuration_change(
    unit: Unit, *, station_id: str, key: str, value: str, now: datetime
) -> None:
    """An accepted ChangeConfiguration: the snapshot shows the new value."""
    row = await unit.session.get(ConfigurationKey, (station_id, key))
    if row is None:
        row = ConfigurationKey(station_id=station_id, key=key, readonly=False)
        unit.session.add(row)
    row.value, row.source, row.updated_at = _config_value(key, value), "change", now
    await unit.session.flush()


async def list_configuration(
    unit: Unit, *, station_id: str
) -> tuple[ConfigurationSnapshot | None, list[ConfigurationKey]]:
    await require_station(unit, station_id)
    snap = await unit.session.get(ConfigurationSnapshot, station_id)
    rows = await unit.session.scalars(
        select(ConfigurationKey)
        .where(ConfigurationKey.station_id == station_id)
        .order_by(ConfigurationKey.key)
    )
    return snap, list(rows)
