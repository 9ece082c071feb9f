"""Admission back-pressure of the gateway (R20): a gate bounding the upgrades admitted at once
and waiting, refusals logged at most once per second, and the open-files limit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import resource
import time
from collections.abc import AsyncIterator, Callable

log = logging.getLogger("borne.ocpp.gateway")


class AdmissionBusy(Exception):
    """No admission slot in time: the upgrade is answered 503."""


class AdmissionGate:
    """Bounds the upgrades being admitted at once and those waiting for a turn (R20).

    ``slot()`` raises ``AdmissionBusy`` at once when ``max_pending`` upgrades already wait, or
    after ``max_wait_s`` without a turn. The drain rate (admissions per second, smoothed) gives
    the ``Retry-After`` suggested to refused stations.
    """

    def __init__(
        self,
        max_concurrent: int,
        max_pending: int,
        *,
        max_wait_s: float = 5.0,
        max_retry_after_s: int = 30,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        if max_pending < 0:
            raise ValueError("max_pending must not be negative")
        self.max_concurrent = max_concurrent
        self.max_pending = max_pending
        self.max_wait_s = max_wait_s
        self.max_retry_after_s = max_retry_after_s
        self._clock = clock
        self._semaphore = asyncio.Semaphore(max_concurrent)
        self.in_flight = 0
        self.waiting = 0
        self.admitted = 0  # slots granted since the start
        self._rate = 0.0  # slots completed per second, smoothed
        self._window_start = clock()
        self._window_done = 0

    @property
    def held(self) -> int:
        """Upgrades inside the gate: running or waiting."""
        return self.in_flight + self.waiting

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self.in_flight >= self.max_concurrent or self._semaphore.locked():
            if self.waiting >= self.max_pending:
                raise AdmissionBusy("admission queue full")
            self.waiting += 1
            try:
                async with asyncio.timeout(self.max_wait_s):
                    await self._semaphore.acquire()
            except TimeoutError:
                raise AdmissionBusy("no admission slot in time") from None
            finally:
                self.waiting -= 1
        else:
            await self._semaphore.acquire()  # free: returns at once
        self.in_flight += 1
        self.admitted += 1
        try:
            yield
        finally:
            self.in_flight -= 1
            self._semaphore.release()
            self._completed()

    def _completed(self) -> None:
        self._window_done += 1
        now = self._clock()
        elapsed = now - self._window_start
        if elapsed >= 1.0:
            rate = self._window_done / elapsed
            self._rate = rate if self._rate == 0.0 else 0.5 * self._rate + 0.5 * rate
            self._window_start, self._window_done = now, 0

    def retry_after_s(self) -> int:
        """Seconds a refused station should wait: about the time to drain what is queued,
        jittered (0.5 to 1.5 times that) so refused stations do not all come back together."""
        backlog = self.held + 1
        estimate = backlog / self._rate if self._rate > 0 else 2.0
        low = max(1.0, 0.5 * estimate)
        high = max(low + 1.0, 1.5 * estimate)
        return min(self.max_retry_after_s, max(1, math.ceil(random.uniform(low, high))))


class RateLimitedLog:
    """Counts events and logs them at most once per ``interval_s``."""

    def __init__(self, interval_s: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self._interval = interval_s
        self._clock = clock
        self._last = -math.inf
        self._counts: dict[str, int] = {}
        self.total = 0

    def note(self, reason: str, detail: str) -> None:
        self.total += 1
        self._counts[reason] = self._counts.get(reason, 0) + 1
        now = self._clock()
        if now - self._last >= self._interval:
            self.flush(detail)
            self._last = now

    def flush(self, detail: str = "") -> None:
        if not self._counts:
            return
        counts = ", ".join(f"{n} {reason}" for reason, n in sorted(self._counts.items()))
        log.warning("OCPP upgrades refused with 503 (overload): %s%s", counts, detail)
        self._counts.clear()


def raise_open_files_limit() -> int:
    """Raise the soft open-files limit to the hard one (one descriptor per station); return
    the soft limit in force afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1_048_576)
    if soft == resource.RLIM_INFINITY or (soft >= target):
        return int(soft)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return int(soft)
    return int(target)
