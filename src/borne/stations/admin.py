"""Operator use cases on stations: create, update, rotate passwords, read, list, delete.

Called by the operator API inside a unit of work (``async with deps.db.unit_of_work() as uow:
view = await create_station(uow, ...); await uow.commit()``). Stations are returned as
``StationView``, which carries no password hash (R27); the other reads return ORM rows, which
hold no secrets and are detached from the session, so they stay readable after the unit of
work ends with or without a commit. Passwords are only ever hashed here, never stored, logged
or echoed (R24).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError

from borne.core.errors import Conflict, InvalidInput, NotFound
from borne.stations import passwords
from borne.stations.events import StationCreated, StationDeleted, StationUpdated
from borne.stations.models import (
    ConnectorStatus,
    ConnectorStatusHistory,
    DataTransferMessage,
    ReportedVariable,
    SecurityEvent,
    Station,
    StationBoot,
    StationNotification,
)
from borne.stations.service import admission_status
from borne.stations.unit import Page, Unit, check_page

REGISTRATION_STATUSES = frozenset({"Accepted", "Pending", "Rejected"})
SECURITY_PROFILES = frozenset({0, 1, 2, 3})
MAX_STATION_ID = 48
T = TypeVar("T")


@dataclass(frozen=True)
class StationView:
    station_id: str
    security_profile: int
    registration_status: str
    # What the protocol layer applies now: see ``service.admission_status``.
    admission_status: str
    has_password: bool
    password_rotation_pending: bool
    leniency: tuple[str, ...]
    last_boot_status: str | None
    last_boot_reason: str | None
    vendor: str | None
    model: str | None
    serial_number: str | None
    charge_box_serial_number: str | None
    firmware_version: str | None
    iccid: str | None
    imsi: str | None
    meter_type: str | None
    meter_serial_number: str | None
    ocpp_version: str | None
    boot_count: int
    last_boot_at: datetime | None
    last_heartbeat_at: datetime | None
    connected_at: datetime | None
    disconnected_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, s: Station) -> StationView:
        return cls(
            station_id=s.station_id,
            security_profile=s.security_profile,
            registration_status=s.registration_status,
            admission_status=admission_status(s),
            has_password=s.password_hash is not None,
            password_rotation_pending=s.pending_password_hash is not None,
            leniency=tuple(s.leniency or ()),
            last_boot_status=s.last_boot_status,
            last_boot_reason=s.last_boot_reason,
            vendor=s.vendor,
            model=s.model,
            serial_number=s.serial_number,
            charge_box_serial_number=s.charge_box_serial_number,
            firmware_version=s.firmware_version,
            iccid=s.iccid,
            imsi=s.imsi,
            meter_type=s.meter_type,
            meter_serial_number=s.meter_serial_number,
            ocpp_version=s.ocpp_version,
            boot_count=s.boot_count,
            last_boot_at=s.last_boot_at,
            last_heartbeat_at=s.last_heartbeat_at,
            connected_at=s.connected_at,
            disconnected_at=s.disconnected_at,
            created_at=s.created_at,
            updated_at=s.updated_at,
        )


def validate_station_id(station_id: str) -> str:
    """1-48 printable ASCII characters without spaces, ``:`` or ``/`` (R6)."""
    if not 1 <= len(station_id) <= MAX_STATION_ID:
        raise InvalidInput(f"station id must be 1 to {MAX_STATION_ID} characters")
    if any(not 0x21 <= ord(c) <= 0x7E or c in ":/" for c in station_id):
        raise InvalidInput(
            "station id must be printable ASCII without spaces, ':' or '/'",
            details={"station_id": station_id},
        )
    return station_id


def _check_password(password: str) -> None:
    # The message never contains the password itself.
    if not passwords.MIN_LENGTH <= len(password) <= passwords.MAX_LENGTH:
        raise InvalidInput(
            f"password must be {passwords.MIN_LENGTH} to {passwords.MAX_LENGTH} characters"
        )


async def _hash(password: str, iterations: int) -> str:
    _check_password(password)
    # Hashing costs milliseconds of CPU; hashlib releases the GIL, so keep the loop free.
    return await asyncio.to_thread(passwords.hash_password, password, iterations=iterations)


def _leniency(flags: Iterable[str]) -> list[str]:
    cleaned = sorted({f.strip() for f in flags})
    if any(not f or len(f) > 64 for f in cleaned):
        raise InvalidInput("leniency flags must be 1 to 64 characters")
    return cleaned


def _check_status(status: str) -> None:
    if status not in REGISTRATION_STATUSES:
        raise InvalidInput(f"registration status must be one of {sorted(REGISTRATION_STATUSES)}")


def _check_profile(profile: int) -> None:
    if profile not in SECURITY_PROFILES:
        raise InvalidInput("security profile must be 0, 1, 2 or 3")


async def _station(unit: Unit, station_id: str) -> Station:
    station = await unit.session.get(Station, station_id)
    if station is None:
        raise NotFound(f"station {station_id} not found", details={"station_id": station_id})
    return station


async def create_station(
    unit: Unit,
    *,
    station_id: str,
    now: datetime,
    security_profile: int = 1,
    password: str | None = None,
    registration_status: str = "Accepted",
    leniency: Iterable[str] = (),
    password_iterations: int = passwords.DEFAULT_ITERATIONS,
    auto_registered: bool = False,
) -> StationView:
    """Register a station. Profiles 1 and 2 need a password of 16-40 characters (stored
    hashed); profile 3 authenticates with its client certificate, a password is optional."""
    validate_station_id(station_id)
    _check_profile(security_profile)
    _check_status(registration_status)
    if security_profile in (1, 2) and password is None:
        raise InvalidInput("a password is required for security profiles 1 and 2")
    flags = _leniency(leniency)
    hashed = None if password is None else await _hash(password, password_iterations)
    if await unit.session.get(Station, station_id) is not None:
        raise Conflict(f"station {station_id} already exists", details={"station_id": station_id})
    station = Station(
        station_id=station_id,
        security_profile=security_profile,
        password_hash=hashed,
        registration_status=registration_status,
        leniency=flags,
        boot_count=0,
        created_at=now,
        updated_at=now,
    )
    unit.session.add(station)
    try:
        await unit.session.flush()
    except IntegrityError:
        raise Conflict(f"station {station_id} already exists") from None
    unit.add_event(StationCreated(station_id, registration_status, auto_registered))
    return StationView.of(station)


async def update_station(
    unit: Unit,
    *,
    station_id: str,
    now: datetime,
    registration_status: str | None = None,
    security_profile: int | None = None,
    password: str | None = None,
    leniency: Iterable[str] | None = None,
    password_iterations: int = passwords.DEFAULT_ITERATIONS,
) -> StationView:
    """Change what is given (``None`` leaves a field as it is).

    A password given here replaces the current one at once and cancels a pending rotation; to
    rotate through OCPP without locking the station out, use ``set_pending_password``.
    """
    if registration_status is not None:
        _check_status(registration_status)
    if security_profile is not None:
        _check_profile(security_profile)
    flags = None if leniency is None else _leniency(leniency)
    hashed = None if password is None else await _hash(password, password_iterations)
    station = await _station(unit, station_id)
    profile = station.security_profile if security_profile is None else security_profile
    if profile in (1, 2) and hashed is None and station.password_hash is None:
        raise InvalidInput("a password is required for security profiles 1 and 2")
    if registration_status is not None:
        station.registration_status = registration_status
    station.security_profile = profile
    if hashed is not None:
        station.password_hash = hashed
        station.pending_password_hash = None
    if flags is not None:
        station.leniency = flags
    station.updated_at = now
    unit.add_event(StationUpdated(station_id, station.registration_status, profile))
    return StationView.of(station)


async def set_pending_password(
    unit: Unit,
    *,
    station_id: str,
    password: str,
    now: datetime,
    password_iterations: int = passwords.DEFAULT_ITERATIONS,
) -> None:
    """Start a rotation (R24): the new password is accepted alongside the current one until the
    station logs in with it (then it becomes current, see ``directory``). Call it before sending
    the new password to the station (1.6 ``AuthorizationKey``, 2.0.1 ``BasicAuthPassword``)."""
    hashed = await _hash(password, password_iterations)
    station = await _station(unit, station_id)
    station.pending_password_hash = hashed
    station.updated_at = now


async def cancel_pending_password(unit: Unit, *, station_id: str, now: datetime) -> None:
    """The station refused the new password: forget it, the current one stays valid."""
    station = await _station(unit, station_id)
    station.pending_password_hash = None
    station.updated_at = now


async def get_station(unit: Unit, *, station_id: str) -> StationView:
    return StationView.of(await _station(unit, station_id))


async def _page(unit: Unit, query: Select[T], offset: int, limit: int) -> Page[T]:
    check_page(offset, limit)
    total = await unit.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = list(await unit.session.scalars(query.offset(offset).limit(limit)))
    _detach(unit, rows)
    return Page(rows, int(total or 0), offset, limit)


def _detach(unit: Unit, rows: Sequence[object]) -> None:
    """Read results outlive the unit of work: a unit left without commit rolls back, which
    would expire (and so empty) rows still attached to its session."""
    for row in rows:
        unit.session.expunge(row)


async def list_stations(
    unit: Unit,
    *,
    offset: int = 0,
    limit: int = 50,
    registration_status: str | None = None,
) -> Page[StationView]:
    """Stations ordered by id."""
    query = select(Station).order_by(Station.station_id)
    if registration_status is not None:
        _check_status(registration_status)
        query = query.where(Station.registration_status == registration_status)
    page = await _page(unit, query, offset, limit)
    return Page([StationView.of(s) for s in page.items], page.total, offset, limit)


async def delete_station(unit: Unit, *, station_id: str) -> None:
    """Delete a station with its statuses, notifications and reports (security events stay)."""
    station = await _station(unit, station_id)
    await unit.session.delete(station)
    try:
        await unit.session.flush()
    except IntegrityError:
        raise Conflict(f"station {station_id} still has records that reference it") from None
    unit.add_event(StationDeleted(station_id))


async def list_connector_statuses(unit: Unit, *, station_id: str) -> Sequence[ConnectorStatus]:
    await _station(unit, station_id)
    rows = await unit.session.scalars(
        select(ConnectorStatus)
        .where(ConnectorStatus.station_id == station_id)
        .order_by(ConnectorStatus.evse_id, ConnectorStatus.connector_id)
    )
    result = list(rows)
    _detach(unit, result)
    return result


async def list_status_history(
    unit: Unit,
    *,
    station_id: str,
    evse_id: int | None = None,
    connector_id: int | None = None,
    offset: int = 0,
    limit: int = 100,
) -> Page[ConnectorStatusHistory]:
    """Newest first (by arrival)."""
    await _station(unit, station_id)
    h = ConnectorStatusHistory
    query = select(h).where(h.station_id == station_id).order_by(h.id.desc())
    if evse_id is not None:
        query = query.where(h.evse_id == evse_id)
    if connector_id is not None:
        query = query.where(h.connector_id == connector_id)
    return await _page(unit, query, offset, limit)


async def list_security_events(
    unit: Unit,
    *,
    station_id: str | None = None,
    source: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> Page[SecurityEvent]:
    """Newest first. Not limited to known stations: failed logins of unknown ids are here too."""
    query = select(SecurityEvent).order_by(SecurityEvent.id.desc())
    if station_id is not None:
        query = query.where(SecurityEvent.station_id == station_id)
    if source is not None:
        query = query.where(SecurityEvent.source == source)
    return await _page(unit, query, offset, limit)


async def list_boots(
    unit: Unit, *, station_id: str, offset: int = 0, limit: int = 100
) -> Page[StationBoot]:
    await _station(unit, station_id)
    query = (
        select(StationBoot)
        .where(StationBoot.station_id == station_id)
        .order_by(StationBoot.id.desc())
    )
    return await _page(unit, query, offset, limit)


async def list_notifications(
    unit: Unit,
    *,
    station_id: str,
    kind: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> Page[StationNotification]:
    await _station(unit, station_id)
    n = StationNotification
    query = select(n).where(n.station_id == station_id).order_by(n.id.desc())
    if kind is not None:
        query = query.where(n.kind == kind)
    return await _page(unit, query, offset, limit)


async def list_data_transfers(
    unit: Unit, *, station_id: str, offset: int = 0, limit: int = 100
) -> Page[DataTransferMessage]:
    await _station(unit, station_id)
    d = DataTransferMessage
    query = select(d).where(d.station_id == station_id).order_by(d.id.desc())
    return await _page(unit, query, offset, limit)


async def list_reported_variables(
    unit: Unit,
    *,
    station_id: str,
    component_name: str | None = None,
    variable_name: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> Page[ReportedVariable]:
    await _station(unit, station_id)
    r = ReportedVariable
    query = (
        select(r)
        .where(r.station_id == station_id)
        .order_by(r.component_name, r.component_instance, r.evse_id, r.connector_id)
        .order_by(r.variable_name, r.variable_instance, r.attribute_type)
    )
    if component_name is not None:
        query = query.where(r.component_name == component_name)
    if variable_name is not None:
        query = query.where(r.variable_name == variable_name)
    return await _page(unit, query, offset, limit)
