"""Event bus: domain events are published after commit and delivered to subscribers."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from borne.core.supervisor import Supervisor

log = logging.getLogger(__name__)

E = TypeVar("E")
Handler = Callable[[Any], Awaitable[None]]


class EventBus(Protocol):
    def subscribe(self, event_type: type[E], handler: Callable[[E], Awaitable[None]]) -> None: ...

    async def publish(self, events: Sequence[object]) -> None:
        """Deliver committed events; never raises because a subscriber failed."""
        ...


class InProcessBus:
    """Delivers events to subscribers in this process, each delivery a supervised task.

    A failing subscriber is logged, retried with back-off and counted (R36); it never fails the
    publisher, whose unit of work has already committed.
    """

    def __init__(self, supervisor: Supervisor, *, retries: int = 3) -> None:
        self._handlers: dict[type, list[Handler]] = defaultdict(list)
        self._supervisor = supervisor
        self._retries = retries

    def subscribe(self, event_type: type[E], handler: Callable[[E], Awaitable[None]]) -> None:
        self._handlers[event_type].append(handler)

    async def publish(self, events: Sequence[object]) -> None:
        for ev in events:
            for handler in self._handlers.get(type(ev), ()):
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
