"""Failed-login limiter (R25)."""

from __future__ import annotations

from borne.ocpp.throttle import FailureLimiter


class FakeTime:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_blocks_a_station_after_max_failures_within_the_window() -> None:
    clock = FakeTime()
    limiter = FailureLimiter(3, 60.0, clock=clock)
    for i in range(3):
        assert not limiter.blocked("CP1", f"10.0.0.{i}")
        limiter.record_failure("CP1", f"10.0.0.{i}")
    assert limiter.blocked("CP1", "10.9.9.9")
    assert not limiter.blocked("CP2", "10.9.9.9")
    clock.t += 61
    assert not limiter.blocked("CP1", "10.9.9.9")


def test_blocks_an_address_guessing_many_stations() -> None:
    limiter = FailureLimiter(3, 60.0, clock=FakeTime())
    for i in range(3):
        limiter.record_failure(f"CP{i}", "10.0.0.1")
    assert limiter.blocked("CP99", "10.0.0.1")
    assert not limiter.blocked("CP99", "10.0.0.2")


def test_success_clears_the_station_but_not_the_address() -> None:
    limiter = FailureLimiter(2, 60.0, clock=FakeTime())
    limiter.record_failure("CP1", "10.0.0.1")
    limiter.record_success("CP1")
    limiter.record_failure("CP1", "10.0.0.2")
    assert not limiter.blocked("CP1", "10.0.0.3")
    limiter.record_failure("CP2", "10.0.0.1")
    assert limiter.blocked("CPX", "10.0.0.1")


def test_memory_is_bounded() -> None:
    clock = FakeTime()
    limiter = FailureLimiter(5, 60.0, max_keys=100, clock=clock)
    for i in range(10_000):
        limiter.record_failure(f"CP{i}", f"10.{i // 256}.{i % 256}.1")
    assert len(limiter) <= 100
    clock.t += 120
    limiter.record_failure("CPlast", "1.2.3.4")
    assert len(limiter) == 2  # everything older than the window is gone
