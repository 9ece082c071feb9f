"""OCPP 2.0.1 CostUpdated: the running cost sent to stations at a configurable interval.

Every ``interval_s`` (``BORNE_COST_UPDATE_INTERVAL_S``; 0 turns it off) each active 2.0.1
session whose running cost (including taxes) changed since the last send gets a
``CostUpdatedRequest(totalCost, transactionId)``. A station that answers ``NotImplemented`` or
``NotSupported`` (no tariff and cost functional block) is not asked again while Borne runs;
other failures (offline, timeout) are logged and retried at the next tick.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

from borne.cdrs.live_cost import LiveCosts, LiveEntry
from borne.core.errors import BorneError, StationCallError
from borne.core.supervisor import Supervisor
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.v201 import models as v201
from borne.ocpp.versions import OcppVersion

log = logging.getLogger(__name__)
_UNSUPPORTED = frozenset({"NotImplemented", "NotSupported"})


class CostUpdatedSender:
    def __init__(
        self,
        outbound: OcppOutbound,
        live: LiveCosts,
        *,
        interval_s: float,
        call_timeout_s: float = 10.0,
        concurrency: int = 32,
    ) -> None:
        self._outbound = outbound
        self._live = live
        self.interval_s = interval_s
        self._timeout = call_timeout_s
        self._limit = asyncio.Semaphore(concurrency)
        self._sent: dict[int, Decimal] = {}
        self._unsupported: set[str] = set()
        self._started = False
        self.sent = 0

    def start(self, supervisor: Supervisor) -> None:
        """Start the loop once (inside the running event loop); no-op when turned off."""
        if self._started or self.interval_s <= 0:
            return
        self._started = True
        supervisor.keep_running(self._run, name="cost-updated")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.send_once()

    async def send_once(self) -> int:
        """One round: send every changed running cost; returns how many were sent."""
        active = self._live.active()
        live = {e.transaction_pk for e in active}
        for pk in [pk for pk in self._sent if pk not in live]:
            del self._sent[pk]
        due = [e for e in active if self._due(e)]
        results = await asyncio.gather(*(self._send(e) for e in due))
        return sum(results)

    def _due(self, entry: LiveEntry) -> bool:
        total = entry.cost.total_incl
        return (
            total is not None
            and entry.transaction_id is not None
            and entry.station_id not in self._unsupported
            and self._outbound.version_of(entry.station_id) is OcppVersion.V201
            and self._sent.get(entry.transaction_pk) != total
        )

    async def _send(self, entry: LiveEntry) -> int:
        total = entry.cost.total_incl
        assert total is not None and entry.transaction_id is not None
        request = v201.CostUpdatedRequest(
            total_cost=float(total), transaction_id=entry.transaction_id
        )
        async with self._limit:
            try:
                await self._outbound.call(entry.station_id, request, timeout=self._timeout)
            except StationCallError as exc:
                if exc.error_code in _UNSUPPORTED:
                    self._unsupported.add(entry.station_id)
                log.info("CostUpdated to %s refused: %s", entry.station_id, exc.error_code)
                return 0
            except BorneError as exc:
                log.info("CostUpdated to %s not delivered: %s", entry.station_id, exc.code)
                return 0
        self._sent[entry.transaction_pk] = total
        self.sent += 1
        return 1
