"""The reconciliation sweep: ``session.started`` / ``session.ended`` lost to a crash are rebuilt.

The live path (``subscribers``) writes outbox rows in a unit of work of its own, after the
domain commit, so a crash in between loses them. The sender runs this sweep at its start and
every ``reconcile_interval_s``: for each active subscription wanting those events, it looks for
transactions that started (resp. ended) within the look-back window — never before the
subscription was created, and not in the last ``reconcile_settle_s``, which belong to the live
path — and have no delivery of that event for that subscription. Each one gets the delivery the
live path would have written, with the same stable event id, through the same insert-if-absent
``enqueue``: whichever of the live path and the sweep comes second inserts nothing.

Windows, on the server's clock (a station's own ``started_at`` / ``stopped_at`` may be far off,
or hours old for offline sessions): started = the transaction row's ``created_at``; ended =
state ``ended`` and ``updated_at`` in the window (a rare later change of an ended transaction,
such as a repeated stop, moves it into the window of a subscription created since).
``session.ended`` carries the cost of the session's CDR when one is issued (the latest one not
credited); otherwise it is held like the live one, until the CDR arrives or the grace period,
counted from when the transaction was last updated, has passed.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select

from borne.cdrs.models import Cdr
from borne.core.deps import Deps
from borne.core.errors import NotFound
from borne.notifications import service
from borne.notifications.config import NotificationsConfig
from borne.notifications.models import WebhookDelivery, WebhookSubscription
from borne.notifications.service import SESSION_ENDED, SESSION_STARTED, Outgoing, Unit
from borne.notifications.subscribers import ended_data, started_data
from borne.transactions import service as transactions
from borne.transactions.models import ENDED, Transaction

log = logging.getLogger(__name__)

# Transactions looked at per subscription and event type in one sweep; the rest wait for the next.
SWEEP_BATCH = 500


async def reconcile_sessions(deps: Deps, config: NotificationsConfig, *, now: datetime) -> int:
    """One sweep. Returns how many deliveries it wrote (0 when the live path had them all)."""
    lookback = now - timedelta(seconds=config.reconcile_lookback_s)
    settled = now - timedelta(seconds=config.reconcile_settle_s)
    async with deps.db.unit_of_work() as uow:
        subs = [
            (r.id, frozenset(r.event_types), r.created_at)
            for r in await uow.session.scalars(
                select(WebhookSubscription)
                .where(WebhookSubscription.active.is_(True))
                .order_by(WebhookSubscription.id)
            )
        ]
    new = 0
    for sub_id, event_types, created_at in subs:
        since = max(lookback, created_at)
        if SESSION_STARTED in event_types:
            new += await _started(deps, sub_id, since=since, until=settled, now=now)
        if SESSION_ENDED in event_types:
            new += await _ended(deps, config, sub_id, since=since, until=settled, now=now)
    if new:
        log.warning("webhook reconciliation: %d session deliveries were missing, enqueued", new)
    return new


def _missing(sub_id: int, event_type: str) -> Any:
    d = WebhookDelivery
    return ~exists().where(
        d.subscription_id == sub_id, d.transaction_pk == Transaction.id, d.event_type == event_type
    )


async def _started(
    deps: Deps, sub_id: int, *, since: datetime, until: datetime, now: datetime
) -> int:
    t = Transaction
    async with deps.db.unit_of_work() as uow:
        pks = list(
            await uow.session.scalars(
                select(t.id)
                .where(
                    t.created_at >= since, t.created_at <= until, _missing(sub_id, SESSION_STARTED)
                )
                .order_by(t.id)
                .limit(SWEEP_BATCH)
            )
        )
        items = []
        for pk in pks:
            try:
                tx = await transactions.get_transaction(uow, pk)
            except NotFound:  # pragma: no cover - deleted in between
                continue
            eid = service.event_id(SESSION_STARTED, pk)
            body = service.encode_body(eid, SESSION_STARTED, now, started_data(tx))
            items.append(Outgoing(sub_id, eid, SESSION_STARTED, pk, body))
        new = await service.enqueue(uow, items, now=now)
        await uow.commit()
    return new


async def _ended(
    deps: Deps,
    config: NotificationsConfig,
    sub_id: int,
    *,
    since: datetime,
    until: datetime,
    now: datetime,
) -> int:
    t = Transaction
    async with deps.db.unit_of_work() as uow:
        rows = (
            await uow.session.execute(
                select(t.id, t.updated_at)
                .where(
                    t.state == ENDED,
                    t.updated_at >= since,
                    t.updated_at <= until,
                    _missing(sub_id, SESSION_ENDED),
                )
                .order_by(t.id)
                .limit(SWEEP_BATCH)
            )
        ).all()
        items = []
        grace = timedelta(seconds=config.ended_grace_s)
        for pk, updated_at in rows:
            cost = await session_cost(uow, pk)
            data = await ended_data(uow, pk, cost)
            if data is None:  # pragma: no cover - deleted in between
                continue
            eid = service.event_id(SESSION_ENDED, pk)
            body = service.encode_body(eid, SESSION_ENDED, now, data)
            if cost is None:  # the grace rule: wait for the CDR, then go without cost
                held = max(now, updated_at + grace)
                items.append(Outgoing(sub_id, eid, SESSION_ENDED, pk, body, True, held))
            else:
                items.append(Outgoing(sub_id, eid, SESSION_ENDED, pk, body))
        new = await service.enqueue(uow, items, now=now)
        await uow.commit()
    return new


async def session_cost(uow: Unit, pk: int) -> dict[str, Any] | None:
    """``cost`` of ``session.ended`` from the session's CDR: the latest one that is neither a
    credit nor credited; None when there is none (yet)."""
    cdrs = list(
        await uow.session.scalars(select(Cdr).where(Cdr.transaction_pk == pk).order_by(Cdr.id))
    )
    credited = {c.credit_reference_id for c in cdrs if c.credit}
    live = [c for c in cdrs if not c.credit and c.cdr_id not in credited]
    if not live:
        return None
    cdr = live[-1]
    return {
        "cdr_id": cdr.cdr_id,
        "currency": cdr.currency,
        "total_excl": cdr.total_excl,
        "total_incl": cdr.total_incl,
    }
