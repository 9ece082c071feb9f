"""Reactions of the reservations domain: transaction starts, and the expiry sweep.

- ``TransactionStarted``: the reservation id is not in the event; the transaction row has it
  (1.6 StartTransaction ``reservationId``, 2.0.1 TransactionEvent ``reservationId``, written in
  the same commit as the event). See ``service.record_transaction_start``.
- The loop, every ``sweep_interval_s``: reservations past their expiry become ``expired``.
"""

from __future__ import annotations

import asyncio
import logging

from borne.core.bus import EventBus
from borne.core.deps import Deps
from borne.reservations import service
from borne.reservations.config import ReservationsConfig
from borne.transactions.events import TransactionStarted
from borne.transactions.models import Transaction

log = logging.getLogger(__name__)


class ReservationTracker:
    def __init__(self, deps: Deps, config: ReservationsConfig) -> None:
        self._deps = deps
        self._config = config

    def subscribe(self, bus: EventBus) -> None:
        bus.subscribe(TransactionStarted, self.on_started)

    async def on_started(self, event: TransactionStarted) -> None:
        now = self._deps.clock.now()
        async with self._deps.db.unit_of_work() as uow:
            tx = await uow.session.get(Transaction, event.transaction_pk)
            reservation_id = None if tx is None else tx.reservation_id
            id_token = event.id_token if tx is None else tx.id_token
            await service.record_transaction_start(
                uow,
                transaction_pk=event.transaction_pk,
                station_id=event.station_id,
                evse_id=event.evse_id,
                id_token=id_token,
                reservation_id=reservation_id,
                started_at=event.started_at,
                now=now,
            )
            await uow.commit()

    async def sweep_once(self) -> int:
        async with self._deps.db.unit_of_work() as uow:
            count = await service.sweep_expired(uow, now=self._deps.clock.now())
            await uow.commit()
        if count:
            log.info("%d reservation(s) expired", count)
        return count

    async def run(self) -> None:
        """The supervised loop (``Supervisor.keep_running`` restarts it if it fails)."""
        while True:
            await self.sweep_once()
            await asyncio.sleep(self._config.sweep_interval_s)
