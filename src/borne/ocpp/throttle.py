"""Failed-login limiter for the OCPP gateway (R25).

Failures are counted per station id and per remote address inside a sliding window. Once
either key has ``max_failures`` failures in the window, further attempts are refused (HTTP 429)
without asking the directory. Memory is bounded: a key keeps at most ``max_failures``
timestamps, expired keys are pruned as the limiter is used, and at most ``max_keys`` keys are
kept (the least recently failed go first).
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable


class FailureLimiter:
    def __init__(
        self,
        max_failures: int = 5,
        window_s: float = 60.0,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_failures < 1:
            raise ValueError("max_failures must be at least 1")
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_keys = max_keys
        self._clock = clock
        # key → failure times, oldest first; keys ordered by their last failure.
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._failures)

    def blocked(self, station_id: str, remote: str) -> bool:
        """True when the station or the address is over the limit."""
        now = self._clock()
        return self._over(f"s:{station_id}", now) or self._over(f"a:{remote}", now)

    def record_failure(self, station_id: str, remote: str) -> None:
        now = self._clock()
        self._add(f"s:{station_id}", now)
        self._add(f"a:{remote}", now)
        self._prune(now)

    def record_success(self, station_id: str) -> None:
        """A good login clears the station's count (not the address's: one valid login must
        not reset an address that guesses other stations' passwords)."""
        self._failures.pop(f"s:{station_id}", None)

    def _over(self, key: str, now: float) -> bool:
        times = self._failures.get(key)
        if times is None:
            return False
        horizon = now - self.window_s
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            del self._failures[key]
            return False
        return len(times) >= self.max_failures

    def _add(self, key: str, now: float) -> None:
        times = self._failures.pop(key, None)
        if times is None:
            times = deque(maxlen=self.max_failures)
        times.append(now)
        self._failures[key] = times  # most recent last

    def _prune(self, now: float) -> None:
        horizon = now - self.window_s
        failures = self._failures
        # Oldest-failed keys come first: drop them while they are expired or over the cap.
        while failures:
            key, times = next(iter(failures.items()))
            if times[-1] <= horizon or len(failures) > self.max_keys:
                del failures[key]
            else:
                break
