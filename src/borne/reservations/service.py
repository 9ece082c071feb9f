"""Reservation use cases, version-agnostic.

- ``reserve``: a row is stored (status ``requested``, OCPP id drawn) before ReserveNow is sent,
  and no database session is held while the station answers. The station's answer sets the
  status (``accepted``, ``rejected``, ``occupied``, ``faulted``, ``unavailable``); a CALLERROR
  or a value the station's schema refuses → ``failed``; a timeout leaves ``requested`` (the
  station may hold it) until the expiry.
- ``cancel``: CancelReservation; Accepted → ``cancelled``; Rejected means the station does not
  hold it (any more) → ``cancelled`` too, with reason ``not_held_by_station``.
- ``record_status_update`` (2.0.1 ReservationStatusUpdate): Expired → ``expired``, Removed →
  ``cancelled`` (reason ``removed_by_station``).
- ``record_transaction_start``: a transaction carrying the reservation id, or started by the
  reserved token (or its group) on the reserved EVSE or on a station-wide reservation, uses it.
  A start of another token on a reserved EVSE/connector while the reservation is active is
  recorded on the reservation (``violated_by_transaction_pk``).
- ``held_for_other``: the hook for the start paths to refuse such a start (see the module's
  report); ``sweep_expired``: makes time expiry durable (1.6 stations never report it).

Only active reservations (``requested``/``accepted``) change: every later message about an ended
reservation is acknowledged and ignored.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from borne.authorization.service import find_token
from borne.commands import service as commands
from borne.commands.results import CommandResult, IdTokenKind
from borne.core.errors import (
    BorneError,
    Conflict,
    InvalidInput,
    NotFound,
    StationCallTimeout,
    StationNotConnected,
)
from borne.core.uow import Database, UnitOfWork
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.versions import OcppVersion
from borne.reservations.events import ReservationChanged, ReservationViolated
from borne.reservations.models import (
    ACCEPTED,
    ACTIVE,
    CANCELLED,
    EXPIRED,
    FAILED,
    REQUESTED,
    USED,
    Reservation,
)
from borne.reservations.queries import ReservationView, effective_status, view_of

# Borne's ids live in [2^30, 2^31 - 1] (OCPP ids are 32-bit signed integers); OCPI roaming's
# ids are the sequential keys of ``roaming_reservations``, far below.
ID_LOW = 2**30
ID_SPAN = 2**31 - 1 - ID_LOW
_ANSWERS = {"Accepted", "Rejected", "Occupied", "Faulted", "Unavailable"}


@dataclass(frozen=True)
class ReserveIn:
    station_id: str
    id_token: str
    expiry: datetime
    id_token_type: IdTokenKind = "Central"
    evse_id: int | None = None
    connector_id: int | None = None
    group_id_token: str | None = None


@dataclass(frozen=True)
class CancelOutcome:
    reservation: ReservationView
    station_status: str


def _target(
    version: OcppVersion, evse_id: int | None, connector_id: int | None
) -> tuple[int | None, int | None]:
    """(evse_id, connector_id) as stored; (None, None) is the whole station.

    1.6 has one number (a connector, recorded as both, as transactions do); 2.0.1 reserves an
    EVSE (a connector alone names the EVSE, as the commands do)."""
    if version is OcppVersion.V16:
        if evse_id is not None and connector_id not in (None, 1):
            raise InvalidInput(
                "OCPP 1.6 reserves a connector by one number: give connector_id alone"
            )
        one = evse_id if evse_id is not None else connector_id
        return (one, one) if one else (None, None)
    evse = evse_id if evse_id is not None else connector_id
    connector = connector_id if evse_id is not None else None
    return (evse, connector) if evse else (None, None)


def _changed(r: Reservation) -> ReservationChanged:
    return ReservationChanged(
        reservation_pk=r.id,
        reservation_id=r.reservation_id,
        station_id=r.station_id,
        status=r.status,
        reason=r.reason,
        transaction_pk=r.transaction_pk,
    )


def _end(uow: UnitOfWork, r: Reservation, status: str, now: datetime, reason: str | None) -> None:
    r.status = status
    r.reason = reason
    r.updated_at = now
    if status not in ACTIVE:
        r.ended_at = now
    uow.add_event(_changed(r))


async def _new_reservation_id(session: AsyncSession) -> int:
    """Random, so that one reservation id says nothing of the others."""
    for _ in range(20):
        candidate = ID_LOW + secrets.randbelow(ID_SPAN + 1)
        taken = await session.execute(
            select(Reservation.id).where(Reservation.reservation_id == candidate).limit(1)
        )
        if taken.first() is None:
            return candidate
    raise RuntimeError("no free reservation id found")  # pragma: no cover


async def _store(
    db: Database, req: ReserveIn, version: OcppVersion, now: datetime
) -> tuple[int, int, int | None, int | None]:
    """(pk, OCPP id, evse, connector) of the new row."""
    evse, connector = _target(version, req.evse_id, req.connector_id)
    for attempt in range(3):
        try:
            async with db.unit_of_work() as uow:
                row = Reservation(
                    reservation_id=await _new_reservation_id(uow.session),
                    station_id=req.station_id,
                    ocpp_version=str(version),
                    evse_id=evse,
                    connector_id=connector,
                    id_token=req.id_token,
                    id_token_type=req.id_token_type,
                    group_id_token=req.group_id_token,
                    expiry=req.expiry,
                    status=REQUESTED,
                    created_at=now,
                    updated_at=now,
                )
                uow.session.add(row)
                await uow.session.flush()
                stored = (row.id, row.reservation_id, evse, connector)
                await uow.commit()
                return stored
        except IntegrityError:  # the same id drawn concurrently: draw again
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


async def _apply(db: Database, pk: int, now: datetime, status: str, reason: str | None) -> None:
    async with db.unit_of_work() as uow:
        row = await uow.session.get(Reservation, pk)
        # A start or a status update may have overtaken the answer: it wins.
        if row is not None and row.status == REQUESTED:
            if status == REQUESTED:
                row.reason, row.updated_at = reason, now
            else:
                _end(uow, row, status, now, reason)
        await uow.commit()


async def reserve(
    db: Database,
    outbound: OcppOutbound,
    req: ReserveIn,
    *,
    now: datetime,
    call_timeout: float | None = None,
) -> tuple[ReservationView, CommandResult]:
    """Store the reservation and send ReserveNow; errors after storing are re-raised (the
    reservation stays listable with its reason)."""
    if req.expiry <= now:
        raise InvalidInput("expiry must be in the future")
    version = outbound.version_of(req.station_id)
    if version is None:
        raise StationNotConnected(f"station {req.station_id} is not connected")
    pk, reservation_id, evse, connector = await _store(db, req, version, now)
    try:
        result = await commands.reserve_now(
            outbound,
            req.station_id,
            reservation_id=reservation_id,
            id_token=req.id_token,
            id_token_type=req.id_token_type,
            expiry=req.expiry,
            evse_id=evse,
            connector_id=None if version is OcppVersion.V16 else connector,
            group_id_token=req.group_id_token,
            call_timeout=call_timeout,
        )
    except StationCallTimeout:
        await _apply(db, pk, now, REQUESTED, "station_timeout")
        raise
    except BorneError as exc:
        await _apply(db, pk, now, FAILED, f"{exc.code}: {exc.message}"[:255])
        raise
    status = result.status.lower() if result.status in _ANSWERS else FAILED
    reason = result.reason if status != FAILED else f"unexpected status {result.status}"
    await _apply(db, pk, now, status, reason)
    async with db.unit_of_work() as uow:
        row = await uow.session.get(Reservation, pk)
        assert row is not None
        return view_of(row, now), result


async def cancel(
    db: Database,
    outbound: OcppOutbound,
    pk: int,
    *,
    now: datetime,
    call_timeout: float | None = None,
) -> CancelOutcome:
    async with db.unit_of_work() as uow:
        row = await uow.session.get(Reservation, pk)
        if row is None:
            raise NotFound(f"no reservation {pk}")
        status = effective_status(row, now)
        if status not in ACTIVE:
            raise Conflict(f"reservation {pk} is {status}", details={"status": status})
        station_id, reservation_id = row.station_id, row.reservation_id
    result = await commands.cancel_reservation(
        outbound, station_id, reservation_id=reservation_id, call_timeout=call_timeout
    )
    async with db.unit_of_work() as uow:
        row = await uow.session.get(Reservation, pk)
        assert row is not None
        if row.status in ACTIVE:
            reason = None if result.status == "Accepted" else "not_held_by_station"
            _end(uow, row, CANCELLED, now, reason)
        await uow.commit()
        return CancelOutcome(view_of(row, now), result.status)


async def _find(session: AsyncSession, station_id: str, reservation_id: int) -> Reservation | None:
    stmt = select(Reservation).where(
        Reservation.reservation_id == reservation_id, Reservation.station_id == station_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def record_status_update(
    uow: UnitOfWork, *, station_id: str, reservation_id: int, update: str, now: datetime
) -> ReservationView | None:
    """2.0.1 ReservationStatusUpdate; None for a reservation Borne did not make here (e.g. an
    OCPI partner's) or one that had ended already."""
    row = await _find(uow.session, station_id, reservation_id)
    if row is None or row.status not in ACTIVE:
        return None
    if update == "Expired":
        _end(uow, row, EXPIRED, now, None)
    else:
        _end(uow, row, CANCELLED, now, "removed_by_station")
    return view_of(row, now)


async def _group_of(session: AsyncSession, id_token: str) -> str | None:
    token = await find_token(session, id_token)
    return None if token is None else token.group_id_token


def _holds_for(r: Reservation, id_token: str, group: str | None) -> bool:
    if r.id_token.upper() == id_token.upper():
        return True
    return (
        r.group_id_token is not None
        and group is not None
        and (r.group_id_token.upper() == group.upper())
    )


async def _active_on_station(
    session: AsyncSession, station_id: str, evse_id: int | None, now: datetime
) -> list[Reservation]:
    """Active reservations of the station covering ``evse_id``: its own and station-wide ones,
    EVSE-specific first, oldest first."""
    where = or_(Reservation.evse_id.is_(None), Reservation.evse_id == evse_id)
    stmt = (
        select(Reservation)
        .where(
            Reservation.station_id == station_id,
            Reservation.status.in_(ACTIVE),
            Reservation.expiry > now,
            where,
        )
        .order_by(Reservation.id)
    )
    rows = list((await session.execute(stmt)).scalars())
    return sorted(rows, key=lambda r: r.evse_id is None)


async def record_transaction_start(
    uow: UnitOfWork,
    *,
    transaction_pk: int,
    station_id: str,
    evse_id: int | None,
    id_token: str | None,
    reservation_id: int | None,
    started_at: datetime | None,
    now: datetime,
) -> ReservationView | None:
    """Mark the reservation this start uses, or record the start as a violation. Returns the
    reservation touched, if any. Runs again harmlessly (nothing changes a second time)."""
    s = uow.session
    at = started_at or now
    if reservation_id is not None:
        row = await _find(s, station_id, reservation_id)
        if row is not None:
            # The station honoured it: used even if the start reaches Borne after the expiry.
            if row.status in ACTIVE or (row.status == EXPIRED and row.transaction_pk is None):
                row.transaction_pk = transaction_pk
                _end(uow, row, USED, now, None)
                return view_of(row, now)
            return None
    if not id_token or evse_id is None:
        return None
    candidates = await _active_on_station(s, station_id, evse_id, at)
    if not candidates:
        return None
    group = await _group_of(s, id_token)
    for r in candidates:
        if _holds_for(r, id_token, group):
            r.transaction_pk = transaction_pk
            _end(uow, r, USED, now, None)
            return view_of(r, now)
    for r in candidates:
        # Station-wide reservations keep *a* connector free: another token may take one.
        if r.evse_id is not None and r.violated_by_transaction_pk is None:
            r.violated_by_transaction_pk = transaction_pk
            r.updated_at = now
            uow.add_event(ReservationViolated(r.id, station_id, transaction_pk))
            return view_of(r, now)
    return None


async def held_for_other(
    session: AsyncSession,
    *,
    station_id: str,
    evse_id: int | None,
    id_token: str,
    group_id_token: str | None,
    reservation_id: int | None,
    now: datetime,
) -> bool:
    """True when a start of ``id_token`` on ``evse_id`` (1.6: the connector) would take an EVSE
    reserved for another token: the hook the transaction start paths call to refuse it.

    ``group_id_token``: the token's group as the start path already knows it (from its own
    authorization), so that no extra read is needed. One indexed read when nothing is reserved.
    """
    if evse_id is None or not id_token:
        return False
    stmt = select(Reservation).where(
        Reservation.station_id == station_id,
        Reservation.evse_id == evse_id,
        Reservation.status.in_(ACTIVE),
        Reservation.expiry > now,
    )
    rows = list((await session.execute(stmt)).scalars())
    return bool(rows) and not any(
        r.reservation_id == reservation_id or _holds_for(r, id_token, group_id_token) for r in rows
    )


async def sweep_expired(uow: UnitOfWork, *, now: datetime, limit: int = 500) -> int:
    """Persist ``expired`` for active reservations past their expiry; how many changed."""
    stmt = (
        select(Reservation)
        .where(and_(Reservation.status.in_(ACTIVE), Reservation.expiry <= now))
        .order_by(Reservation.expiry)
        .limit(limit)
    )
    rows = list((await uow.session.execute(stmt)).scalars())
    for r in rows:
        _end(uow, r, EXPIRED, now, None)
        r.ended_at = r.expiry
    return len(rows)


__all__ = [
    "ACCEPTED",
    "CancelOutcome",
    "ReserveIn",
    "cancel",
    "held_for_other",
    "record_status_update",
    "record_transaction_start",
    "reserve",
    "sweep_expired",
]
