"""Stored tariffs: create, update, read, list, delete, assign, and the resolver.

Writes take a unit of work (or batch) and never commit. Every tariff is read with
``parse_tariff`` (2.2.1 or 2.3.0 shape) and checked with ``validate_tariff`` before anything is
written, so a refused tariff leaves nothing behind; refusals are ``InvalidInput`` whose
``details["errors"]`` name each field.

Resolution (:func:`resolve_tariff`), among the tariffs valid at ``at``
(``start_date_time <= at < end_date_time``, open ends allowed) whose scope admits the caller
(a tariff scoped to a partner or token group applies only to that partner / group):

1. regular (non ad hoc) tariffs before ad hoc ones; ad hoc tariffs are the fallback;
2. the most specific assignment: connector > EVSE > location > network default (ad hoc only);
3. scoped to the given partner, then to the given token group, before unscoped;
4. ties: the latest ``start_date_time`` (a scheduled successor replaces its predecessor), then
   the newest record.

None: no tariff applies (free, or unknown price). Two indexed queries per call (the station's
location, then the candidates); the parsed tariff is memoised by its exact stored text, so a
change is never served stale, on one node or many.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from typing import Any, Generic, Literal, Protocol, TypeVar

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from borne.core.errors import Conflict, InvalidInput, NotFound
from borne.locations import service as locations
from borne.stations import admin as stations_admin
from borne.tariffs.events import TariffAssigned, TariffChanged
from borne.tariffs.models import TariffAssignment, TariffRecord
from borne.tariffs.ocpi_tariff import (
    OcpiVersion,
    Tariff,
    dumps_exact,
    parse_tariff,
    tariff_to_ocpi,
)
from borne.tariffs.validation import validate_tariff

T = TypeVar("T")
MAX_PAGE = 500
Level = Literal["connector", "evse", "location", "default"]
_LEVEL_RANK: Mapping[str, int] = {"connector": 0, "evse": 1, "location": 2, "default": 3}
PARTNER = r"^[A-Za-z]{2}\*[A-Za-z0-9]{3}$"
_PARTNER = re.compile(PARTNER)
_OCPI_ID = re.compile(locations.OCPI_ID)
_MIN_TIME = datetime.min.replace(tzinfo=UTC)


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


class _Unset(Enum):
    UNSET = "UNSET"


UNSET = _Unset.UNSET


@dataclass(frozen=True)
class ResolvedTariff:
    record_id: int  # internal pk
    tariff: Tariff  # canonical model (borne.tariffs)
    time_zone: str  # IANA zone of the station's location, "UTC" if none


@dataclass(frozen=True)
class Resolution:
    """What :func:`resolve` found, with why it was chosen (for price displays)."""

    resolved: ResolvedTariff
    level: Level
    partner: str | None
    token_group: str | None
    ad_hoc: bool


@dataclass(frozen=True)
class AssignmentTarget:
    """Where a tariff applies: exactly one of a connector (station + EVSE + connector), an EVSE
    (station + EVSE), a location, or the network default (ad hoc tariffs only)."""

    location_id: str | None = None
    station_id: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    default: bool = False

    @property
    def level(self) -> Level:
        if self.default:
            return "default"
        if self.location_id is not None:
            return "location"
        return "evse" if self.connector_id is None else "connector"

    @property
    def key(self) -> str:
        level = self.level
        if level == "default":
            return "default"
        if level == "location":
            return f"location:{self.location_id}"
        if level == "evse":
            return f"evse:{self.station_id}:{self.evse_id}"
        return f"connector:{self.station_id}:{self.evse_id}:{self.connector_id}"

    def check(self) -> AssignmentTarget:
        station = self.station_id is not None or self.evse_id is not None
        shapes = [
            self.default,
            self.location_id is not None,
            station or self.connector_id is not None,
        ]
        reason = None
        if sum(shapes) != 1:
            reason = (
                "give exactly one target: location_id, station_id + evse_id "
                "(+ connector_id), or default"
            )
        elif shapes[2] and (self.station_id is None or self.evse_id is None):
            reason = "an EVSE or connector target needs station_id and evse_id"
        elif any(v is not None and v < 1 for v in (self.evse_id, self.connector_id)):
            reason = "evse_id and connector_id are 1 or more"
        if reason is not None:
            raise InvalidInput(
                f"invalid assignment target: {reason}",
                details={"errors": [{"field": "target", "reason": reason}]},
            )
        return self


@dataclass(frozen=True)
class AssignmentView:
    record_id: int
    level: Level
    location_id: str | None
    station_id: str | None
    evse_id: int | None
    connector_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class TariffView:
    record_id: int
    tariff: Tariff
    origin_version: OcpiVersion
    partner: str | None
    token_group: str | None
    ad_hoc: bool
    created_at: datetime
    last_updated: datetime
    assignments: tuple[AssignmentView, ...]


# --------------------------------------------------------------------------- checks


def _refuse(field: str, reason: str) -> InvalidInput:
    return InvalidInput(
        f"invalid tariff: {field}: {reason}",
        details={"errors": [{"field": field, "reason": reason}]},
    )


def normalise_partner(partner: str | None) -> str | None:
    """A roaming partner's party key ``CC*PPP`` (upper-cased), or None."""
    if partner is None:
        return None
    if not _PARTNER.match(partner):
        raise _refuse("partner", "a party key CC*PPP (country code, '*', party id)")
    return partner.upper()


