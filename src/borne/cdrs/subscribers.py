"""Reactions of the CDR domain: a CDR when a transaction ends, the running cost when meter values
arrive. Delivered by the bus after commit, each in its own supervised task and retried with
back-off on failure (R36); both are idempotent, so a retry or a duplicate event is harmless.

* ``TransactionEnded`` → :func:`borne.cdrs.service.issue_cdr` (one CDR per transaction).
* ``MeterValuesRecorded`` → :func:`borne.cdrs.service.update_running_cost`, then the in-memory
  :class:`~borne.cdrs.live_cost.LiveCosts`. Work is coalesced per transaction: at most one
  recomputation every ``min_interval_s``; while one waits for its turn, further events for that
  transaction add nothing (the waiting one reads everything committed so far), so a burst of
  10,000 queued values costs a handful of recomputations, not 10,000. A transaction for which
  ``urgent(pk)`` is true (wired by ``bootstrap``: it has a cost limit) skips the
  ``min_interval_s`` wait, so its cost is checked within one meter-value interval whatever the
  interval; events that arrive while one recomputation is queued still coalesce into it.
* A sweep (every ``sweep_interval_s``) issues the CDR of any recently ended transaction that
  has none: the safety net for events lost to a crash between commit and delivery or to
  exhausted retries.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from borne.cdrs import service
from borne.cdrs.live_cost import LiveCosts
from borne.cdrs.models import Cdr
from borne.cdrs.ocpp_v201 import CostUpdatedSender
from borne.core.bus import EventBus
from borne.core.clock import Clock
from borne.core.locks import KeyedLocks
from borne.core.supervisor import Supervisor
from borne.core.uow import Database
from borne.transactions.events import MeterValuesRecorded, TransactionEnded
from borne.transactions.models import ENDED, Transaction

log = logging.getLogger(__name__)


class CdrSubscribers:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        supervisor: Supervisor,
        live: LiveCosts,
        *,
        config: service.CdrConfig | None = None,
        sender: CostUpdatedSender | None = None,
        sweep_interval_s: float = 60.0,
        sweep_grace_s: float = 30.0,
        sweep_window_s: float = 7 * 86_400,
        min_interval_s: float = 2.0,
        urgent: Callable[[int], bool] | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._supervisor = supervisor
        self.live = live
        self._config = config or service.CdrConfig()
        self._sender = sender
        self._sweep_interval = sweep_interval_s
        self._sweep_grace = timedelta(seconds=sweep_grace_s)
        self._sweep_window = timedelta(seconds=sweep_window_s)
        self._locks = KeyedLocks()
        self._waiting: set[int] = set()
        self._min_interval = min_interval_s
        self._urgent = urgent  # must be cheap (in memory): called on every recomputation
        self._last_update: dict[int, float] = {}
        self._loops_started = False
        self.cdrs_issued = 0
        self.cost_updates = 0

    def subscribe(self, bus: EventBus) -> None:
        bus.subscribe(MeterValuesRecorded, self.on_meter_values)
        bus.subscribe(TransactionEnded, self.on_transaction_ended)

    def start(self) -> None:
        """Start the supervised loops (CostUpdated sender, CDR sweep) once; needs the running
        event loop (the runtime is built inside it)."""
        if self._loops_started:
            return
        self._loops_started = True
        if self._sender is not None:
            self._sender.start(self._supervisor)
        if self._sweep_interval > 0:
            self._supervisor.keep_running(self._sweep_loop, name="cdr-sweep")

    async def on_meter_values(self, ev: MeterValuesRecorded) -> None:
        pk = ev.transaction_pk
        if pk is None or pk in self._waiting:
            return  # not a transaction's, or a recomputation is queued and will see these
        self._waiting.add(pk)
        loop = asyncio.get_running_loop()
        try:
            urgent = self._urgent is not None and self._urgent(pk)
            interval = 0.0 if urgent else self._min_interval
            wait = self._last_update.get(pk, -math.inf) + interval - loop.time()
            if wait > 0:
                # Events meanwhile coalesce into this one. Not under the lock: issuing the CDR
                # at the session's end must not wait for a pending recomputation.
                await asyncio.sleep(wait)
            async with self._locks.hold(pk):
                self._waiting.discard(pk)
                self._last_update[pk] = loop.time()
                await self._update(pk, ev.station_id, ev.transaction_id)
        finally:
            self._waiting.discard(pk)

    async def _update(self, pk: int, station_id: str, transaction_id: str | None) -> None:
        async with self._db.unit_of_work() as uow:
            tx = await uow.session.get(Transaction, pk)
            final = await service.has_final_cost(uow.session, pk)
            cost = await service.update_running_cost(
                uow, transaction_pk=pk, now=self._clock.now(), config=self._config
            )
            active = tx is not None and tx.state != ENDED
            await uow.commit()
            # in memory at once after the commit (no await between), so whoever sees the new
            # cost in the database finds it in memory too
            if cost is not None and not final:
                self.cost_updates += 1
                self.live.put(pk, station_id, transaction_id, cost, active=active)

    async def on_transaction_ended(self, ev: TransactionEnded) -> None:
        await self.issue(ev.transaction_pk)

    async def issue(self, pk: int) -> service.CdrView:
        async with self._locks.hold(pk), self._db.unit_of_work() as uow:
            view = await service.issue_cdr(
                uow, transaction_pk=pk, now=self._clock.now(), config=self._config
            )
            cost = await service.running_cost(uow.session, pk)
            await uow.commit()
            if cost is not None:
                self.live.put(pk, view.station_id, view.transaction_id, cost, final=True)
            self.live.ended(pk)
        self.cdrs_issued += 1
        self._last_update.pop(pk, None)
        return view

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_interval)
            await self.sweep()

    async def sweep(self, limit: int = 100) -> int:
        """Issue the CDRs of ended transactions that have none (last changed between
        ``sweep_window_s`` and ``sweep_grace_s`` ago: history from before CDRs existed is left
        alone); returns how many."""
        now = self._clock.now()
        cutoff, oldest = now - self._sweep_grace, now - self._sweep_window
        async with self._db.unit_of_work() as uow:
            has_cdr = select(Cdr.id).where(Cdr.transaction_pk == Transaction.id).exists()
            pks = list(
                await uow.session.scalars(
                    select(Transaction.id)
                    .where(
                        Transaction.state == ENDED,
                        Transaction.updated_at < cutoff,
                        Transaction.updated_at >= oldest,
                        ~has_cdr,
                    )
                    .order_by(Transaction.id)
                    .limit(limit)
                )
            )
        done = 0
        for pk in pks:
            try:
                await self.issue(pk)
                done += 1
            except Exception:
                log.exception("sweep: the CDR of transaction %d could not be issued", pk)
        return done
