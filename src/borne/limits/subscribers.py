"""Limit checks and their enforcement: reactions to events, and one supervised loop.

- ``TransactionStarted``: the token's default limits are copied into the session's limits.
- ``MeterValuesRecorded``: energy check (the latest register - the register at start).
- ``SessionCostUpdated`` (CDR domain, wired by ``bootstrap``): cost check on the tax-inclusive
  running total (tax-exclusive when the tariff has no taxes). ``has_cost_limit`` tells the CDR
  domain (wired by ``bootstrap``) which sessions need their running cost without coalescing.
- The loop, every ``check_interval_s``: duration checks, and stop requests that are due again.
- ``TransactionEnded``: the session's limits stop being checked; its enforcement is closed.

A limit is *reached* when the value is greater than or equal to it. The first limit reached is
recorded once (``service.trigger``: insert-once on the transaction) and a stop is requested
through ``commands.service.remote_stop`` in the station's own OCPP version. A station that is
not connected, does not answer, answers a CALLERROR or refuses is asked again with exponential
back-off; one that accepts but has not ended the transaction ``stop_confirm_s`` later is asked
again too. No database session is held while the station is called (SQLite has one connection).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from datetime import timedelta
from decimal import Decimal
from typing import Protocol

from borne.commands import service as commands
from borne.core.bus import EventBus
from borne.core.deps import Deps
from borne.core.errors import BorneError
from borne.limits import service
from borne.limits.config import LimitsConfig
from borne.limits.events import SessionLimitsChanged
from borne.limits.models import COST, DURATION, ENERGY
from borne.limits.service import SessionLimits
from borne.ocpp.outbound import OcppOutbound
from borne.transactions import service as transactions
from borne.transactions.events import MeterValuesRecorded, TransactionEnded, TransactionStarted

log = logging.getLogger(__name__)

_CACHE_MAX = 100_000
_LEASE = timedelta(seconds=60)


class CostUpdate(Protocol):
    """What the cost check reads of the CDR domain's ``SessionCostUpdated``."""

    @property
    def transaction_pk(self) -> int: ...

    @property
    def currency(self) -> str: ...

    @property
    def total_excl(self) -> Decimal | None: ...

    @property
    def total_incl(self) -> Decimal | None: ...