def normalise_token_group(group: str | None) -> str | None:
    """An id token group (compared case-insensitively, as id tokens are), or None."""
    if group is None:
        return None
    if not 1 <= len(group) <= 255 or any(not c.isprintable() for c in group):
        raise _refuse("token_group", "1 to 255 printable characters")
    return group.upper()


def check_tariff(
    data: Mapping[str, Any] | Tariff,
    version: OcpiVersion | None = None,
    *,
    partner: str | None = None,
    token_group: str | None = None,
    ad_hoc: bool = False,
) -> Tariff:
    """Parse (2.2.1 or 2.3.0 shape) and validate a tariff with its storage options; refuse
    with every offending field named. Stores nothing (the ``validate`` endpoint)."""
    tariff = data if isinstance(data, Tariff) else parse_tariff(data, version)
    errors: list[dict[str, str]] = []
    try:
        validate_tariff(tariff)
    except InvalidInput as exc:
        errors.extend(exc.details.get("errors") or [{"field": "tariff", "reason": exc.message}])
    if not re.fullmatch(r"[A-Za-z]{2}", tariff.country_code):
        errors.append({"field": "country_code", "reason": "ISO 3166-1 alpha-2 code, 2 letters"})
    if not re.fullmatch(r"[A-Za-z0-9]{3}", tariff.party_id):
        errors.append({"field": "party_id", "reason": "3 letters or digits"})
    if not 1 <= len(tariff.id) <= 36 or not _OCPI_ID.match(tariff.id):
        errors.append({"field": "id", "reason": "1 to 36 printable ASCII characters, no space"})
    for name, value, check in (
        ("partner", partner, normalise_partner),
        ("token_group", token_group, normalise_token_group),
    ):
        try:
            check(value)
        except InvalidInput as exc:
            errors.extend(exc.details["errors"])
        if ad_hoc and value is not None:
            errors.append({"field": name, "reason": "an ad hoc (no contract) tariff has no scope"})
    if errors:
        first = errors[0]
        raise InvalidInput(
            f"invalid tariff: {first['field']}: {first['reason']}", details={"errors": errors}
        )
    return tariff


def _origin(tariff: Tariff) -> OcpiVersion:
    return "2.2.1" if tariff.tax_included is None else "2.3.0"


@lru_cache(maxsize=512)
def load_tariff(body: str, origin_version: str) -> Tariff:
    """The canonical tariff of a stored record. A pure memo keyed by the exact stored text:
    an updated tariff has another text, so nothing is ever served stale."""
    tariff = parse_tariff(json.loads(body, parse_float=Decimal), "2.3.0")
    if origin_version == "2.2.1":  # back to the 2.2.1 VAT reading (see models)
        tariff = tariff.model_copy(update={"tax_included": None})
    return tariff


def _tariff_of(record: TariffRecord) -> Tariff:
    return load_tariff(record.body, record.origin_version)


def _store(record: TariffRecord, tariff: Tariff, now: datetime) -> None:
    tariff = tariff.model_copy(update={"last_updated": now})
    record.ocpi_id = tariff.id
    record.country_code = tariff.country_code.upper()
    record.party_id = tariff.party_id.upper()
    record.currency = tariff.currency
    record.origin_version = _origin(tariff)
    record.body = dumps_exact(tariff_to_ocpi(tariff, "2.3.0"))
    record.start_date_time = tariff.start_date_time
    record.end_date_time = tariff.end_date_time
    record.last_updated = now


