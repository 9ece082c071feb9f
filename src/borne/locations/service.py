"""Location use cases: CRUD, stations at a location, EVSE / connector descriptors, time zone.

Writes take a unit of work (or group-commit batch) and never commit; reads return frozen views
that outlive the unit of work. Rules:

* a station belongs to at most one location; attaching it to another one moves it;
* deleting a location detaches its stations (their EVSE descriptors stay with the station) and
  is refused (409) while tariffs are assigned to it;
* EVSE descriptors are keyed by ``(station_id, evse_id)`` and can be written only while the
  station is at that location; a PUT replaces the EVSE and all its connectors;
* :func:`location_time_zone` answers ``"UTC"`` for a station without a location.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from borne.core.errors import Conflict, InvalidInput, NotFound
from borne.locations.events import LocationChanged
from borne.locations.extras import check_evse_extra, check_location_extra
from borne.locations.models import ConnectorDescriptor, EvseDescriptor, Location, StationLocation
from borne.stations import admin as stations_admin

T = TypeVar("T")
MAX_PAGE = 500
DEFAULT_TIME_ZONE = "UTC"

#: OCPI CiString ids usable in a URL path: printable ASCII without space, / ? # % or \.
OCPI_ID = r"^[\x21\x22\x24\x26-\x2e\x30-\x3e\x40-\x5b\x5d-\x7e]+$"
_OCPI_ID = re.compile(OCPI_ID)
_COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")
_PARTY_ID = re.compile(r"^[A-Z0-9]{3}$")
_COUNTRY = re.compile(r"^[A-Z]{3}$")
_LATITUDE = re.compile(r"^-?[0-9]{1,2}\.[0-9]{5,7}$")
_LONGITUDE = re.compile(r"^-?[0-9]{1,3}\.[0-9]{5,7}$")

CONNECTOR_FORMATS = frozenset({"SOCKET", "CABLE"})
#: OCPI PowerType; phases used to derive a connector's power from voltage and amperage.
POWER_TYPES: Mapping[str, int] = {
    "AC_1_PHASE": 1,
    "AC_2_PHASE": 2,
    "AC_2_PHASE_SPLIT": 2,
    "AC_3_PHASE": 3,
    "DC": 1,
}
#: OCPI ConnectorType values are upper-case words (2.3.0 adds some, so the set is open).
_STANDARD = re.compile(r"^[A-Za-z0-9_]{1,32}$")
#: IANA names start with a capital ("localtime" and "posixrules" are system files, not zones).
_TZ_NAME = re.compile(r"^[A-Z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$")

_REQUIRED = frozenset(
    {"country_code", "party_id", "address", "city", "country", "latitude", "longitude", "time_zone"}
)
_OPTIONAL = frozenset({"name", "postal_code", "state"})
_LIMITS = {"name": 255, "address": 255, "city": 45, "postal_code": 10, "state": 45}


class Unit(Protocol):
    """A unit of work or a group-commit batch: a session and a place for events."""

    @property
    def session(self) -> AsyncSession: ...

    def add_event(self, event: object) -> None: ...


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    total: int
    offset: int
    limit: int


@dataclass(frozen=True)
class ConnectorSpec:
    """A connector as written by the operator (OCPI Connector fields)."""

    connector_id: int
    standard: str
    format: str
    power_type: str
    max_voltage: int
    max_amperage: int
    max_electric_power: int | None = None


@dataclass(frozen=True)
class ConnectorView:
    station_id: str
    evse_id: int
    connector_id: int
    evse_uid: str
    standard: str
    format: str
    power_type: str
    max_voltage: int
    max_amperage: int
    max_electric_power: int | None
    updated_at: datetime

    @property
    def max_power_w(self) -> int:
        """``max_electric_power``, else voltage x amperage x phases (OCPI's rule)."""
        if self.max_electric_power is not None:
            return self.max_electric_power
        return self.max_voltage * self.max_amperage * POWER_TYPES.get(self.power_type, 1)


@dataclass(frozen=True)
class EvseView:
    station_id: str
    evse_id: int
    evse_uid: str
    physical_reference: str | None
    connectors: tuple[ConnectorView, ...]
    updated_at: datetime
    ocpi_extra: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class StationAtLocation:
    station_id: str
    attached_at: datetime
    evses: tuple[EvseView, ...]


@dataclass(frozen=True)
class LocationView:
    id: str
    country_code: str
    party_id: str
    name: str | None
    address: str
    city: str
    postal_code: str | None
    state: str | None
    country: str
    latitude: str
    longitude: str
    time_zone: str
    publish: bool
    created_at: datetime
    updated_at: datetime
    stations: tuple[StationAtLocation, ...]
    ocpi_extra: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class StationPlace:
    """Where a station stands: its location and that location's time zone."""

    station_id: str
    location_id: str
    time_zone: str


# --------------------------------------------------------------------------- validation


def _errors(errors: list[dict[str, str]]) -> None:
    if errors:
        first = errors[0]
        raise InvalidInput(
            f"invalid location: {first['field']}: {first['reason']}", details={"errors": errors}
        )


def check_time_zone(value: str) -> str:
    """An IANA time zone name known to this system's tz database."""
    if value == DEFAULT_TIME_ZONE:
        return value
    if not _TZ_NAME.match(value) or value == "Factory":
        raise InvalidInput(
            f"unknown time zone {value!r}",
            details={"errors": [{"field": "time_zone", "reason": "not an IANA time zone name"}]},
        )
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        ok = False
    else:
        ok = value in zoneinfo.available_timezones()
    if not ok:
        raise InvalidInput(
            f"unknown time zone {value!r}",
            details={"errors": [{"field": "time_zone", "reason": "not an IANA time zone name"}]},
        )
    return value


def check_location_id(value: str, field: str = "id") -> str:
    if not 1 <= len(value) <= 36 or not _OCPI_ID.match(value):
        raise InvalidInput(
            f"invalid {field} {value!r}",
            details={
                "errors": [
                    {
                        "field": field,
                        "reason": "1 to 36 printable ASCII characters, no space, /, ?, #, % or \\",
                    }
                ]
            },
        )
    return value


def _coordinate(value: str, pattern: re.Pattern[str], bound: int) -> str | None:
    if not pattern.match(value):
        return "decimal degrees with 5 to 7 decimals, e.g. 50.770774"
    try:
        if abs(Decimal(value)) > bound:
            return f"must be between -{bound} and {bound}"
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        return "not a number"
    return None


def _field_error(key: str, value: Any) -> str | None:
    """Why ``value`` is not a valid location ``key`` (None: it is)."""
    reason: str | None = None
    if key == "country_code" and not _COUNTRY_CODE.match(value):
        reason = "ISO 3166-1 alpha-2 code, 2 letters"
    elif key == "party_id" and not _PARTY_ID.match(value):
        reason = "3 letters or digits"
    elif key == "country" and not _COUNTRY.match(value):
        reason = "ISO 3166-1 alpha-3 code, 3 letters"
    elif key == "latitude":
        reason = _coordinate(value, _LATITUDE, 90)
    elif key == "longitude":
        reason = _coordinate(value, _LONGITUDE, 180)
    elif key == "time_zone":
        try:
            check_time_zone(value)
        except InvalidInput:
            reason = "not an IANA time zone name"
    elif key in _LIMITS and value is not None and not 1 <= len(value) <= _LIMITS[key]:
        reason = f"1 to {_LIMITS[key]} characters"
    return reason


def _check_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Check (and normalise: codes upper-cased) the location fields present in ``fields``."""
    errors: list[dict[str, str]] = []
    out: dict[str, Any] = {}
    for key, raw in fields.items():
        if key in _REQUIRED and raw is None:
            errors.append({"field": key, "reason": "required, cannot be null"})
            continue
        value = raw.upper() if key in ("country_code", "party_id", "country") else raw
        reason = _field_error(key, value)
        if reason is not None:
            errors.append({"field": key, "reason": reason})
        out[key] = value
    _errors(errors)
    return out


# --------------------------------------------------------------------------- reads


async def _location(unit: Unit, location_id: str) -> Location:
    location = await unit.session.get(Location, location_id)
    if location is None:
        raise NotFound(f"location {location_id} not found", details={"location_id": location_id})
    return location


def _connector_view(c: ConnectorDescriptor, evse_uid: str) -> ConnectorView:
    return ConnectorView(
        station_id=c.station_id,
        evse_id=c.evse_id,
        connector_id=c.connector_id,
        evse_uid=evse_uid,
        standard=c.standard,
        format=c.format,
        power_type=c.power_type,
        max_voltage=c.max_voltage,
        max_amperage=c.max_amperage,
        max_electric_power=c.max_electric_power,
        updated_at=c.updated_at,
    )


async def _evses(session: AsyncSession, station_ids: Sequence[str]) -> dict[str, list[EvseView]]:
    if not station_ids:
        return {}
    evses = list(
        await session.scalars(
            select(EvseDescriptor)
            .where(EvseDescriptor.station_id.in_(station_ids))
            .order_by(EvseDescriptor.station_id, EvseDescriptor.evse_id)
        )
    )
    connectors = list(
        await session.scalars(
            select(ConnectorDescriptor)
            .where(ConnectorDescriptor.station_id.in_(station_ids))
            .order_by(ConnectorDescriptor.connector_id)
        )
    )
    by_evse: dict[tuple[str, int], list[ConnectorDescriptor]] = {}
    for c in connectors:
        by_evse.setdefault((c.station_id, c.evse_id), []).append(c)
    out: dict[str, list[EvseView]] = {}
    for e in evses:
        out.setdefault(e.station_id, []).append(
            EvseView(
                station_id=e.station_id,
                evse_id=e.evse_id,
                evse_uid=e.evse_uid,
                physical_reference=e.physical_reference,
                connectors=tuple(
                    _connector_view(c, e.evse_uid)
                    for c in by_evse.get((e.station_id, e.evse_id), [])
                ),
                updated_at=e.updated_at,
                ocpi_extra=e.ocpi_extra,
            )
        )
    return out


async def _views(session: AsyncSession, locations: Sequence[Location]) -> list[LocationView]:
    ids = [loc.id for loc in locations]
    links: list[StationLocation] = []
    if ids:
        links = list(
            await session.scalars(
                select(StationLocation)
                .where(StationLocation.location_id.in_(ids))
                .order_by(StationLocation.station_id)
            )
        )
    evses = await _evses(session, [link.station_id for link in links])
    stations: dict[str, list[StationAtLocation]] = {}
    for link in links:
        stations.setdefault(link.location_id, []).append(
            StationAtLocation(
                link.station_id, link.attached_at, tuple(evses.get(link.station_id, []))
            )
        )
    return [
        LocationView(
            id=loc.id,
            country_code=loc.country_code,
            party_id=loc.party_id,
            name=loc.name,
            address=loc.address,
            city=loc.city,
            postal_code=loc.postal_code,
            state=loc.state,
            country=loc.country,
            latitude=loc.latitude,
            longitude=loc.longitude,
            time_zone=loc.time_zone,
            publish=loc.publish,
            created_at=loc.created_at,
            updated_at=loc.updated_at,
            stations=tuple(stations.get(loc.id, [])),
            ocpi_extra=loc.ocpi_extra,
        )
        for loc in locations
    ]


async def get_location(unit: Unit, *, location_id: str) -> LocationView:
    """The location with its stations and their EVSE / connector descriptors."""
    location = await _location(unit, location_id)
    return (await _views(unit.session, [location]))[0]


async def get_locations(session: AsyncSession, location_ids: Sequence[str]) -> list[LocationView]:
    """The given locations (unknown ids left out), in the order of ``location_ids``; a few
    queries whatever their number (OCPI pages)."""
    if not location_ids:
        return []
    rows = {
        loc.id: loc
        for loc in await session.scalars(select(Location).where(Location.id.in_(location_ids)))
    }
    return await _views(session, [rows[i] for i in location_ids if i in rows])


async def list_locations(unit: Unit, *, offset: int = 0, limit: int = 50) -> Page[LocationView]:
    """Locations ordered by id, each with its stations."""
    if offset < 0 or not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"offset must be >= 0 and limit between 1 and {MAX_PAGE}")
    total = await unit.session.scalar(select(func.count()).select_from(Location))
    rows = list(
        await unit.session.scalars(
            select(Location).order_by(Location.id).offset(offset).limit(limit)
        )
    )
    return Page(await _views(unit.session, rows), int(total or 0), offset, limit)


async def locate_station(session: AsyncSession, station_id: str) -> StationPlace | None:
    """The station's location and time zone (one indexed read), None when it has none."""
    row = (
        await session.execute(
            select(StationLocation.location_id, Location.time_zone)
            .join(Location, Location.id == StationLocation.location_id)
            .where(StationLocation.station_id == station_id)
        )
    ).first()
    if row is None:
        return None
    return StationPlace(station_id, row[0], row[1])


async def location_time_zone(session: AsyncSession, station_id: str) -> str:
    """The IANA time zone of the station's location; ``"UTC"`` when the station has no
    location (or is unknown), so tariff restrictions are then read in UTC."""
    place = await locate_station(session, station_id)
    return DEFAULT_TIME_ZONE if place is None else place.time_zone


async def get_time_zone(unit: Unit, *, location_id: str) -> str:
    """A location's time zone (404 for an unknown location)."""
    return (await _location(unit, location_id)).time_zone


async def location_exists(session: AsyncSession, location_id: str) -> bool:
    return await session.get(Location, location_id) is not None


async def station_connectors(session: AsyncSession, station_id: str) -> list[ConnectorView]:
    """The connector descriptors of a station, by EVSE then connector."""
    evses = await _evses(session, [station_id])
    return [c for e in evses.get(station_id, []) for c in e.connectors]


# --------------------------------------------------------------------------- writes


async def create_location(
    unit: Unit,
    *,
    location_id: str,
    now: datetime,
    country_code: str,
    party_id: str,
    address: str,
    city: str,
    country: str,
    latitude: str,
    longitude: str,
    time_zone: str,
    name: str | None = None,
    postal_code: str | None = None,
    state: str | None = None,
    publish: bool = True,
    ocpi_extra: Mapping[str, Any] | None = None,
) -> LocationView:
    check_location_id(location_id)
    extra = check_location_extra(ocpi_extra)
    fields = _check_fields(
        {
            "country_code": country_code,
            "party_id": party_id,
            "address": address,
            "city": city,
            "country": country,
            "latitude": latitude,
            "longitude": longitude,
            "time_zone": time_zone,
            "name": name,
            "postal_code": postal_code,
            "state": state,
        }
    )
    if await unit.session.get(Location, location_id) is not None:
        raise Conflict(
            f"location {location_id} already exists", details={"location_id": location_id}
        )
    location = Location(
        id=location_id,
        publish=publish,
        ocpi_extra=extra,
        created_at=now,
        updated_at=now,
        **fields,
    )
    unit.session.add(location)
    try:
        await unit.session.flush()
    except IntegrityError:
        raise Conflict(f"location {location_id} already exists") from None
    unit.add_event(LocationChanged(location_id, "created"))
    return (await _views(unit.session, [location]))[0]


async def update_location(
    unit: Unit, *, location_id: str, now: datetime, changes: Mapping[str, Any]
) -> LocationView:
    """Change the fields in ``changes`` (``name``, ``postal_code``, ``state`` may be set to
    None; the others may not; ``ocpi_extra`` is replaced whole, None clears it). The id never
    changes."""
    unknown = set(changes) - _REQUIRED - _OPTIONAL - {"publish", "ocpi_extra"}
    if unknown:
        raise InvalidInput(f"unknown location fields: {sorted(unknown)}")
    fields = _check_fields({k: v for k, v in changes.items() if k not in ("publish", "ocpi_extra")})
    extra = check_location_extra(changes.get("ocpi_extra"))
    location = await _location(unit, location_id)
    for key, value in fields.items():
        setattr(location, key, value)
    if changes.get("publish") is not None:
        location.publish = bool(changes["publish"])
    if "ocpi_extra" in changes:
        location.ocpi_extra = extra
    location.updated_at = now
    unit.add_event(LocationChanged(location_id, "updated"))
    return (await _views(unit.session, [location]))[0]


async def delete_location(unit: Unit, *, location_id: str) -> None:
    """Delete a location; its stations are detached. Refused while tariffs are assigned to it."""
    location = await _location(unit, location_id)
    gone = await _evse_uids_at(unit.session, location_id)
    await unit.session.delete(location)
    try:
        await unit.session.flush()
    except IntegrityError:
        raise Conflict(
            f"location {location_id} still has tariffs assigned to it; unassign them first",
            details={"location_id": location_id},
        ) from None
    unit.add_event(
        LocationChanged(
            location_id,
            "deleted",
            evse_uids=gone,
            party=(location.country_code, location.party_id),
        )
    )


async def _evse_uids_at(
    session: AsyncSession, location_id: str, station_id: str | None = None
) -> tuple[str, ...]:
    """The EVSE uids partners see at the location (of one station only, if given)."""
    query = (
        select(EvseDescriptor.evse_uid)
        .join(StationLocation, StationLocation.station_id == EvseDescriptor.station_id)
        .where(StationLocation.location_id == location_id)
        .order_by(EvseDescriptor.evse_uid)
    )
    if station_id is not None:
        query = query.where(EvseDescriptor.station_id == station_id)
    return tuple(await session.scalars(query))


async def attach_station(
    unit: Unit, *, location_id: str, station_id: str, now: datetime
) -> LocationView:
    """Put the station at this location (moving it from another one, if any)."""
    location = await _location(unit, location_id)
    await stations_admin.get_station(unit, station_id=station_id)
    link = await unit.session.get(StationLocation, station_id)
    if link is None:
        unit.session.add(
            StationLocation(station_id=station_id, location_id=location_id, attached_at=now)
        )
    elif link.location_id != location_id:
        gone = await _evse_uids_at(unit.session, link.location_id, station_id)
        unit.add_event(
            LocationChanged(link.location_id, "station_detached", station_id, evse_uids=gone)
        )
        link.location_id = location_id
        link.attached_at = now
    else:
        return (await _views(unit.session, [location]))[0]
    location.updated_at = now
    await unit.session.flush()
    unit.add_event(LocationChanged(location_id, "station_attached", station_id))
    return (await _views(unit.session, [location]))[0]


async def _link(unit: Unit, location_id: str, station_id: str) -> StationLocation:
    await _location(unit, location_id)
    link = await unit.session.get(StationLocation, station_id)
    if link is None or link.location_id != location_id:
        raise NotFound(
            f"station {station_id} is not at location {location_id}",
            details={"location_id": location_id, "station_id": station_id},
        )
    return link


async def detach_station(unit: Unit, *, location_id: str, station_id: str, now: datetime) -> None:
    """Remove the station from the location; its EVSE descriptors stay with the station."""
    link = await _link(unit, location_id, station_id)
    gone = await _evse_uids_at(unit.session, location_id, station_id)
    await unit.session.delete(link)
    location = await _location(unit, location_id)
    location.updated_at = now
    await unit.session.flush()
    unit.add_event(LocationChanged(location_id, "station_detached", station_id, evse_uids=gone))


def _check_evse(
    evse_id: int, evse_uid: str, physical_reference: str | None, connectors: Sequence[ConnectorSpec]
) -> None:
    errors: list[dict[str, str]] = []
    if not 1 <= evse_id <= 2**31 - 1:
        errors.append({"field": "evse_id", "reason": "must be 1 or more"})
    if not 1 <= len(evse_uid) <= 36 or not _OCPI_ID.match(evse_uid):
        errors.append(
            {"field": "evse_uid", "reason": "1 to 36 printable ASCII characters, no space"}
        )
    if physical_reference is not None and not 1 <= len(physical_reference) <= 16:
        errors.append({"field": "physical_reference", "reason": "1 to 16 characters"})
    if not connectors:
        errors.append({"field": "connectors", "reason": "an EVSE has at least one connector"})
    seen: set[int] = set()
    for i, c in enumerate(connectors):
        where = f"connectors[{i}]"
        if c.connector_id in seen:
            errors.append({"field": f"{where}.connector_id", "reason": "duplicate connector id"})
        seen.add(c.connector_id)
        if not 1 <= c.connector_id <= 2**31 - 1:
            errors.append({"field": f"{where}.connector_id", "reason": "must be 1 or more"})
        if not _STANDARD.match(c.standard):
            errors.append({"field": f"{where}.standard", "reason": "an OCPI ConnectorType"})
        if c.format not in CONNECTOR_FORMATS:
            errors.append({"field": f"{where}.format", "reason": "SOCKET or CABLE"})
        if c.power_type not in POWER_TYPES:
            errors.append(
                {"field": f"{where}.power_type", "reason": f"one of {', '.join(POWER_TYPES)}"}
            )
        for name in ("max_voltage", "max_amperage", "max_electric_power"):
            value = getattr(c, name)
            if value is not None and not 1 <= value <= 2**31 - 1:
                errors.append({"field": f"{where}.{name}", "reason": "must be a positive integer"})
    _errors(errors)


async def put_evse(
    unit: Unit,
    *,
    location_id: str,
    station_id: str,
    evse_id: int,
    evse_uid: str,
    connectors: Sequence[ConnectorSpec],
    now: datetime,
    physical_reference: str | None = None,
    ocpi_extra: Mapping[str, Any] | None = None,
) -> EvseView:
    """Describe (or re-describe) an EVSE and all its connectors; the station must be at the
    location. Connectors not listed are removed. A changed ``evse_uid`` retires the old one:
    the event names it so partners learn it was removed."""
    _check_evse(evse_id, evse_uid, physical_reference, connectors)
    extra = check_evse_extra(ocpi_extra)
    await _link(unit, location_id, station_id)
    session = unit.session
    clash = await session.scalar(
        select(EvseDescriptor).where(
            EvseDescriptor.evse_uid == evse_uid,
            (EvseDescriptor.station_id != station_id) | (EvseDescriptor.evse_id != evse_id),
        )
    )
    if clash is not None:
        raise Conflict(
            f"EVSE uid {evse_uid} is already used by {clash.station_id} EVSE {clash.evse_id}",
            details={"evse_uid": evse_uid},
        )
    evse = await session.get(EvseDescriptor, (station_id, evse_id))
    retired: tuple[str, ...] = ()
    if evse is None:
        evse = EvseDescriptor(station_id=station_id, evse_id=evse_id, evse_uid=evse_uid)
        session.add(evse)
    elif evse.evse_uid != evse_uid:
        retired = (evse.evse_uid,)
    evse.evse_uid = evse_uid
    evse.physical_reference = physical_reference
    evse.ocpi_extra = extra
    evse.updated_at = now
    await session.flush()
    await session.execute(
        delete(ConnectorDescriptor).where(
            ConnectorDescriptor.station_id == station_id, ConnectorDescriptor.evse_id == evse_id
        )
    )
    rows = [
        ConnectorDescriptor(
            station_id=station_id,
            evse_id=evse_id,
            connector_id=c.connector_id,
            standard=c.standard,
            format=c.format,
            power_type=c.power_type,
            max_voltage=c.max_voltage,
            max_amperage=c.max_amperage,
            max_electric_power=c.max_electric_power,
            updated_at=now,
        )
        for c in sorted(connectors, key=lambda c: c.connector_id)
    ]
    session.add_all(rows)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"EVSE uid {evse_uid} is already used") from None
    unit.add_event(
        LocationChanged(location_id, "evse_changed", station_id, evse_id, evse_uids=retired)
    )
    return EvseView(
        station_id,
        evse_id,
        evse_uid,
        physical_reference,
        tuple(_connector_view(r, evse_uid) for r in rows),
        now,
        extra,
    )


