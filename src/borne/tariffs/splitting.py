"""Cutting charging periods where a tariff restriction may change inside them.

Cuts come from local clock times (with both readings of an ambiguous local time and the UTC
offset changes of DST, so that a wall-clock restriction is constant between cuts), from duration
thresholds (instants) and from kWh thresholds (exact energies). Inside a period, volumes are
apportioned linearly in time; a kWh cut carries its exact energy.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from decimal import Decimal
from itertools import pairwise

from borne.tariffs.periods import ChargingPeriod

ZERO = Decimal(0)
ONE = Decimal(1)
US = timedelta(microseconds=1)


def clock_cuts(start: datetime, end: datetime, tz: tzinfo, times: Iterable[time]) -> list[datetime]:
    """UTC instants in (start, end) where a local time of day in ``times`` is reached, plus the
    UTC offset changes (DST) in between, sorted."""
    times = tuple(times)
    if not times or end <= start:
        return []
    first = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date()
    cuts: set[datetime] = set()
    day = first
    while day <= last:
        for t in times:
            for fold in (0, 1):
                at = datetime.combine(day, t, tzinfo=tz).replace(fold=fold).astimezone(UTC)
                if start < at < end:
                    cuts.add(at)
        day += timedelta(days=1)
    points = [start, *sorted(cuts), end]
    for a, b in pairwise(points):
        if a.astimezone(tz).utcoffset() != b.astimezone(tz).utcoffset():
            cuts.add(_transition(a, b, tz))
    return sorted(c for c in cuts if start < c < end)


def _transition(a: datetime, b: datetime, tz: tzinfo) -> datetime:
    """First instant in (a, b] with b's UTC offset (binary search to the microsecond)."""
    target = b.astimezone(tz).utcoffset()
    low, high = 0, (b - a) // US
    while high - low > 1:
        mid = (low + high) // 2
        if (a + mid * US).astimezone(tz).utcoffset() == target:
            high = mid
        else:
            low = mid
    return a + high * US


@dataclass(frozen=True, slots=True)
class Piece:
    start: datetime
    end: datetime
    #: fraction of the period [0, 1] and energy (kWh from the period start) at both ends
    f0: Decimal
    f1: Decimal
    e0: Decimal
    e1: Decimal
    middle: datetime


def pieces(
    period: ChargingPeriod,
    end: datetime,
    cum0: Decimal,
    instants: Sequence[datetime],
    kwh_thresholds: Sequence[Decimal],
) -> list[Piece]:
    start = period.start
    total_us = (end - start) // US
    energy = period.energy_kwh
    cuts: dict[Decimal, Decimal | None] = {}
    if total_us > 0:
        lo = bisect.bisect_right(instants, start)
        hi = bisect.bisect_left(instants, end)
        for at in instants[lo:hi]:
            cuts.setdefault(Decimal((at - start) // US) / total_us, None)
    if energy > 0:
        for k in kwh_thresholds:
            if cum0 < k < cum0 + energy:
                cuts[(k - cum0) / energy] = k - cum0
    marks = [
        (ZERO, ZERO),
        *sorted((f, e if e is not None else energy * f) for f, e in cuts.items()),
        (ONE, energy),
    ]
    out: list[Piece] = []
    for (f0, e0), (f1, e1) in pairwise(marks):
        us0 = int(f0 * total_us)
        us1 = int(f1 * total_us)
        out.append(
            Piece(
                start=start + us0 * US,
                end=start + us1 * US,
                f0=f0,
                f1=f1,
                e0=e0,
                e1=e1,
                middle=start + ((us0 + us1) // 2) * US,
            )
        )
    return out