# --------------------------------------------------------------------------- reads


async def _record(unit: Unit, record_id: int) -> TariffRecord:
    record = await unit.session.get(TariffRecord, record_id)
    if record is None:
        raise NotFound(f"tariff {record_id} not found", details={"tariff_id": record_id})
    return record


def _assignment_view(a: TariffAssignment) -> AssignmentView:
    return AssignmentView(
        record_id=a.tariff_id,
        level=a.level,  # type: ignore[arg-type]
        location_id=a.location_id,
        station_id=a.station_id,
        evse_id=a.evse_id,
        connector_id=a.connector_id,
        created_at=a.created_at,
    )


async def _views(session: AsyncSession, records: Sequence[TariffRecord]) -> list[TariffView]:
    ids = [r.id for r in records]
    by_record: dict[int, list[AssignmentView]] = {}
    if ids:
        rows = await session.scalars(
            select(TariffAssignment)
            .where(TariffAssignment.tariff_id.in_(ids))
            .order_by(TariffAssignment.id)
        )
        for a in rows:
            by_record.setdefault(a.tariff_id, []).append(_assignment_view(a))
    return [
        TariffView(
            record_id=r.id,
            tariff=_tariff_of(r),
            origin_version=r.origin_version,  # type: ignore[arg-type]
            partner=r.partner,
            token_group=r.token_group,
            ad_hoc=r.ad_hoc,
            created_at=r.created_at,
            last_updated=r.last_updated,
            assignments=tuple(by_record.get(r.id, [])),
        )
        for r in records
    ]


async def get_tariff(unit: Unit, *, record_id: int) -> TariffView:
    return (await _views(unit.session, [await _record(unit, record_id)]))[0]


async def list_tariffs(
    unit: Unit,
    *,
    offset: int = 0,
    limit: int = 50,
    ad_hoc: bool | None = None,
    partner: str | None = None,
    token_group: str | None = None,
    ocpi_id: str | None = None,
) -> Page[TariffView]:
    """Tariffs by record id, optionally filtered."""
    if offset < 0 or not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"offset must be >= 0 and limit between 1 and {MAX_PAGE}")
    query = select(TariffRecord).order_by(TariffRecord.id)
    if ad_hoc is not None:
        query = query.where(TariffRecord.ad_hoc == ad_hoc)
    if partner is not None:
        query = query.where(TariffRecord.partner == normalise_partner(partner))
    if token_group is not None:
        query = query.where(TariffRecord.token_group == normalise_token_group(token_group))
    if ocpi_id is not None:
        query = query.where(TariffRecord.ocpi_id == ocpi_id)
    total = await unit.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = list(await unit.session.scalars(query.offset(offset).limit(limit)))
    return Page(await _views(unit.session, rows), int(total or 0), offset, limit)


# --------------------------------------------------------------------------- writes


async def _check_unique(unit: Unit, tariff: Tariff, record_id: int | None) -> None:
    r = TariffRecord
    clash = await unit.session.scalar(
        select(r.id).where(
            r.country_code == tariff.country_code.upper(),
            r.party_id == tariff.party_id.upper(),
            r.ocpi_id == tariff.id,
        )
    )
    if clash is not None and clash != record_id:
        raise Conflict(
            f"tariff {tariff.country_code}/{tariff.party_id}/{tariff.id} already exists",
            details={"tariff_id": clash, "ocpi_id": tariff.id},
        )


async def create_tariff(
    unit: Unit,
    *,
    data: Mapping[str, Any] | Tariff,
    now: datetime,
    version: OcpiVersion | None = None,
    partner: str | None = None,
    token_group: str | None = None,
    ad_hoc: bool = False,
) -> TariffView:
    """Store a tariff given as OCPI JSON (2.2.1 or 2.3.0, Decimal numbers) or a model.
    Its ``last_updated`` becomes ``now``. Same (country_code, party_id, id) twice → 409."""
    tariff = check_tariff(data, version, partner=partner, token_group=token_group, ad_hoc=ad_hoc)
    await _check_unique(unit, tariff, None)
    record = TariffRecord(
        partner=normalise_partner(partner),
        token_group=normalise_token_group(token_group),
        ad_hoc=ad_hoc,
        created_at=now,
    )
    _store(record, tariff, now)
    unit.session.add(record)
    await unit.session.flush()
    unit.add_event(
        TariffChanged(record.id, record.ocpi_id, record.country_code, record.party_id, "created")
    )
    return (await _views(unit.session, [record]))[0]


