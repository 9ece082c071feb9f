"""Read services for the operator API. A reservation still active in the table but past its
expiry reads as ``expired`` at once: the sweep only makes that durable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from borne.core.errors import InvalidInput, NotFound
from borne.reservations.models import ACTIVE, EXPIRED, STATUSES, Reservation

T = TypeVar("T")
MAX_LIMIT = 500


class SessionHolder(Protocol):
    @property
    def session(self) -> AsyncSession: ...


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class ReservationView:
    id: int
    reservation_id: int
    station_id: str
    ocpp_version: str
    evse_id: int | None
    connector_id: int | None
    id_token: str
    id_token_type: str
    group_id_token: str | None
    expiry: datetime
    status: str
    reason: str | None
    transaction_pk: int | None
    violated_by_transaction_pk: int | None
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


def effective_status(r: Reservation, now: datetime) -> str:
    return EXPIRED if r.status in ACTIVE and r.expiry <= now else r.status


def view_of(r: Reservation, now: datetime) -> ReservationView:
    status = effective_status(r, now)
    ended_at = r.ended_at
    if ended_at is None and status == EXPIRED:
        ended_at = r.expiry
    return ReservationView(
        id=r.id,
        reservation_id=r.reservation_id,
        station_id=r.station_id,
        ocpp_version=r.ocpp_version,
        evse_id=r.evse_id,
        connector_id=r.connector_id,
        id_token=r.id_token,
        id_token_type=r.id_token_type,
        group_id_token=r.group_id_token,
        expiry=r.expiry,
        status=status,
        reason=r.reason,
        transaction_pk=r.transaction_pk,
        violated_by_transaction_pk=r.violated_by_transaction_pk,
        created_at=r.created_at,
        updated_at=r.updated_at,
        ended_at=ended_at,
    )


def status_clause(status: str, now: datetime) -> ColumnElement[bool]:
    """The rows whose *effective* status is ``status``."""
    if status not in STATUSES:
        raise InvalidInput(f"unknown status {status!r}", details={"allowed": list(STATUSES)})
    if status in ACTIVE:
        return and_(Reservation.status == status, Reservation.expiry > now)
    if status == EXPIRED:
        return or_(
            Reservation.status == EXPIRED,
            and_(Reservation.status.in_(ACTIVE), Reservation.expiry <= now),
        )
    return Reservation.status == status


def active_clause(now: datetime) -> ColumnElement[bool]:
    return and_(Reservation.status.in_(ACTIVE), Reservation.expiry > now)


async def get_reservation(uow: SessionHolder, pk: int, *, now: datetime) -> ReservationView:
    row = await uow.session.get(Reservation, pk)
    if row is None:
        raise NotFound(f"no reservation {pk}")
    return view_of(row, now)


async def list_reservations(
    uow: SessionHolder,
    *,
    now: datetime,
    station_id: str | None = None,
    status: str | None = None,
    id_token: str | None = None,
    active_only: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> Page[ReservationView]:
    """Newest first."""
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise InvalidInput(f"limit must be 1..{MAX_LIMIT} and offset ≥ 0")
    conds: list[ColumnElement[bool]] = []
    if station_id is not None:
        conds.append(Reservation.station_id == station_id)
    if status is not None:
        conds.append(status_clause(status, now))
    if id_token is not None:
        conds.append(func.upper(Reservation.id_token) == id_token.upper())
    if active_only:
        conds.append(active_clause(now))
    s = uow.session
    total = (await s.execute(select(func.count(Reservation.id)).where(*conds))).scalar_one()
    rows = await s.execute(
        select(Reservation)
        .where(*conds)
        .order_by(Reservation.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return Page([view_of(r, now) for r in rows.scalars()], total, limit, offset)