async def delete_evse(unit: Unit, *, location_id: str, station_id: str, evse_id: int) -> None:
    await _link(unit, location_id, station_id)
    evse = await unit.session.get(EvseDescriptor, (station_id, evse_id))
    if evse is None:
        raise NotFound(
            f"station {station_id} has no EVSE {evse_id} described",
            details={"station_id": station_id, "evse_id": evse_id},
        )
    await unit.session.execute(
        delete(ConnectorDescriptor).where(
            ConnectorDescriptor.station_id == station_id, ConnectorDescriptor.evse_id == evse_id
        )
    )
    gone = (evse.evse_uid,)
    await unit.session.delete(evse)
    await unit.session.flush()
    unit.add_event(
        LocationChanged(location_id, "evse_changed", station_id, evse_id, evse_uids=gone)
    )


async def touch(
    session: AsyncSession,
    *,
    now: datetime,
    location_id: str | None = None,
    station_id: str | None = None,
    evse_id: int | None = None,
    connector_id: int | None = None,
) -> None:
    """Move ``updated_at`` of what a change outside this domain altered for partners (a tariff
    assigned or taken off): a location with its EVSEs and connectors, or one station's EVSE
    (with its connectors) or connector. Keeps OCPI ``last_updated`` and date windows true."""
    if location_id is not None:
        await session.execute(
            update(Location).where(Location.id == location_id).values(updated_at=now)
        )
        stations = select(StationLocation.station_id).where(
            StationLocation.location_id == location_id
        )
        await session.execute(
            update(EvseDescriptor)
            .where(EvseDescriptor.station_id.in_(stations))
            .values(updated_at=now)
        )
        await session.execute(
            update(ConnectorDescriptor)
            .where(ConnectorDescriptor.station_id.in_(stations))
            .values(updated_at=now)
        )
        return
    if station_id is None or evse_id is None:
        return
    await session.execute(
        update(EvseDescriptor)
        .where(EvseDescriptor.station_id == station_id, EvseDescriptor.evse_id == evse_id)
        .values(updated_at=now)
    )
    connectors = update(ConnectorDescriptor).where(
        ConnectorDescriptor.station_id == station_id, ConnectorDescriptor.evse_id == evse_id
    )
    if connector_id is not None:
        connectors = connectors.where(ConnectorDescriptor.connector_id == connector_id)
    await session.execute(connectors.values(updated_at=now))