async def update_tariff(
    unit: Unit,
    *,
    record_id: int,
    now: datetime,
    data: Mapping[str, Any] | Tariff | _Unset = UNSET,
    version: OcpiVersion | None = None,
    partner: str | _Unset | None = UNSET,
    token_group: str | _Unset | None = UNSET,
    ad_hoc: bool | _Unset = UNSET,
) -> TariffView:
    """Replace the tariff and/or change its scope in place (``UNSET`` keeps a value). The
    OCPI identity (country_code, party_id, id) cannot change; a tariff assigned as the network
    default must stay ad hoc."""
    record = await _record(unit, record_id)
    new_partner = record.partner if partner is UNSET else partner
    new_group = record.token_group if token_group is UNSET else token_group
    new_ad_hoc = record.ad_hoc if ad_hoc is UNSET else ad_hoc
    current = _tariff_of(record)
    source = current if data is UNSET else data
    tariff = check_tariff(
        source, version, partner=new_partner, token_group=new_group, ad_hoc=new_ad_hoc
    )
    identity = (tariff.country_code.upper(), tariff.party_id.upper(), tariff.id)
    if identity != (record.country_code, record.party_id, record.ocpi_id):
        raise _refuse(
            "id", "country_code, party_id and id of a stored tariff never change; create another"
        )
    if not new_ad_hoc and record.ad_hoc:
        default = await unit.session.scalar(
            select(TariffAssignment.id).where(
                TariffAssignment.tariff_id == record_id, TariffAssignment.level == "default"
            )
        )
        if default is not None:
            raise Conflict(
                f"tariff {record_id} is the network default and must stay ad hoc; "
                "unassign it first",
                details={"tariff_id": record_id},
            )
    record.partner = normalise_partner(new_partner)
    record.token_group = normalise_token_group(new_group)
    record.ad_hoc = new_ad_hoc
    _store(record, tariff, now)
    await unit.session.flush()
    unit.add_event(
        TariffChanged(record.id, record.ocpi_id, record.country_code, record.party_id, "updated")
    )
    return (await _views(unit.session, [record]))[0]


async def delete_tariff(unit: Unit, *, record_id: int) -> None:
    """Delete a tariff; refused (409) while it is assigned anywhere."""
    record = await _record(unit, record_id)
    assigned = await unit.session.scalar(
        select(func.count()).where(TariffAssignment.tariff_id == record_id)
    )
    if assigned:
        raise Conflict(
            f"tariff {record_id} is still assigned ({assigned} assignments); unassign it first",
            details={"tariff_id": record_id, "assignments": int(assigned)},
        )
    await unit.session.delete(record)
    await unit.session.flush()
    unit.add_event(
        TariffChanged(record_id, record.ocpi_id, record.country_code, record.party_id, "deleted")
    )


async def _find_assignment(
    unit: Unit, record_id: int, target: AssignmentTarget
) -> TariffAssignment | None:
    found: TariffAssignment | None = await unit.session.scalar(
        select(TariffAssignment).where(
            TariffAssignment.tariff_id == record_id, TariffAssignment.target == target.key
        )
    )
    return found


async def assign_tariff(
    unit: Unit, *, record_id: int, target: AssignmentTarget, now: datetime
) -> AssignmentView:
    """Assign the tariff to ``target`` (idempotent). The location or station must exist; the
    network default takes an ad hoc tariff only."""
    target.check()
    record = await _record(unit, record_id)
    if target.default and not record.ad_hoc:
        raise _refuse("default", "only an ad hoc tariff can be the network default")
    if target.location_id is not None:
        if not await locations.location_exists(unit.session, target.location_id):
            raise NotFound(
                f"location {target.location_id} not found",
                details={"location_id": target.location_id},
            )
    elif target.station_id is not None:
        await stations_admin.get_station(unit, station_id=target.station_id)
    existing = await _find_assignment(unit, record_id, target)
    if existing is not None:
        return _assignment_view(existing)
    row = TariffAssignment(
        tariff_id=record_id,
        level=target.level,
        target=target.key,
        location_id=target.location_id,
        station_id=target.station_id,
        evse_id=target.evse_id,
        connector_id=target.connector_id,
        created_at=now,
    )
    unit.session.add(row)
    await unit.session.flush()
    unit.add_event(
        TariffAssigned(
            record_id,
            target.level,
            True,
            target.location_id,
            target.station_id,
            target.evse_id,
            target.connector_id,
        )
    )
    return _assignment_view(row)


