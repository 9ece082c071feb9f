"""The event-sourced transaction lifecycle (OCPP 2.0.1 TransactionEvent), version-neutral types.

Rules (R8, R13, R14):

- Every event is logged once per (transaction, seqNo): ``INSERT … ON CONFLICT DO NOTHING`` (same
  SQL on SQLite and PostgreSQL). A duplicate seqNo — a retry with a new message id included —
  is acknowledged and applies nothing, so an Ended retried records one stop and one set of meter
  values (R8). seqNo may restart per transaction: it is scoped by transaction.
- Order is not assumed. Updated or Ended before Started creates the transaction (flag
  ``started_missing``, replaced by ``started_late`` when Started arrives). Events after Ended —
  whatever their seqNo — are logged and their meter values stored (flagged when outside the
  transaction window), but they never change state: state updates are guarded in SQL by
  ``state = 'active'``. A second Ended with another seqNo is flagged ``repeated_end``.
- Ended: ``stopped_at`` = event timestamp, ``stop_reason`` = stoppedReason (default ``Local``),
  meter stop = the Ended message's ``Transaction.End`` register, else its latest register, else
  the latest stored register by timestamp; meter start if Started carried none = the stored
  ``Transaction.Begin`` or earliest register.
- Hot path (Updated, transaction and its recent seqNos cached, see ``cache.SeqTracker``): the
  seqNo is known to be new without a query, so the event-log row and the samples are deferred
  to the batch's executemany; an UPDATE only when chargingState, remoteStartId or a first token
  change. Otherwise the event is logged with ``ON CONFLICT DO NOTHING … RETURNING`` and the
  transaction's recent seqNos are read back so the next event can take the hot path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from borne.authorization.external import ExternalAuthorizer
from borne.authorization.service import token_key
from borne.core.group_commit import Batch
from borne.reservations.service import held_for_other
from borne.transactions.cache import SEQ_WINDOW, TxInfo
from borne.transactions.meter_values import (
    Owner,
    find_transaction,
    info_of,
    load_info,
    register_reading,
    store_samples,
)
from borne.transactions.models import ACTIVE, ENDED, Transaction, TransactionEventLog
from borne.transactions.samples import SampleIn, pick_start_wh, pick_stop_wh, time_flags
from borne.transactions.service import (
    FLAG_CONCURRENT,
    FLAG_RESERVED_FOR_OTHER,
    Authorization,
    authorize,
    end_transaction,
    started_event,
)

FLAG_STARTED_MISSING = "started_missing"
FLAG_STARTED_LATE = "started_late"
FLAG_REPEATED_END = "repeated_end"
_LOG = cast(Table, TransactionEventLog.__table__)


@dataclass(frozen=True)
class TxEventIn:
    station_id: str
    ocpp_version: str
    transaction_id: str
    event_type: str  # Started | Updated | Ended
    seq_no: int
    timestamp: datetime
    trigger_reason: str
    offline: bool = False
    evse_id: int | None = None
    connector_id: int | None = None
    id_token: str | None = None
    id_token_type: str | None = None
    charging_state: str | None = None
    stopped_reason: str | None = None
    remote_start_id: int | None = None
    reservation_id: int | None = None
    samples: Sequence[SampleIn] = field(default_factory=tuple)
    # Decides tokens unknown locally from stored decisions (roaming); not part of the data.
    external: ExternalAuthorizer | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class TxEventResult:
    auth: Authorization | None
    info: TxInfo
    duplicate: bool
    # The transaction's highest logged seqNos, read on the slow path to seed the cache's tracker.
    seq_nos: tuple[int, ...] | None = None


async def record_transaction_event(
    batch: Batch,
    ev: TxEventIn,
    *,
    now: datetime,
    cached: TxInfo | None,
    seq_is_new: bool = False,
) -> TxEventResult:
    """Apply one TransactionEvent. ``seq_is_new``: the caller's tracker proved the seqNo unseen
    (only with ``cached``), so the event log needs no conflict check."""
    if seq_is_new and cached is not None and ev.event_type == "Updated":
        return await _updated(batch, ev, cached, now, seq_is_new=True)
    result = await _record(batch, ev, now=now, cached=cached)
    await batch.flush()
    rows = await batch.session.execute(
        select(_LOG.c.seq_no)
        .where(_LOG.c.transaction_pk == result.info.pk)
        .order_by(_LOG.c.seq_no.desc())
        .limit(SEQ_WINDOW)
    )
    return replace(result, seq_nos=tuple(rows.scalars()))


async def _record(
    batch: Batch, ev: TxEventIn, *, now: datetime, cached: TxInfo | None
) -> TxEventResult:
    s = batch.session
    if ev.event_type == "Updated":
        if cached is None:
            await batch.flush()
        info = cached or await load_info(s, ev.station_id, ev.transaction_id)
        if info is not None:
            return await _updated(batch, ev, info, now)
    tx = await find_transaction(s, ev.station_id, ev.transaction_id)
    created = tx is None
    if tx is None:
        tx = Transaction(
            station_id=ev.station_id,
            transaction_id=ev.transaction_id,
            ocpp_version=ev.ocpp_version,
            evse_id=ev.evse_id,
            connector_id=ev.connector_id,
            state=ACTIVE,
            started_at=ev.timestamp,
            flags=time_flags(ev.timestamp, now)
            + ([] if ev.event_type == "Started" else [FLAG_STARTED_MISSING]),
            offline=ev.offline,
            created_at=now,
            updated_at=now,
        )
        if ev.event_type == "Started":
            tx.meter_start_wh = pick_start_wh(ev.samples)
        s.add(tx)
        await s.flush()
    elif ev.event_type == "Started" and FLAG_STARTED_MISSING in tx.flags:
        tx.flags = [FLAG_STARTED_LATE if f == FLAG_STARTED_MISSING else f for f in tx.flags]
        tx.started_at = ev.timestamp
        tx.meter_start_wh = pick_start_wh(ev.samples) or tx.meter_start_wh
    if not await _log_event(s, tx.id, ev, now):
        if created:  # cannot happen (a new transaction has no logged event): kept for safety
            batch.add_event(started_event(tx))
        return TxEventResult(await _auth_again(s, ev, tx, now), info_of(tx), True)

    was_ended = tx.state == ENDED
    auth = await _authorize(s, ev, tx, now=now, ended=was_ended)
    if created:
        # built after ``_authorize`` recorded the message's token, so the event carries it
        batch.add_event(started_event(tx))
    if not was_ended:
        tx.evse_id = tx.evse_id if tx.evse_id is not None else ev.evse_id
        tx.connector_id = tx.connector_id if tx.connector_id is not None else ev.connector_id
        tx.charging_state = ev.charging_state or tx.charging_state
        tx.remote_start_id = ev.remote_start_id or tx.remote_start_id
        tx.reservation_id = ev.reservation_id or tx.reservation_id
        tx.offline = tx.offline or ev.offline
    tx.updated_at = now
    extra: tuple[str, ...] = ()
    if ev.event_type == "Ended" and was_ended:
        tx.add_flags(FLAG_REPEATED_END)
        extra = (FLAG_REPEATED_END,)
    owner = Owner(ev.station_id, tx.evse_id, tx.connector_id, tx.transaction_id, tx.id)
    window = info_of(tx)
    if cached is not None:
        window = replace(
            window, last_energy_at=cached.last_energy_at, last_energy_wh=cached.last_energy_wh
        )
    if ev.event_type == "Ended" and not was_ended:
        window = replace(window, stopped_at=ev.timestamp)
    result = await store_samples(batch, owner, ev.samples, now=now, info=window, extra_flags=extra)
    if ev.event_type == "Ended" and not was_ended:
        stop = pick_stop_wh(ev.samples)
        await batch.flush()
        if stop is None:
            last = await register_reading(s, tx.id, last=True)
            stop = None if last is None else last[1]
        if tx.meter_start_wh is None:
            first = await register_reading(s, tx.id, last=False)
            tx.meter_start_wh = None if first is None else first[1]
        tx.ended_seq_no = ev.seq_no
        batch.add_event(
            end_transaction(
                tx,
                stopped_at=ev.timestamp,
                meter_stop_wh=stop,
                reason=ev.stopped_reason or "Local",
                now=now,
            )
        )
    info = info_of(tx)
    if result.last_energy_at is not None:
        info = replace(
            info, last_energy_at=result.last_energy_at, last_energy_wh=result.last_energy_wh
        )
    return TxEventResult(auth, info, False)


async def _updated(
    batch: Batch, ev: TxEventIn, info: TxInfo, now: datetime, *, seq_is_new: bool = False
) -> TxEventResult:
    """The hot path: a known transaction, an Updated event."""
    s = batch.session
    if seq_is_new:
        batch.defer_insert(_LOG, [_log_row(info.pk, ev, now)])
    elif not await _log_event(s, info.pk, ev, now):
        auth = None
        if ev.id_token:
            auth = await authorize(
                s,
                ev.id_token,
                now=now,
                concurrency=False,
                external=ev.external,
                station_id=ev.station_id,
            )
        return TxEventResult(auth, info, True)
    evse = info.evse_id if info.evse_id is not None else ev.evse_id
    conn = info.connector_id if info.connector_id is not None else ev.connector_id
    owner = Owner(ev.station_id, evse, conn, ev.transaction_id, info.pk)
    result = await store_samples(batch, owner, ev.samples, now=now, info=info)
    values: dict[str, Any] = {}
    if ev.charging_state is not None and ev.charging_state != info.charging_state:
        values["charging_state"] = ev.charging_state
    if ev.remote_start_id is not None:
        values["remote_start_id"] = ev.remote_start_id
    auth = None
    if ev.id_token:
        auth = await authorize(
            s,
            ev.id_token,
            now=now,
            token_type=ev.id_token_type,
            concurrency=not info.ended,
            exclude_pk=info.pk,
            external=ev.external,
            station_id=ev.station_id,
            for_start=info.id_token is None and not info.ended,  # authorized after plug-in
        )
        if info.id_token is None:
            values.update(
                id_token=ev.id_token,
                id_token_key=token_key(ev.id_token),
                id_token_type=ev.id_token_type,
                auth_status=auth.status,
            )
        if auth.status == "ConcurrentTx":
            tx = await s.get(Transaction, info.pk)
            if tx is not None:
                tx.add_flags(FLAG_CONCURRENT)
    if values and not info.ended:
        values["updated_at"] = now
        await s.execute(
            update(Transaction)
            .where(Transaction.id == info.pk, Transaction.state == ACTIVE)
            .values(**values)
        )
        info = replace(
            info,
            charging_state=values.get("charging_state", info.charging_state),
            id_token=values.get("id_token", info.id_token),
        )
    if result.last_energy_at is not None:
        info = replace(
            info, last_energy_at=result.last_energy_at, last_energy_wh=result.last_energy_wh
        )
    return TxEventResult(auth, info, False)


async def _authorize(
    s: AsyncSession, ev: TxEventIn, tx: Transaction, *, now: datetime, ended: bool
) -> Authorization | None:
    if not ev.id_token:
        return None
    auth = await authorize(
        s,
        ev.id_token,
        now=now,
        token_type=ev.id_token_type,
        concurrency=not ended and ev.event_type != "Ended",
        exclude_pk=tx.id,
        external=ev.external,
        station_id=ev.station_id,
        for_start=tx.id_token is None and not ended,  # the token that starts it
    )
    if (
        tx.id_token is None
        and not ended
        and auth.status == "Accepted"
        and await held_for_other(
            s,
            station_id=ev.station_id,
            evse_id=tx.evse_id if tx.evse_id is not None else ev.evse_id,
            id_token=ev.id_token,
            group_id_token=auth.group_id_token,
            reservation_id=ev.reservation_id,
            now=now,
        )
    ):
        auth = replace(auth, status="NotAtThisTime")  # the EVSE is reserved for another driver
        tx.add_flags(FLAG_RESERVED_FOR_OTHER)
    if tx.id_token is None:
        tx.id_token, tx.id_token_type, tx.auth_status = ev.id_token, ev.id_token_type, auth.status
        tx.id_token_key = token_key(ev.id_token)
    if auth.status == "ConcurrentTx":
        tx.add_flags(FLAG_CONCURRENT)
    return auth


async def _auth_again(
    s: AsyncSession, ev: TxEventIn, tx: Transaction, now: datetime
) -> Authorization | None:
    """The answer to a duplicate event: the status given the first time for this token."""
    if not ev.id_token:
        return None
    auth = await authorize(
        s,
        ev.id_token,
        now=now,
        concurrency=False,
        external=ev.external,
        station_id=ev.station_id,
    )
    if tx.id_token == ev.id_token and tx.auth_status:
        auth = replace(auth, status=tx.auth_status)
    return auth


def _log_row(pk: int, ev: TxEventIn, now: datetime) -> dict[str, Any]:
    return {
        "transaction_pk": pk,
        "seq_no": ev.seq_no,
        "event_type": ev.event_type,
        "trigger_reason": ev.trigger_reason,
        "timestamp": ev.timestamp,
        "offline": ev.offline,
        "charging_state": ev.charging_state,
        "id_token": ev.id_token,
        "received_at": now,
    }


_LOG_ONCE = {
    name: dialect.insert(_LOG)
    .on_conflict_do_nothing(index_elements=["transaction_pk", "seq_no"])
    .returning(_LOG.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


async def _log_event(s: AsyncSession, pk: int, ev: TxEventIn, now: datetime) -> bool:
    """Log the event; False if (transaction, seqNo) was already there."""
    stmt = _LOG_ONCE["postgresql" if s.get_bind().dialect.name == "postgresql" else "sqlite"]
    return (await s.execute(stmt, _log_row(pk, ev, now))).first() is not None
