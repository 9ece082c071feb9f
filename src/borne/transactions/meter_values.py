"""Storing sampled values: the hot path of MeterValues and TransactionEvent(Updated).

Rows go in with one multi-row Core ``INSERT`` (executemany), never through the ORM unit of work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, case, select
from sqlalchemy.ext.asyncio import AsyncSession

from borne.core.group_commit import Batch
from borne.transactions.cache import TxInfo
from borne.transactions.events import MeterValuesRecorded
from borne.transactions.models import ENERGY_REGISTER, MeterValueSample, Transaction
from borne.transactions.samples import (
    FLAG_BACKWARDS,
    FLAG_OUTSIDE,
    Assessment,
    SampleIn,
    assess,
    energy_wh,
)

FLAG_UNKNOWN_TX = "unknown_transaction"
SOC = "SoC"
_TABLE = cast(Table, MeterValueSample.__table__)
# Sample flags that also mark the transaction itself.
_TX_LEVEL_FLAGS = (FLAG_BACKWARDS, FLAG_OUTSIDE)


@dataclass(frozen=True)
class Owner:
    """Where samples belong: the station, its EVSE/connector and the transaction if any."""

    station_id: str
    evse_id: int | None
    connector_id: int | None
    transaction_id: str | None = None
    transaction_pk: int | None = None


def sample_rows(
    owner: Owner,
    samples: Sequence[SampleIn],
    flags: Sequence[Sequence[str]],
    received_at: datetime,
) -> list[dict[str, Any]]:
    """The ``meter_values`` rows of ``samples``, inserted by the committer in one executemany."""
    return [
        {
            "transaction_pk": owner.transaction_pk,
            "transaction_id": owner.transaction_id,
            "station_id": owner.station_id,
            "evse_id": owner.evse_id,
            "connector_id": owner.connector_id,
            "timestamp": s.timestamp,
            "measurand": s.measurand,
            "phase": s.phase,
            "location": s.location,
            "unit": s.unit,
            "multiplier": s.multiplier,
            "context": s.context,
            "value": s.value,
            "raw_value": s.raw_value,
            "format": s.format,
            "signed": s.signed,
            "flags": list(f) or None,
            "received_at": received_at,
        }
        for s, f in zip(samples, flags, strict=True)
    ]


async def store_samples(
    batch: Batch,
    owner: Owner,
    samples: Sequence[SampleIn],
    *,
    now: datetime,
    info: TxInfo | None,
    extra_flags: Sequence[str] = (),
) -> Assessment:
    """Assess, flag and insert ``samples``; marks the transaction when they are implausible."""
    result = assess(samples, now, None if info is None else info.window)
    flags = [[*f, *extra_flags] for f in result.flags] if extra_flags else result.flags
    batch.defer_insert(_TABLE, sample_rows(owner, samples, flags, now))
    tx_flags = [f for f in _TX_LEVEL_FLAGS if f in result.any_flags]
    if tx_flags and owner.transaction_pk is not None:
        tx = await batch.session.get(Transaction, owner.transaction_pk)
        if tx is not None:
            tx.add_flags(*tx_flags)
            tx.updated_at = now
    if samples:
        batch.add_event(
            MeterValuesRecorded(
                station_id=owner.station_id,
                transaction_pk=owner.transaction_pk,
                transaction_id=owner.transaction_id,
                samples=len(samples),
                last_timestamp=max(s.timestamp for s in samples),
                last_energy_wh=result.last_energy_wh,
                last_soc=last_soc(samples),
            )
        )
    return result


def last_soc(samples: Sequence[SampleIn]) -> Decimal | None:
    """The value of the latest ``SoC`` sample (percent), by timestamp; None if there is none."""
    best: SampleIn | None = None
    for s in samples:
        if (
            s.measurand == SOC
            and s.value is not None
            and (best is None or s.timestamp >= best.timestamp)
        ):
            best = s
    return None if best is None else best.value


async def register_reading(
    session: AsyncSession, transaction_pk: int, *, last: bool
) -> tuple[datetime, Decimal] | None:
    """The stored energy register of a transaction that bills it, by timestamp: for ``last`` the
    ``Transaction.End`` reading if any, else the latest; otherwise ``Transaction.Begin`` if any,
    else the earliest."""
    c = MeterValueSample
    context = "Transaction.End" if last else "Transaction.Begin"
    stmt = (
        select(c.timestamp, c.value, c.unit, c.multiplier)
        .where(
            c.transaction_pk == transaction_pk,
            c.measurand == ENERGY_REGISTER,
            c.phase.is_(None),
            c.value.is_not(None),
        )
        .order_by(
            case((c.context == context, 0), else_=1),
            c.timestamp.desc() if last else c.timestamp.asc(),
            c.id.desc() if last else c.id.asc(),
        )
        .limit(1)
    )
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    ts, value, unit, multiplier = row
    wh = energy_wh(SampleIn(ts, str(value), value, unit=unit, multiplier=multiplier))
    return None if wh is None else (ts, wh)


def info_of(tx: Transaction, last: tuple[datetime, Decimal] | None = None) -> TxInfo:
    return TxInfo(
        pk=tx.id,
        ended=tx.state != "active",
        started_at=tx.started_at,
        stopped_at=tx.stopped_at,
        meter_start_wh=tx.meter_start_wh,
        last_energy_at=None if last is None else last[0],
        last_energy_wh=None if last is None else last[1],
        charging_state=tx.charging_state,
        id_token=tx.id_token,
        evse_id=tx.evse_id,
        connector_id=tx.connector_id,
    )


async def load_info(session: AsyncSession, station_id: str, transaction_id: str) -> TxInfo | None:
    """What the hot path needs of a transaction, on a cache miss (two SELECTs)."""
    tx = await find_transaction(session, station_id, transaction_id)
    if tx is None:
        return None
    last = await register_reading(session, tx.id, last=True)
    return info_of(tx, last)


async def find_transaction(
    session: AsyncSession, station_id: str, transaction_id: str
) -> Transaction | None:
    stmt = select(Transaction).where(
        Transaction.station_id == station_id, Transaction.transaction_id == transaction_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


@dataclass(frozen=True)
class MeterValuesResult:
    info: TxInfo | None
    stored: int


async def record_meter_values(
    batch: Batch,
    owner: Owner,
    samples: Sequence[SampleIn],
    *,
    now: datetime,
    cached: TxInfo | None,
) -> MeterValuesResult:
    """Store meter values, inside or outside a transaction (both versions' MeterValues).

    With a cached transaction this is one statement (the multi-row INSERT). A transaction id
    Borne does not know is kept on the rows and flagged ``unknown_transaction``.
    """
    info = cached
    if owner.transaction_id is not None and info is None:
        await batch.flush()
        info = await load_info(batch.session, owner.station_id, owner.transaction_id)
    extra: tuple[str, ...] = ()
    if info is not None:
        owner = replace(owner, transaction_pk=info.pk)
    elif owner.transaction_id is not None:
        extra = (FLAG_UNKNOWN_TX,)
    result = await store_samples(batch, owner, samples, now=now, info=info, extra_flags=extra)
    if info is not None and result.last_energy_at is not None:
        info = replace(
            info, last_energy_at=result.last_energy_at, last_energy_wh=result.last_energy_wh
        )
    return MeterValuesResult(info, len(samples))
