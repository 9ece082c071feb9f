"""The push journal: partner pushes that survive a crash between a change and its push.

Pushers react to domain events after commit (``borne.core.bus``) and write outbox rows in a
transaction of their own. A crash in between would lose the push. So for the events partners
must hear about, the journal records the event itself **in the transaction of the change** (an
in-transaction recorder: one ``session.add``, no I/O), then, after commit, runs the pushers and
forgets the entry. Entries whose pushers did not finish (crash, restart, retries exhausted) are
re-driven by a sweep from the stored event: delivery is at least once, which partners absorb
(a repeated PUT is a no-op, a CDR is posted once per partner, see ``sessions_push``).

Progress-only events (meter values, running cost) are not journaled: the next one, and the
session's final PATCH, carry everything. While no partner is registered nothing is recorded
and no pusher runs (``active`` filters progress events the same way), so a CSMS without roaming
pays nothing: a partner that registers pulls everything once, and the flag is refreshed every
second until then.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import TypeAdapter
from sqlalchemy import delete, exists, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from borne.core.bus import EventBus
from borne.core.clock import Clock
from borne.core.uow import Database
from borne.roaming.events import PartnerRegistered
from borne.roaming.journal_models import PushJournalEntry
from borne.roaming.models import Partner

log = logging.getLogger(__name__)

E = TypeVar("E")
Handler = Callable[[Any], Awaitable[None]]

#: How long an in-memory record of an entry whose event never got published (its transaction
#: failed) is kept before it is dropped.
_STALE_PENDING_S = 600.0
#: Re-drives of one entry before it is given up.
_MAX_REDRIVES = 10


def _id_of(entry: PushJournalEntry) -> int | None:
    """The entry's primary key once flushed, read from its identity (never a database
    refresh: the session that added it may be closed)."""
    identity = inspect(entry).identity
    return None if identity is None else int(identity[0])


class PushJournal:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        sweep_interval_s: float = 15.0,
        grace_s: float = 60.0,
        flush_interval_s: float = 1.0,
    ) -> None:
        self._db = db
        self._clock = clock
        self._sweep_interval = sweep_interval_s
        self._grace = timedelta(seconds=grace_s)
        self._flush_interval = flush_interval_s
        self._types: dict[str, TypeAdapter[Any]] = {}
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        # id(event) -> (event, its entry, loop time): recorded, not yet delivered
        self._pending: dict[int, tuple[object, PushJournalEntry, float]] = {}
        self._done: list[int] = []
        # entry id -> failed re-drives; given up after _MAX_REDRIVES (logged), never blocking
        self._failures: dict[int, int] = {}
        #: Whether any partner is registered (entries are recorded only then).
        self.enabled = False
        self.redriven = 0

    def record_only(self, bus: EventBus, event_type: type[E]) -> None:
        """In a process without the pushers (the ``borne partner`` CLI): record ``event_type``
        with its change, for the server's sweep to deliver."""
        self.enabled = True
        if event_type.__name__ not in self._types:
            self._types[event_type.__name__] = TypeAdapter(event_type)
            bus.subscribe_in_transaction(event_type, self._record)

    def watch_partners(self, bus: EventBus) -> None:
        """Start journaling in the very transaction that registers a partner, so its first
        session is pushed even if it starts a moment later."""
        bus.subscribe_in_transaction(PartnerRegistered, self._partner_registered)

    def _partner_registered(self, _session: AsyncSession, _event: PartnerRegistered) -> None:
        self.enabled = True

    def register(
        self, bus: EventBus, event_type: type[E], handler: Callable[[E], Awaitable[None]]
    ) -> None:
        """Deliver ``event_type`` to ``handler`` durably (recorded with the change)."""
        name = event_type.__name__
        if name not in self._types:
            self._types[name] = TypeAdapter(event_type)
            bus.subscribe_in_transaction(event_type, self._record)
            bus.subscribe(event_type, self._deliver, when=self._wanted)
        self._handlers[name].append(handler)

    # ------------------------------------------------------------------ in the change's transaction

    def _record(self, session: AsyncSession, event: object) -> None:
        if not self.enabled:
            return
        name = type(event).__name__
        entry = PushJournalEntry(
            event=name,
            payload=self._types[name].dump_python(event, mode="json"),
            created_at=self._clock.now(),
        )
        session.add(entry)
        self._pending[id(event)] = (event, entry, asyncio.get_running_loop().time())

    # ------------------------------------------------------------------ after commit

    def active(self, _event: object = None) -> bool:
        """A ``when`` filter for progress subscribers: false while no partner is registered
        (nobody to push to), so no task is even spawned for their events."""
        return self.enabled

    def _wanted(self, event: object) -> bool:
        # nobody to push to unless recorded (a partner that registers pulls everything first)
        return self.enabled or id(event) in self._pending

    async def _deliver(self, event: object) -> None:
        for handler in self._handlers[type(event).__name__]:
            await handler(event)  # a failure is retried by the bus; the entry stays meanwhile
        pending = self._pending.get(id(event))
        if pending is not None and pending[0] is event:
            del self._pending[id(event)]
            entry_id = _id_of(pending[1])
            if entry_id is not None:
                self._done.append(entry_id)

    async def run(self) -> None:
        """Forget delivered entries, refresh ``enabled``, re-drive stale entries (supervised)."""
        loop = asyncio.get_running_loop()
        next_sweep = 0.0
        while True:
            await self.flush()
            # A registration in this process enables at once (watch_partners); the sweep's
            # refresh notices one made elsewhere (another node, the CLI).
            if loop.time() >= next_sweep:
                await self.refresh()
                await self.sweep()
                next_sweep = loop.time() + self._sweep_interval
            await asyncio.sleep(self._flush_interval)

    async def flush(self) -> int:
        """Delete the entries whose pushers finished; returns how many."""
        done, self._done = self._done, []
        if not done:
            return 0
        try:
            async with self._db.unit_of_work() as uow:
                await uow.session.execute(
                    delete(PushJournalEntry).where(PushJournalEntry.id.in_(done))
                )
                await uow.commit()
        except Exception:
            self._done.extend(done)  # next time; a re-drive meanwhile only repeats a push
            raise
        return len(done)

    async def refresh(self) -> None:
        async with self._db.unit_of_work() as uow:
            self.enabled = bool(
                await uow.session.scalar(select(exists().where(Partner.status == "registered")))
            )

    async def sweep(self, limit: int = 200) -> int:
        """Re-drive entries older than the grace period that nobody is delivering."""
        now_loop = asyncio.get_running_loop().time()
        for key, (_event, _entry, at) in list(self._pending.items()):
            if now_loop - at > _STALE_PENDING_S:
                del self._pending[key]
        in_flight = {_id_of(entry) for _e, entry, _t in self._pending.values()} | set(self._done)
        cutoff = self._clock.now() - self._grace
        async with self._db.unit_of_work() as uow:
            rows = list(
                await uow.session.execute(
                    select(PushJournalEntry.id, PushJournalEntry.event, PushJournalEntry.payload)
                    .where(PushJournalEntry.created_at < cutoff)
                    .order_by(PushJournalEntry.id)
                    .limit(limit)
                )
            )
        count = 0
        for entry_id, name, payload in rows:
            if entry_id in in_flight:
                continue
            adapter = self._types.get(name)
            if adapter is not None:
                event = adapter.validate_python(payload)
                try:
                    for handler in self._handlers[name]:
                        await handler(event)
                except Exception:
                    failures = self._failures[entry_id] = self._failures.get(entry_id, 0) + 1
                    if failures < _MAX_REDRIVES:
                        log.exception("push journal: re-driving %s #%d failed", name, entry_id)
                        continue
                    log.exception(
                        "push journal: %s #%d failed %d times, given up (partners resync by "
                        "pulling)",
                        name,
                        entry_id,
                        failures,
                    )
                else:
                    count += 1
                self._failures.pop(entry_id, None)
            else:
                log.warning("push journal: no pusher for %s #%d, dropped", name, entry_id)
            self._done.append(entry_id)
        self.redriven += count
        if count:
            log.info("push journal: re-drove %d pushes recorded before a crash or a failure", count)
        await self.flush()
        return count
