"""Event bus: domain events are published after commit and delivered to subscribers.

Some reactions must be atomic with the change itself (an outbox row for a partner push must
exist if and only if the change committed). For those, ``subscribe_in_transaction`` registers
a *recorder*: a plain function called with the publisher's session just before its commit. A
recorder only adds rows (``session.add``): no I/O, no awaits, nothing that can fail the change
for reasons of its own; the real work happens after commit, from those rows.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from borne.core.supervisor import Supervisor

log = logging.getLogger(__name__)

E = TypeVar("E")
Handler = Callable[[Any], Awaitable[None]]
Recorder = Callable[[AsyncSession, Any], None]


class EventBus(Protocol):
    def subscribe(
        self,
        event_type: type[E],
        handler: Callable[[E], Awaitable[None]],
        *,
        when: Callable[[E], bool] | None = None,
    ) -> None:
        """``when``: a cheap synchronous filter; the handler's task is spawned only for events
        it accepts (subscribers idle most of the time cost no task per event)."""
        ...

    def subscribe_in_transaction(
        self, event_type: type[E], recorder: Callable[[AsyncSession, E], None]
    ) -> None: ...

    def record_in_transaction(self, session: AsyncSession, events: Sequence[object]) -> None:
        """Run the recorders of ``events`` in ``session``, before its commit."""
        ...

    async def publish(self, events: Sequence[object]) -> None:
        """Deliver committed events; never raises because a subscriber failed."""
        ...


class InProcessBus:
    """Delivers events to subscribers in this process, each delivery a supervised task.

    A failing subscriber is logged, retried with back-off and counted (R36); it never fails the
    publisher, whose unit of work has already committed.
    """

    def __init__(self, supervisor: Supervisor, *, retries: int = 3) -> None:
        self._handlers: dict[type, list[tuple[Handler, Callable[[Any], bool] | None]]] = (
            defaultdict(list)
        )
        self._recorders: dict[type, list[Recorder]] = defaultdict(list)
        self._supervisor = supervisor
        self._retries = retries

    def subscribe(
        self,
        event_type: type[E],
        handler: Callable[[E], Awaitable[None]],
        *,
        when: Callable[[E], bool] | None = None,
    ) -> None:
        self._handlers[event_type].append((handler, when))

    def subscribe_in_transaction(
        self, event_type: type[E], recorder: Callable[[AsyncSession, E], None]
    ) -> None:
        self._recorders[event_type].append(recorder)

    def record_in_transaction(self, session: AsyncSession, events: Sequence[object]) -> None:
        if not self._recorders:
            return
        for ev in events:
            for recorder in self._recorders.get(type(ev), ()):
                recorder(session, ev)

    async def publish(self, events: Sequence[object]) -> None:
        for ev in events:
            for handler, when in self._handlers.get(type(ev), ()):
                if when is not None and not when(ev):
                    continue
                self._supervisor.spawn(
                    self._deliver(handler, ev), name=f"event:{type(ev).__name__}"
                )

    async def _deliver(self, handler: Handler, ev: object) -> None:
        delay = 0.1
        for attempt in range(1, self._retries + 1):
            try:
                await handler(ev)
                return
            except Exception:
                self._supervisor.failures += 1
                log.exception(
                    "subscriber %s failed on %s (attempt %d/%d)",
                    getattr(handler, "__qualname__", handler),
                    type(ev).__name__,
                    attempt,
                    self._retries,
                )
                await asyncio.sleep(delay)
                delay *= 4
