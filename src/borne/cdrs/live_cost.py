"""The running cost of sessions in progress, kept in memory for the OCPP hot path.

Filled by the subscriber after each recomputation (after commit), read without any query by
the 2.0.1 TransactionEvent handler (``totalCost``) and the CostUpdated sender. A hint, not the
record: ``session_costs`` holds the same values, so a restart only delays the next
``totalCost`` until the next meter value.

The final cost (its CDR issued) can be awaited (:meth:`LiveCosts.final_cost`): the handler of a
2.0.1 Ended event waits for it, bounded, so the first answer to Ended already carries it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from dataclasses import dataclass, replace
from decimal import Decimal

from borne.cdrs.service import RunningCost


@dataclass(frozen=True)
class LiveEntry:
    transaction_pk: int
    station_id: str
    transaction_id: str | None
    cost: RunningCost
    active: bool
    #: The cost of the issued CDR (no longer a running cost).
    final: bool = False


class LiveCosts:
    """A bounded map transaction pk → running cost (least recently updated dropped first)."""

    def __init__(self, max_entries: int = 50_000) -> None:
        self._entries: OrderedDict[int, LiveEntry] = OrderedDict()
        self._max = max_entries
        self._final_waiters: dict[int, list[asyncio.Future[Decimal | None]]] = {}

    def put(
        self,
        transaction_pk: int,
        station_id: str,
        transaction_id: str | None,
        cost: RunningCost,
        *,
        active: bool = True,
        final: bool = False,
    ) -> None:
        old = self._entries.get(transaction_pk)
        if transaction_id is None and old is not None:
            transaction_id = old.transaction_id
        self._entries[transaction_pk] = LiveEntry(
            transaction_pk, station_id, transaction_id, cost, active and not final, final
        )
        self._entries.move_to_end(transaction_pk)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def get(self, transaction_pk: int) -> RunningCost | None:
        entry = self._entries.get(transaction_pk)
        return None if entry is None else entry.cost

    def total_cost(self, transaction_pk: int, *, final: bool = False) -> Decimal | None:
        """The cost including taxes (what OCPP's ``totalCost`` carries); None when it is not
        known. ``final``: only once the CDR is issued."""
        entry = self._entries.get(transaction_pk)
        if entry is None or (final and not entry.final):
            return None
        return entry.cost.total_incl

    def ended(self, transaction_pk: int) -> None:
        """The session's CDR is issued: keep its (final) cost, stop sending CostUpdated for it,
        and answer whoever waits for the final cost (None when the CDR has no cost)."""
        entry = self._entries.get(transaction_pk)
        if entry is not None:
            self._entries[transaction_pk] = replace(entry, active=False)
        final = self.total_cost(transaction_pk, final=True)
        for waiter in self._final_waiters.pop(transaction_pk, []):
            if not waiter.done():
                waiter.set_result(final)

    async def final_cost(self, transaction_pk: int, timeout_s: float) -> Decimal | None:
        """The final cost including taxes, waiting up to ``timeout_s`` for the CDR to be
        issued; None when it is not issued in time or has no cost."""
        known = self.total_cost(transaction_pk, final=True)
        if known is not None or timeout_s <= 0:
            return known
        waiter: asyncio.Future[Decimal | None] = asyncio.get_running_loop().create_future()
        waiters = self._final_waiters.setdefault(transaction_pk, [])
        waiters.append(waiter)
        try:
            with contextlib.suppress(TimeoutError):
                return await asyncio.wait_for(waiter, timeout_s)
            return None
        finally:
            if waiter in waiters:
                waiters.remove(waiter)
            if not waiters:
                self._final_waiters.pop(transaction_pk, None)

    def active(self) -> list[LiveEntry]:
        return [e for e in self._entries.values() if e.active]

    def __len__(self) -> int:
        return len(self._entries)
