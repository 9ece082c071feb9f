"""Sampled values as the domain sees them, and the pure rules applied to them (no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from borne.transactions.models import ENERGY_REGISTER

# A station clock may run a little ahead; beyond this a timestamp is flagged as in the future.
FUTURE_TOLERANCE = timedelta(minutes=5)
# Meter values may be taken a little before the start or after the stop of a transaction.
WINDOW_TOLERANCE = timedelta(minutes=1)

FLAG_FUTURE = "timestamp_in_future"
FLAG_OUTSIDE = "timestamp_outside_transaction"
FLAG_BACKWARDS = "meter_backwards"
FLAG_NOT_A_NUMBER = "value_not_a_number"

_WH_FACTOR = {None: Decimal(1), "Wh": Decimal(1), "kWh": Decimal(1000)}


@dataclass(frozen=True)
class SampleIn:
    """One sampled value of a meter reading, version-neutral."""

    timestamp: datetime
    raw_value: str
    value: Decimal | None
    measurand: str = ENERGY_REGISTER
    phase: str | None = None
    location: str | None = None
    unit: str | None = None
    multiplier: int | None = None
    context: str | None = None
    format: str | None = None
    signed: dict[str, Any] | None = None


def parse_decimal(raw: str) -> Decimal | None:
    """The exact number in ``raw``, or None when it is not a finite number."""
    try:
        value = Decimal(raw.strip())
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def energy_wh(sample: SampleIn) -> Decimal | None:
    """The active imported energy register of ``sample`` in Wh, or None if it is not one."""
    if sample.measurand != ENERGY_REGISTER or sample.value is None or sample.phase is not None:
        return None
    factor = _WH_FACTOR.get(sample.unit)
    if factor is None:
        return None
    value = sample.value * factor
    if sample.multiplier:
        value = value.scaleb(sample.multiplier)
    return value


def pick_start_wh(samples: Iterable[SampleIn]) -> Decimal | None:
    """Meter start: the ``Transaction.Begin`` register if any, else the earliest register."""
    return _pick(samples, "Transaction.Begin", latest=False)


def pick_stop_wh(samples: Iterable[SampleIn]) -> Decimal | None:
    """Meter stop: the ``Transaction.End`` register if any, else the latest register."""
    return _pick(samples, "Transaction.End", latest=True)


def _pick(samples: Iterable[SampleIn], context: str, *, latest: bool) -> Decimal | None:
    registers = [(s, wh) for s in samples if (wh := energy_wh(s)) is not None]
    if not registers:
        return None
    preferred = [r for r in registers if r[0].context == context] or registers
    choose = max if latest else min
    return choose(preferred, key=lambda r: r[0].timestamp)[1]


@dataclass(frozen=True)
class Window:
    """What is known of the transaction a sample belongs to, to judge plausibility."""

    started_at: datetime | None = None
    stopped_at: datetime | None = None
    meter_start_wh: Decimal | None = None
    last_energy_at: datetime | None = None
    last_energy_wh: Decimal | None = None


def time_flags(ts: datetime, now: datetime, window: Window | None = None) -> list[str]:
    flags = []
    if ts > now + FUTURE_TOLERANCE:
        flags.append(FLAG_FUTURE)
    if window is not None and (
        (window.started_at is not None and ts < window.started_at - WINDOW_TOLERANCE)
        or (window.stopped_at is not None and ts > window.stopped_at + WINDOW_TOLERANCE)
    ):
        flags.append(FLAG_OUTSIDE)
    return flags


@dataclass(frozen=True)
class Assessment:
    flags: list[list[str]]  # one list per sample, in input order
    last_energy_at: datetime | None
    last_energy_wh: Decimal | None

    @property
    def any_flags(self) -> set[str]:
        return {f for fs in self.flags for f in fs}


def assess(samples: Sequence[SampleIn], now: datetime, window: Window | None) -> Assessment:
    """Flag implausible samples (R13): future or out-of-window timestamps, a register lower than
    an earlier reading (by timestamp, not by arrival), values that are not numbers."""
    w = window or Window()
    last_at, last_wh = w.last_energy_at, w.last_energy_wh
    out: list[list[str]] = []
    for s in samples:
        flags = time_flags(s.timestamp, now, window)
        if s.value is None and s.format != "SignedData":
            flags.append(FLAG_NOT_A_NUMBER)
        wh = energy_wh(s)
        if wh is not None:
            if (w.meter_start_wh is not None and wh < w.meter_start_wh) or (
                last_wh is not None
                and last_at is not None
                and s.timestamp >= last_at
                and wh < last_wh
            ):
                flags.append(FLAG_BACKWARDS)
            if last_at is None or s.timestamp >= last_at:
                last_at, last_wh = s.timestamp, wh
        out.append(flags)
    return Assessment(out, last_at, last_wh)


def as_utc(ts: datetime) -> datetime:
    """Stations sometimes omit the offset; OCPP times are UTC, so a naive one is read as UTC."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def number_text(value: float) -> str:
    """The JSON number a 2.0.1 station sent, as text (the model hands it over as a float)."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)
