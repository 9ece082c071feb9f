"""Supervision of background tasks: none is lost silently, none takes the server down (R36)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)


class Supervisor:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self.failures = 0
        self.restarts = 0

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        """Run ``coro`` in the background; its exception is logged and counted."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def keep_running(
        self, factory: Callable[[], Awaitable[None]], *, name: str, max_backoff_s: float = 30.0
    ) -> asyncio.Task[Any]:
        """Run a long-lived loop, restarting it with back-off whenever it fails."""

        async def runner() -> None:
            delay = 0.5
            while True:
                try:
                    await factory()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception:
                    self.failures += 1
                    self.restarts += 1
                    log.exception("background task %s failed; restarting in %.1fs", name, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, max_backoff_s)

        return self.spawn(runner(), name=name)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.failures += 1
            log.error("background task %s failed", task.get_name(), exc_info=exc)

    @property
    def running(self) -> int:
        return len(self._tasks)

    async def shutdown(self, timeout: float = 5.0) -> None:
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
