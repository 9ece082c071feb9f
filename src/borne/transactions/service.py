"""Transaction use cases, version-agnostic: no OCPP type appears in a signature.

Every write use case is a group-commit work item: it takes a ``Batch``, never commits, and can run
again after a rollback; what it returns is applied to in-memory caches by the caller once
``committer.submit`` has returned (R16). Read services for the operator API live in ``queries``
and are re-exported here.

Rules (see RELIABILITY R8-R15):

- Start retried (same station, connector, token, timestamp and meter start): the same
  transaction is returned, nothing is inserted (R9).
- ConcurrentTx (R10): a start whose token is Accepted but already used by another *active*
  transaction, on any connector of any station, answers ``ConcurrentTx``. The transaction is
  recorded anyway (the station has already started it; it will stop it) and flagged
  ``concurrent_tx``. A start on a connector that still has an active transaction of another token
  is accepted and flagged ``connector_busy``; the older one is left for its own stop. Empty
  tokens and 2.0.1 ``NoAuthorization`` tokens never count as concurrent.
- Stop retried: the stored stop fingerprint matches, nothing is applied again (R8). A second
  stop with different data is flagged ``repeated_stop`` on the transaction and its samples are
  kept, flagged, without changing the stop.
- Stop for an unknown transaction: an ended transaction flagged ``stop_without_start`` is
  recorded with its meter values; no other transaction is touched (R11).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from borne.authorization.external import ExternalAuthorizer
from borne.authorization.service import check_token, token_key
from borne.core.group_commit import Batch
from borne.reservations.service import held_for_other
from borne.transactions.cache import TxInfo
from borne.transactions.events import TransactionEnded, TransactionStarted
from borne.transactions.meter_values import (
    MeterValuesResult,
    Owner,
    find_transaction,
    info_of,
    record_meter_values,
    store_samples,
)
from borne.transactions.models import ACTIVE, ENDED, Transaction
from borne.transactions.queries import (
    MeterValueView,
    Page,
    TransactionView,
    energy_delivered,
    get_transaction,
    list_meter_values,
    list_transactions,
)
from borne.transactions.samples import (
    FLAG_BACKWARDS,
    FLAG_FUTURE,
    FLAG_OUTSIDE,
    FUTURE_TOLERANCE,
    WINDOW_TOLERANCE,
    SampleIn,
    time_flags,
)

__all__ = [
    "Authorization",
    "MeterValueView",
    "MeterValuesResult",
    "Owner",
    "Page",
    "StartIn",
    "StartResult",
    "StopIn",
    "StopResult",
    "TransactionView",
    "authorize",
    "end_transaction",
    "energy_delivered",
    "get_transaction",
    "list_meter_values",
    "list_transactions",
    "record_meter_values",
    "start_transaction",
    "stop_transaction",
]

FLAG_CONCURRENT = "concurrent_tx"
FLAG_CONNECTOR_BUSY = "connector_busy"
FLAG_RESERVED_FOR_OTHER = "reserved_for_other"
FLAG_STOP_WITHOUT_START = "stop_without_start"
FLAG_REPEATED_STOP = "repeated_stop"
NOT_CONCURRENT_TYPES = frozenset({"NoAuthorization"})
_ID_SPACE = 2**31 - 1  # 1.6 transaction ids: positive 31-bit integers


@dataclass(frozen=True)
class Authorization:
    status: str  # Accepted | Blocked | Expired | Invalid | ConcurrentTx
    expiry_date: datetime | None = None
    group_id_token: str | None = None


def counts_for_concurrency(id_token: str | None, token_type: str | None = None) -> bool:
    return bool(id_token) and token_type not in NOT_CONCURRENT_TYPES


async def token_in_use(session: AsyncSession, id_token: str, *, exclude_pk: int | None) -> bool:
    stmt = select(Transaction.id).where(
        Transaction.id_token_key == token_key(id_token), Transaction.state == ACTIVE
    )
    if exclude_pk is not None:
        stmt = stmt.where(Transaction.id != exclude_pk)
    return (await session.execute(stmt.limit(1))).first() is not None


async def authorize(
    session: AsyncSession,
    id_token: str,
    *,
    now: datetime,
    token_type: str | None = None,
    concurrency: bool = True,
    exclude_pk: int | None = None,
    external: ExternalAuthorizer | None = None,
    station_id: str | None = None,
    for_start: bool = False,
) -> Authorization:
    """The token's verdict; an Accepted token active in another transaction is ConcurrentTx.

    ``external``: what it remembers decides for tokens unknown locally (no network here).
    ``for_start``: the token starts the transaction (a master pass member is then Blocked)."""
    verdict = await check_token(
        session, id_token, now=now, external=external, station_id=station_id, for_start=for_start
    )
    status = verdict.status
    if (
        concurrency
        and status == "Accepted"
        and counts_for_concurrency(id_token, token_type)
        and await token_in_use(session, id_token, exclude_pk=exclude_pk)
    ):
        status = "ConcurrentTx"
    return Authorization(status, verdict.expiry_date, verdict.group_id_token)


# --- start (the CSMS assigns the transaction id: OCPP 1.6) ------------------------------------


@dataclass(frozen=True)
class StartIn:
    station_id: str
    ocpp_version: str
    connector_id: int
    evse_id: int | None
    id_token: str
    meter_start_wh: Decimal
    timestamp: datetime
    reservation_id: int | None = None
    # Decides tokens unknown locally from stored decisions (roaming); not part of the data.
    external: ExternalAuthorizer | None = field(default=None, compare=False, repr=False)

    def fingerprint(self) -> str:
        return (
            f"{self.connector_id}|{self.id_token}|{self.timestamp.isoformat()}|"
            f"{self.meter_start_wh}"
        )


@dataclass(frozen=True)
class StartResult:
    transaction_id: str
    ocpp16_id: int
    auth: Authorization
    info: TxInfo
    duplicate: bool


async def start_transaction(batch: Batch, start: StartIn, *, now: datetime) -> StartResult:
    s = batch.session
    fp = start.fingerprint()
    stmt = select(Transaction).where(
        Transaction.station_id == start.station_id, Transaction.start_fingerprint == fp
    )
    existing = (await s.execute(stmt.limit(1))).scalar_one_or_none()
    if existing is not None and existing.ocpp16_id is not None:  # R9: a retried start
        verdict = await check_token(
            s, start.id_token, now=now, external=start.external, station_id=start.station_id
        )
        auth = Authorization(
            existing.auth_status or verdict.status, verdict.expiry_date, verdict.group_id_token
        )
        return StartResult(
            existing.transaction_id, existing.ocpp16_id, auth, info_of(existing), True
        )

    busy = Transaction.station_id == start.station_id
    busy = and_(busy, Transaction.connector_id == start.connector_id)
    key = token_key(start.id_token)
    cond = or_(busy, Transaction.id_token_key == key) if start.id_token else busy
    others = (
        await s.execute(
            select(
                Transaction.station_id, Transaction.connector_id, Transaction.id_token_key
            ).where(Transaction.state == ACTIVE, cond)
        )
    ).all()
    verdict = await check_token(
        s,
        start.id_token,
        now=now,
        external=start.external,
        station_id=start.station_id,
        for_start=True,  # a master pass member may stop any transaction, never start one
    )
    status = verdict.status
    flags = time_flags(start.timestamp, now)
    if counts_for_concurrency(start.id_token) and any(o[2] == key for o in others):
        flags.append(FLAG_CONCURRENT)
        if status == "Accepted":
            status = "ConcurrentTx"
    if any(o[0] == start.station_id and o[1] == start.connector_id for o in others):
        flags.append(FLAG_CONNECTOR_BUSY)
    if status == "Accepted" and await held_for_other(
        s,
        station_id=start.station_id,
        evse_id=start.connector_id,
        id_token=start.id_token,
        group_id_token=verdict.group_id_token,
        reservation_id=start.reservation_id,
        now=now,
    ):
        status = "Invalid"  # the connector is reserved for another driver
        flags.append(FLAG_RESERVED_FOR_OTHER)

    ocpp16_id = await _new_ocpp16_id(s, start.station_id)
    tx = Transaction(
        station_id=start.station_id,
        transaction_id=str(ocpp16_id),
        ocpp16_id=ocpp16_id,
        ocpp_version=start.ocpp_version,
        evse_id=start.evse_id,
        connector_id=start.connector_id,
        id_token=start.id_token,
        id_token_key=key,
        auth_status=status,
        state=ACTIVE,
        started_at=start.timestamp,
        meter_start_wh=start.meter_start_wh,
        reservation_id=start.reservation_id,
        flags=flags,
        start_fingerprint=fp,
        created_at=now,
        updated_at=now,
    )
    s.add(tx)
    await s.flush()
    batch.add_event(started_event(tx))
    auth = Authorization(status, verdict.expiry_date, verdict.group_id_token)
    return StartResult(tx.transaction_id, ocpp16_id, auth, info_of(tx), False)


async def _new_ocpp16_id(session: AsyncSession, station_id: str) -> int:
    """A random positive 31-bit id, free both globally and as this station's transaction id.

    Random so that ids are not guessable from one another (R12). A concurrent insert of the same
    id by another process fails the unique constraint, so the batch is rolled back and this work
    runs again with a fresh draw.
    """
    for _ in range(20):
        candidate = secrets.randbelow(_ID_SPACE) + 1
        taken = await session.execute(
            select(Transaction.id)
            .where(
                or_(
                    Transaction.ocpp16_id == candidate,
                    and_(
                        Transaction.station_id == station_id,
                        Transaction.transaction_id == str(candidate),
                    ),
                )
            )
            .limit(1)
        )
        if taken.first() is None:
            return candidate
    raise RuntimeError("no free transaction id found")  # pragma: no cover


def started_event(tx: Transaction) -> TransactionStarted:
    return TransactionStarted(
        transaction_pk=tx.id,
        station_id=tx.station_id,
        transaction_id=tx.transaction_id,
        ocpp_version=tx.ocpp_version,
        evse_id=tx.evse_id,
        connector_id=tx.connector_id,
        id_token=tx.id_token,
        started_at=tx.started_at,
        meter_start_wh=tx.meter_start_wh,
    )


# --- stop -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StopIn:
    station_id: str
    ocpp_version: str
    transaction_id: str
    id_token: str | None
    meter_stop_wh: Decimal
    timestamp: datetime
    reason: str
    samples: Sequence[SampleIn] = field(default_factory=tuple)

    def fingerprint(self) -> str:
        return f"{self.timestamp.isoformat()}|{self.meter_stop_wh}|{self.reason}|{self.id_token}"


@dataclass(frozen=True)
class StopResult:
    auth: Authorization | None
    info: TxInfo
    outcome: str  # stopped | duplicate | orphan | repeated


def end_transaction(
    tx: Transaction,
    *,
    stopped_at: datetime,
    meter_stop_wh: Decimal | None,
    reason: str | None,
    now: datetime,
) -> TransactionEnded:
    """Close ``tx`` and flag what is implausible about its stop (R13)."""
    flags = []
    if stopped_at > now + FUTURE_TOLERANCE:
        flags.append(FLAG_FUTURE)
    if tx.started_at is not None and stopped_at < tx.started_at - WINDOW_TOLERANCE:
        flags.append(FLAG_OUTSIDE)
    if (
        meter_stop_wh is not None
        and tx.meter_start_wh is not None
        and meter_stop_wh < tx.meter_start_wh
    ):
        flags.append(FLAG_BACKWARDS)
    tx.add_flags(*flags)
    tx.state = ENDED
    tx.stopped_at = stopped_at
    tx.meter_stop_wh = meter_stop_wh
    tx.stop_reason = reason
    tx.updated_at = now
    return ended_event(tx)


def ended_event(tx: Transaction) -> TransactionEnded:
    energy = None
    if tx.meter_stop_wh is not None and tx.meter_start_wh is not None:
        energy = tx.meter_stop_wh - tx.meter_start_wh
    return TransactionEnded(
        transaction_pk=tx.id,
        station_id=tx.station_id,
        transaction_id=tx.transaction_id,
        started_at=tx.started_at,
        stopped_at=tx.stopped_at,
        stop_reason=tx.stop_reason,
        meter_start_wh=tx.meter_start_wh,
        meter_stop_wh=tx.meter_stop_wh,
        energy_wh=energy,
        flags=tuple(tx.flags),
    )


async def stop_transaction(batch: Batch, stop: StopIn, *, now: datetime) -> StopResult:
    s = batch.session
    fp = stop.fingerprint()
    auth = None
    if stop.id_token:
        auth = await authorize(s, stop.id_token, now=now, concurrency=False)
    tx = await find_transaction(s, stop.station_id, stop.transaction_id)
    extra: tuple[str, ...] = ()
    if tx is None:  # R11: record it, touch nothing else
        tx = Transaction(
            station_id=stop.station_id,
            transaction_id=stop.transaction_id,
            ocpp_version=stop.ocpp_version,
            id_token=stop.id_token,
            id_token_key=None if stop.id_token is None else token_key(stop.id_token),
            state=ACTIVE,
            flags=[FLAG_STOP_WITHOUT_START],
            stop_fingerprint=fp,
            created_at=now,
            updated_at=now,
        )
        s.add(tx)
        await s.flush()
        batch.add_event(
            end_transaction(
                tx,
                stopped_at=stop.timestamp,
                meter_stop_wh=stop.meter_stop_wh,
                reason=stop.reason,
                now=now,
            )
        )
        outcome = "orphan"
    elif tx.state == ENDED:
        if tx.stop_fingerprint == fp:  # R8: a retried stop
            return StopResult(auth, info_of(tx), "duplicate")
        tx.add_flags(FLAG_REPEATED_STOP)
        tx.updated_at = now
        extra = (FLAG_REPEATED_STOP,)
        outcome = "repeated"
    else:
        tx.stop_fingerprint = fp
        batch.add_event(
            end_transaction(
                tx,
                stopped_at=stop.timestamp,
                meter_stop_wh=stop.meter_stop_wh,
                reason=stop.reason,
                now=now,
            )
        )
        outcome = "stopped"
    info = info_of(tx)
    owner = Owner(stop.station_id, tx.evse_id, tx.connector_id, tx.transaction_id, tx.id)
    await store_samples(batch, owner, stop.samples, now=now, info=info, extra_flags=extra)
    return StopResult(auth, info, outcome)
