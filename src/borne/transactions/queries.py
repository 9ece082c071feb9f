"""Read services for the operator API: transactions, their meter values, energy delivered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from borne.core.errors import InvalidInput, NotFound
from borne.transactions.meter_values import register_reading
from borne.transactions.models import ACTIVE, MeterValueSample, Transaction

T = TypeVar("T")
MAX_LIMIT = 1000


class SessionHolder(Protocol):
    """A unit of work or a batch: anything that has a session."""

    @property
    def session(self) -> AsyncSession: ...


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class TransactionView:
    id: int
    station_id: str
    transaction_id: str
    ocpp_version: str
    evse_id: int | None
    connector_id: int | None
    id_token: str | None
    auth_status: str | None
    state: str
    charging_state: str | None
    started_at: datetime | None
    stopped_at: datetime | None
    meter_start_wh: Decimal | None
    meter_stop_wh: Decimal | None
    stop_reason: str | None
    remote_start_id: int | None
    flags: tuple[str, ...]
    created_at: datetime
    updated_at: datetime

    @property
    def energy_wh(self) -> Decimal | None:
        """Energy billed for an ended transaction: meter stop - meter start."""
        if self.meter_stop_wh is None or self.meter_start_wh is None:
            return None
        return self.meter_stop_wh - self.meter_start_wh


@dataclass(frozen=True)
class MeterValueView:
    id: int
    transaction_id: str | None
    evse_id: int | None
    connector_id: int | None
    timestamp: datetime
    measurand: str
    phase: str | None
    location: str | None
    unit: str | None
    multiplier: int | None
    context: str | None
    value: Decimal | None
    raw_value: str
    format: str | None
    signed: dict[str, Any] | None
    flags: tuple[str, ...]


def _check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise InvalidInput(f"limit must be 1..{MAX_LIMIT} and offset ≥ 0")


def _view(tx: Transaction) -> TransactionView:
    return TransactionView(
        id=tx.id,
        station_id=tx.station_id,
        transaction_id=tx.transaction_id,
        ocpp_version=tx.ocpp_version,
        evse_id=tx.evse_id,
        connector_id=tx.connector_id,
        id_token=tx.id_token,
        auth_status=tx.auth_status,
        state=tx.state,
        charging_state=tx.charging_state,
        started_at=tx.started_at,
        stopped_at=tx.stopped_at,
        meter_start_wh=tx.meter_start_wh,
        meter_stop_wh=tx.meter_stop_wh,
        stop_reason=tx.stop_reason,
        remote_start_id=tx.remote_start_id,
        flags=tuple(tx.flags or ()),
        created_at=tx.created_at,
        updated_at=tx.updated_at,
    )


async def list_transactions(
    uow: SessionHolder,
    *,
    station_id: str | None = None,
    active_only: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> Page[TransactionView]:
    """Transactions, newest recorded first (by internal id), optionally of one station or only
    the active ones."""
    _check_page(limit, offset)
    conds = []
    if station_id is not None:
        conds.append(Transaction.station_id == station_id)
    if active_only:
        conds.append(Transaction.state == ACTIVE)
    total = await uow.session.scalar(select(func.count(Transaction.id)).where(*conds))
    rows = await uow.session.scalars(
        select(Transaction)
        .where(*conds)
        .order_by(Transaction.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return Page([_view(tx) for tx in rows], int(total or 0), limit, offset)


async def get_transaction(uow: SessionHolder, transaction_pk: int) -> TransactionView:
    tx = await uow.session.get(Transaction, transaction_pk)
    if tx is None:
        raise NotFound(f"transaction {transaction_pk} not found")
    return _view(tx)


async def list_meter_values(
    uow: SessionHolder,
    transaction_pk: int,
    *,
    measurand: str | None = None,
    limit: int = 500,
    offset: int = 0,
) -> Page[MeterValueView]:
    """A transaction's sampled values in timestamp order (then arrival order)."""
    _check_page(limit, offset)
    if await uow.session.get(Transaction, transaction_pk) is None:
        raise NotFound(f"transaction {transaction_pk} not found")
    m = MeterValueSample
    conds = [m.transaction_pk == transaction_pk]
    if measurand is not None:
        conds.append(m.measurand == measurand)
    total = await uow.session.scalar(select(func.count(m.id)).where(*conds))
    rows = await uow.session.scalars(
        select(m).where(*conds).order_by(m.timestamp, m.id).limit(limit).offset(offset)
    )
    items = [
        MeterValueView(
            id=r.id,
            transaction_id=r.transaction_id,
            evse_id=r.evse_id,
            connector_id=r.connector_id,
            timestamp=r.timestamp,
            measurand=r.measurand,
            phase=r.phase,
            location=r.location,
            unit=r.unit,
            multiplier=r.multiplier,
            context=r.context,
            value=r.value,
            raw_value=r.raw_value,
            format=r.format,
            signed=r.signed,
            flags=tuple(r.flags or ()),
        )
        for r in rows
    ]
    return Page(items, int(total or 0), limit, offset)


async def energy_delivered(uow: SessionHolder, transaction_pk: int) -> Decimal | None:
    """Wh delivered: meter stop - meter start once ended; for an active transaction, the latest
    register reading (by timestamp) - meter start. None when the readings are missing."""
    tx = await uow.session.get(Transaction, transaction_pk)
    if tx is None:
        raise NotFound(f"transaction {transaction_pk} not found")
    start = tx.meter_start_wh
    if start is None:
        first = await register_reading(uow.session, tx.id, last=False)
        start = None if first is None else first[1]
    stop = tx.meter_stop_wh
    if stop is None and tx.state == ACTIVE:
        last = await register_reading(uow.session, tx.id, last=True)
        stop = None if last is None else last[1]
    if start is None or stop is None:
        return None
    return stop - start