async def unassign_tariff(unit: Unit, *, record_id: int, target: AssignmentTarget) -> None:
    """Take the tariff off ``target``; 404 when it was not assigned there."""
    target.check()
    await _record(unit, record_id)
    existing = await _find_assignment(unit, record_id, target)
    if existing is None:
        raise NotFound(
            f"tariff {record_id} is not assigned to {target.key}",
            details={"tariff_id": record_id, "target": target.key},
        )
    await unit.session.delete(existing)
    await unit.session.flush()
    unit.add_event(
        TariffAssigned(
            record_id,
            target.level,
            False,
            target.location_id,
            target.station_id,
            target.evse_id,
            target.connector_id,
        )
    )


# --------------------------------------------------------------------------- resolver


async def resolve(
    session: AsyncSession,
    *,
    station_id: str,
    evse_id: int | None,
    connector_id: int | None,
    at: datetime,
    token_group: str | None = None,
    partner: str | None = None,
) -> Resolution | None:
    """:func:`resolve_tariff` with the reasons of the choice (level, scope, ad hoc)."""
    if at.tzinfo is None:
        raise InvalidInput("resolve_tariff needs a timezone-aware 'at'")
    place = await locations.locate_station(session, station_id)
    a, t = TariffAssignment, TariffRecord
    targets = [a.level == "default"]
    if place is not None:
        targets.append(and_(a.level == "location", a.location_id == place.location_id))
    if evse_id is not None:
        targets.append(and_(a.level == "evse", a.station_id == station_id, a.evse_id == evse_id))
        if connector_id is not None:
            targets.append(
                and_(
                    a.level == "connector",
                    a.station_id == station_id,
                    a.evse_id == evse_id,
                    a.connector_id == connector_id,
                )
            )
    group = token_group.upper() if token_group else None
    party = partner.upper() if partner else None
    query = (
        select(a.level, t)
        .join(t, t.id == a.tariff_id)
        .where(
            or_(*targets),
            or_(t.start_date_time.is_(None), t.start_date_time <= at),
            or_(t.end_date_time.is_(None), t.end_date_time > at),
            t.partner.is_(None) if party is None else or_(t.partner.is_(None), t.partner == party),
            t.token_group.is_(None)
            if group is None
            else or_(t.token_group.is_(None), t.token_group == group),
        )
    )
    rows = (await session.execute(query)).all()
    if not rows:
        return None

    def rank(row: Any) -> tuple[Any, ...]:
        level, r = row[0], row[1]
        start = r.start_date_time or _MIN_TIME
        return (
            r.ad_hoc,
            _LEVEL_RANK[level],
            r.partner is None,
            r.token_group is None,
            -start.timestamp(),
            -r.id,
        )

    level, record = min(rows, key=rank)
    assert level in _LEVEL_RANK
    time_zone = locations.DEFAULT_TIME_ZONE if place is None else place.time_zone
    return Resolution(
        ResolvedTariff(record.id, _tariff_of(record), time_zone),
        level,  # type: ignore[arg-type]
        record.partner,
        record.token_group,
        record.ad_hoc,
    )


async def resolve_tariff(
    session: AsyncSession,
    *,
    station_id: str,
    evse_id: int | None,
    connector_id: int | None,
    at: datetime,
    token_group: str | None = None,
    partner: str | None = None,
) -> ResolvedTariff | None:
    """The tariff that prices a session on this connector started at ``at`` (see the module
    docstring for the rules), with the time zone its restrictions are read in; None when no
    tariff applies. Reads only; safe inside a group-commit batch."""
    found = await resolve(
        session,
        station_id=station_id,
        evse_id=evse_id,
        connector_id=connector_id,
        at=at,
        token_group=token_group,
        partner=partner,
    )
    return None if found is None else found.resolved