class LimitsEnforcer:
    def __init__(self, deps: Deps, outbound: OcppOutbound, config: LimitsConfig) -> None:
        self._deps = deps
        self._outbound = outbound
        self._config = config
        # transaction pk → (monotonic time loaded, limits or None): the meter-value and cost
        # checks read the database at most once per ``cache_ttl_s`` per session (changes made
        # through this process reload the entry at once).
        self._cache: OrderedDict[int, tuple[float, SessionLimits | None]] = OrderedDict()
        self._inflight: set[int] = set()
        self.stops_sent = 0

    def subscribe(self, bus: EventBus) -> None:
        bus.subscribe(TransactionStarted, self.on_started)
        bus.subscribe(MeterValuesRecorded, self.on_meter_values, when=self._may_hit_energy)
        bus.subscribe(TransactionEnded, self.on_ended)
        bus.subscribe(SessionLimitsChanged, self.on_limits_changed)

    # --- reactions ------------------------------------------------------------------------

    async def on_started(self, ev: TransactionStarted) -> None:
        async with self._deps.db.unit_of_work() as uow:
            limits = await service.apply_token_defaults(
                uow,
                transaction_pk=ev.transaction_pk,
                station_id=ev.station_id,
                transaction_id=ev.transaction_id,
                id_token=ev.id_token,
                started_at=ev.started_at,
                meter_start_wh=ev.meter_start_wh,
                now=self._deps.clock.now(),
            )
            await uow.commit()
        if limits is not None:
            self._remember(ev.transaction_pk, limits)

    async def on_meter_values(self, ev: MeterValuesRecorded) -> None:
        if ev.transaction_pk is None or ev.last_energy_wh is None:
            return
        limits = await self._limits(ev.transaction_pk)
        if limits is None or limits.ended or limits.limits.max_energy_wh is None:
            return
        if limits.meter_start_wh is not None:
            energy: Decimal | None = ev.last_energy_wh - limits.meter_start_wh
        else:
            async with self._deps.db.unit_of_work() as uow:
                energy = await service.energy_so_far(uow, limits, ev.last_energy_wh)
        if energy is not None and energy >= limits.limits.max_energy_wh:
            await self._fire(limits, ENERGY, limits.limits.max_energy_wh, energy)

    async def on_cost_updated(self, ev: CostUpdate) -> None:
        limits = await self._limits(ev.transaction_pk)
        if limits is None or limits.ended or limits.limits.max_cost is None:
            return
        total = ev.total_incl if ev.total_incl is not None else ev.total_excl
        if total is None:
            return
        if (limits.limits.currency or "").upper() != ev.currency.upper():
            log.warning(
                "cost limit of transaction %d is in %s but its cost is in %s: not checked",
                ev.transaction_pk,
                limits.limits.currency,
                ev.currency,
            )
            return
        if total >= limits.limits.max_cost:
            await self._fire(limits, COST, limits.limits.max_cost, total)

    async def on_limits_changed(self, ev: SessionLimitsChanged) -> None:
        # reloaded at once (not just dropped), so ``has_cost_limit`` knows of a new cost limit
        # before the session's next meter values
        self._cache.pop(ev.transaction_pk, None)
        await self._limits(ev.transaction_pk)

    def _may_hit_energy(self, ev: MeterValuesRecorded) -> bool:
        """Filter run for every meter value (no task spawned when false): only a session whose
        limits are not known yet, or that has an energy limit still checked, needs a look."""
        if ev.transaction_pk is None or ev.last_energy_wh is None:
            return False
        hit = self._cache.get(ev.transaction_pk)
        if hit is None or time.monotonic() - hit[0] >= self._config.cache_ttl_s:
            return True
        limits = hit[1]
        return limits is not None and not limits.ended and limits.limits.max_energy_wh is not None

    def has_cost_limit(self, transaction_pk: int) -> bool:
        """Whether the session has a cost limit still checked, as last loaded (in memory, no
        database read: the CDR domain asks it on each running-cost recomputation, to skip its
        coalescing wait for such sessions)."""
        hit = self._cache.get(transaction_pk)
        limits = None if hit is None else hit[1]
        return limits is not None and not limits.ended and limits.limits.max_cost is not None

    async def on_ended(self, ev: TransactionEnded) -> None:
        self._cache.pop(ev.transaction_pk, None)
        async with self._deps.db.unit_of_work() as uow:
            await service.mark_ended(
                uow, ev.transaction_pk, stopped_at=ev.stopped_at, now=self._deps.clock.now()
            )
            await uow.commit()

    # --- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Supervised (``Supervisor.keep_running``): checks durations, retries due stops."""
        while True:
            await self.sweep()
            await asyncio.sleep(self._config.check_interval_s)

    async def sweep(self) -> None:
        now = self._deps.clock.now()
        async with self._deps.db.unit_of_work() as uow:
            candidates = await service.sessions_with_duration_limit(uow)
            due = await service.due_enforcements(uow, now=now)
        for limits in candidates:
            max_s = limits.limits.max_duration_s
            if max_s is None or limits.started_at is None:
                continue
            elapsed = (now - limits.started_at).total_seconds()
            if elapsed >= max_s:
                value = Decimal(str(round(elapsed, 3)))
                await self._fire(limits, DURATION, Decimal(max_s), value)
        for pk in due:
            await self._request_stop(pk)

    # --- enforcement ------------------------------------------------------------------------

    async def _fire(
        self, limits: SessionLimits, kind: str, limit_value: Decimal, value: Decimal
    ) -> None:
        now = self._deps.clock.now()
        async with self._deps.db.unit_of_work() as uow:
            tx = await transactions.get_transaction(uow, limits.transaction_pk)
            if tx.state != "active":
                return
            created = await service.trigger(
                uow, limits, kind=kind, limit_value=limit_value, value=value, now=now
            )
            await uow.commit()
        if created:
            log.info(
                "transaction %d on %s reached its %s limit (%s ≥ %s): stopping it",
                limits.transaction_pk,
                limits.station_id,
                kind,
                value,
                limit_value,
            )
            await self._request_stop(limits.transaction_pk)

    async def _request_stop(self, transaction_pk: int) -> None:
        if transaction_pk in self._inflight:
            return
        self._inflight.add(transaction_pk)
        try:
            await self._attempt(transaction_pk)
        finally:
            self._inflight.discard(transaction_pk)

    async def _attempt(self, transaction_pk: int) -> None:
        async with self._deps.db.unit_of_work() as uow:
            target = await service.claim_attempt(
                uow, transaction_pk, now=self._deps.clock.now(), lease=_LEASE
            )
            await uow.commit()
        if target is None:
            return
        status: str | None = None
        error: str | None = None
        try:
            result = await commands.remote_stop(
                self._outbound,
                target.station_id,
                transaction_id=target.transaction_id,
                call_timeout=self._config.call_timeout_s,
            )
            status = result.status
        except BorneError as exc:
            error = f"{exc.code}: {exc.message}"
        except Exception as exc:  # recorded and retried; the loop must go on (R36)
            log.exception("stop request for transaction %d failed", transaction_pk)
            error = f"internal: {type(exc).__name__}"
        self.stops_sent += 1
        accepted = status == "Accepted"
        now = self._deps.clock.now()
        if accepted:
            wait = self._config.stop_confirm_s
        else:
            wait = min(
                self._config.stop_retry_s * 2 ** min(target.attempts, 16),
                self._config.stop_retry_max_s,
            )
            log.warning(
                "stop request for transaction %d on %s not accepted (%s); again in %.0fs",
                transaction_pk,
                target.station_id,
                status or error,
                wait,
            )
        async with self._deps.db.unit_of_work() as uow:
            await service.record_attempt(
                uow,
                transaction_pk,
                status=status,
                error=error,
                accepted=accepted,
                now=now,
                next_attempt_at=now + timedelta(seconds=wait),
            )
            await uow.commit()

    # --- the limits cache -------------------------------------------------------------------

    async def _limits(self, transaction_pk: int) -> SessionLimits | None:
        hit = self._cache.get(transaction_pk)
        if hit is not None and time.monotonic() - hit[0] < self._config.cache_ttl_s:
            return hit[1]
        async with self._deps.db.unit_of_work() as uow:
            limits = await service.load_session_limits(uow.session, transaction_pk)
        self._remember(transaction_pk, limits)
        return limits

    def _remember(self, transaction_pk: int, limits: SessionLimits | None) -> None:
        self._cache[transaction_pk] = (time.monotonic(), limits)
        self._cache.move_to_end(transaction_pk)
        while len(self._cache) > _CACHE_MAX:
            self._cache.popitem(last=False)

    def forget(self, transaction_pk: int) -> None:
        """Drop a cached entry (after a change of the session's limits in this process)."""
        self._cache.pop(transaction_pk, None)
