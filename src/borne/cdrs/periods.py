"""Charging periods from what a station reported: a pure function of readings and states.

Input (:class:`MeterData`): the session window, the energy register readings, power and current
samples, and the charging-state changes, each with the station's timestamp. Output
(:class:`Segmentation`): consecutive :class:`Segment` s, each charging or parking, ready for the
pricing engine (:meth:`Segmentation.usage`). The engine itself cuts periods at tariff boundaries
(time of day, kWh, duration), so nothing here needs to know where those are.

The rules (docs/cdrs.md repeats them):

1. **Order by timestamp, never by arrival.** Late and offline-queued values slot in where their
   timestamp puts them. Readings are clipped into ``[start, end]``.
2. **Energy curve.** Points: the meter start at ``start`` (else the earliest reading), every
   register reading, the meter stop at ``end`` (else the latest reading). A reading lower than an
   earlier one (by timestamp) is **clamped** to it: energy never flows backwards, so no period
   has negative energy. Readings the transactions domain flagged implausible (meter backwards,
   timestamp in the future or outside the transaction) are excluded by the caller.
3. **Cut points.** Every reading and every charging-state change inside the window.
4. **Energy between two readings** goes to the sub-intervals the station reported as charging,
   in proportion to their duration; sub-intervals reported as not charging get none. If the
   station reported "not charging" for the whole stretch but the meter moved, **the meter wins**
   and the energy is spread over the whole stretch.
5. **Charging or parking.** A sub-interval with energy is charging (TIME); one whose energy is
   known to be zero is parking (PARKING_TIME: no energy transferred). Without any reading at all
   the energy is unknown (0 kWh) and the station's state decides: charging unless it said
   SuspendedEV / SuspendedEVSE / EVConnected / Idle / Finishing.
6. **Power and current** of a sub-interval: min and max of the samples timestamped inside it
   (``start < t <= end``; the first one includes its start), phases summed when only per-phase
   values were sent. Without power samples, MIN/MAX_POWER are the average power (energy / time).
7. **Merging.** Neighbouring sub-intervals of the same kind merge into one period when no
   current or power restriction of the tariff can tell them apart (for every threshold, both
   are on the same side), so merging never changes the price.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Context, Decimal, localcontext
from itertools import pairwise
from typing import Literal

from borne.tariffs import ChargingPeriod, SessionUsage, Tariff

ZERO = Decimal(0)
_CTX = Context(prec=50)
_US = timedelta(microseconds=1)
Kind = Literal["charging", "parking"]

#: Charging states (2.0.1 ``chargingState``) and connector statuses (1.6) that say whether
#: energy is being offered to the EV. Anything else (Occupied, Preparing…) says nothing.
CHARGING_SIGNALS: dict[str, bool] = {
    "Charging": True,
    "SuspendedEV": False,
    "SuspendedEVSE": False,
    "EVConnected": False,
    "Idle": False,
    "Finishing": False,
}


@dataclass(frozen=True, slots=True)
class Reading:
    """An energy register reading (Energy.Active.Import.Register), in Wh."""

    timestamp: datetime
    wh: Decimal


@dataclass(frozen=True, slots=True)
class Instant:
    """An instantaneous sample: power in W, or current in A (phases summed)."""

    timestamp: datetime
    value: Decimal


@dataclass(frozen=True, slots=True)
class StateChange:
    timestamp: datetime
    charging: bool


@dataclass(frozen=True)
class MeterData:
    start: datetime
    end: datetime
    meter_start_wh: Decimal | None = None
    meter_stop_wh: Decimal | None = None
    readings: Sequence[Reading] = ()
    power_w: Sequence[Instant] = ()
    current_a: Sequence[Instant] = ()
    states: Sequence[StateChange] = ()


@dataclass(frozen=True, slots=True)
class Segment:
    start: datetime
    end: datetime
    kind: Kind
    energy_wh: Decimal
    #: kW
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    #: A, phases summed
    min_current: Decimal | None = None
    max_current: Decimal | None = None

    @property
    def hours(self) -> Decimal:
        return _hours(self.end - self.start)

    def charging_period(self) -> ChargingPeriod:
        hours = self.hours
        charging = self.kind == "charging"
        return ChargingPeriod(
            start=self.start,
            energy_kwh=self.energy_wh / 1000,
            time_h=hours if charging else ZERO,
            parking_h=ZERO if charging else hours,
            min_current=self.min_current,
            max_current=self.max_current,
            min_power=self.min_power,
            max_power=self.max_power,
        )


@dataclass(frozen=True)
class Segmentation:
    segments: tuple[Segment, ...]
    start: datetime
    end: datetime
    #: What was clamped or assumed, in words (the CDR explanation repeats them).
    notes: tuple[str, ...] = ()

    def usage(self) -> SessionUsage:
        return SessionUsage(periods=tuple(s.charging_period() for s in self.segments), end=self.end)

    @property
    def energy_wh(self) -> Decimal:
        return sum((s.energy_wh for s in self.segments), ZERO)

    @property
    def charging_hours(self) -> Decimal:
        return sum((s.hours for s in self.segments if s.kind == "charging"), ZERO)

    @property
    def parking_hours(self) -> Decimal:
        return sum((s.hours for s in self.segments if s.kind == "parking"), ZERO)


@dataclass(frozen=True)
class Thresholds:
    """The current and power limits a tariff's restrictions compare against (A and kW)."""

    min_power: frozenset[Decimal] = frozenset()
    max_power: frozenset[Decimal] = frozenset()
    min_current: frozenset[Decimal] = frozenset()
    max_current: frozenset[Decimal] = frozenset()

    @classmethod
    def of(cls, tariff: Tariff | None) -> Thresholds:
        if tariff is None:
            return cls()
        restrictions = [e.restrictions for e in tariff.elements if e.restrictions is not None]

        def values(name: str) -> frozenset[Decimal]:
            found = (getattr(r, name) for r in restrictions)
            return frozenset(v for v in found if v is not None)

        return cls(
            values("min_power"), values("max_power"), values("min_current"), values("max_current")
        )


def _hours(span: timedelta) -> Decimal:
    with localcontext(_CTX):
        return Decimal(span // _US) / 3_600_000_000


def segment(data: MeterData, thresholds: Thresholds | None = None) -> Segmentation:
    """Cut the session into charging and parking periods (rules in the module docstring)."""
    with localcontext(_CTX):
        return _segment(data, thresholds or Thresholds())


def _segment(data: MeterData, thresholds: Thresholds) -> Segmentation:
    notes: list[str] = []
    start, end = data.start, data.end
    if end < start:
        notes.append("the session ends before it starts: treated as zero length")
        end = start
    points, clamped = _energy_points(data, start, end)
    if clamped:
        notes.append(f"{clamped} register reading(s) lower than an earlier one were clamped")
    if not points:
        notes.append("no energy reading: energy unknown, charging vs parking from states only")
    states = sorted(data.states, key=lambda s: s.timestamp)
    cuts = {start, end}
    cuts.update(t for t, _ in points if start < t < end)
    cuts.update(s.timestamp for s in states if start < s.timestamp < end)
    bounds = sorted(cuts)
    intervals = list(pairwise(bounds)) or [(start, end)]
    state_times = [s.timestamp for s in states]

    def charging_at(t: datetime) -> bool | None:
        i = bisect_right(state_times, t)
        return states[i - 1].charging if i else None

    energies = _distribute(points, intervals, charging_at)
    power = _by_time(data.power_w)
    current = _by_time(data.current_a)
    raw: list[Segment] = []
    for n, ((a, b), measured) in enumerate(zip(intervals, energies, strict=True)):
        known = measured is not None
        wh = ZERO if measured is None else measured
        if measured is None:
            kind: Kind = "parking" if charging_at(a) is False else "charging"
        else:
            kind = "charging" if wh > 0 else "parking"
        p_lo, p_hi = _range(power, a, b, first=n == 0)
        if p_hi is None and known:
            hours = _hours(b - a)
            avg = wh / 1000 / hours if hours > 0 else ZERO
            p_lo = p_hi = avg
        elif p_lo is not None and p_hi is not None:
            p_lo, p_hi = p_lo / 1000, p_hi / 1000
        i_lo, i_hi = _range(current, a, b, first=n == 0)
        raw.append(Segment(a, b, kind, wh, p_lo, p_hi, i_lo, i_hi))
    return Segmentation(tuple(_merge(raw, thresholds)), start, end, tuple(notes))


def _energy_points(
    data: MeterData, start: datetime, end: datetime
) -> tuple[list[tuple[datetime, Decimal]], int]:
    """The energy curve, by timestamp, clipped to the window and never decreasing."""
    readings = sorted(
        ((min(max(r.timestamp, start), end), r.wh) for r in data.readings),
        key=lambda p: p[0],
    )
    raw: list[tuple[datetime, Decimal]] = []
    first = data.meter_start_wh
    if first is None and readings:
        first = readings[0][1]
    if first is not None:
        raw.append((start, first))
    raw.extend(readings)
    last = data.meter_stop_wh
    if last is None and readings:
        last = readings[-1][1]
    if last is not None:
        raw.append((end, last))
    points: list[tuple[datetime, Decimal]] = []
    clamped = 0
    high: Decimal | None = None
    for t, reported in raw:
        wh = reported
        if high is not None and wh < high:
            clamped += 1
            wh = high
        high = wh
        if points and points[-1][0] == t:
            points[-1] = (t, wh)  # same instant: the latest (highest) value stands
        else:
            points.append((t, wh))
    return points, clamped


def _distribute(
    points: list[tuple[datetime, Decimal]],
    intervals: list[tuple[datetime, datetime]],
    charging_at: Callable[[datetime], bool | None],
) -> list[Decimal | None]:
    """Energy of each interval (Wh): rule 4 of the module docstring. None: unknown."""
    if not points:
        return [None] * len(intervals)
    out: list[Decimal | None] = [ZERO] * len(intervals)
    k = 0
    for (t0, e0), (t1, e1) in pairwise(points):
        delta = e1 - e0
        members: list[int] = []
        while k < len(intervals) and intervals[k][1] <= t1:
            if intervals[k][0] >= t0:
                members.append(k)
            k += 1
        if delta <= 0 or not members:
            continue
        charging = [i for i in members if charging_at(intervals[i][0]) is not False]
        chosen = [i for i in charging if intervals[i][1] > intervals[i][0]] or [
            i for i in members if intervals[i][1] > intervals[i][0]
        ]
        if not chosen:  # zero-length stretch: the energy goes to its last interval
            chosen = members[-1:]
        total = sum((intervals[i][1] - intervals[i][0] for i in chosen), timedelta())
        given = ZERO
        for i in chosen[:-1]:
            share = delta * Decimal((intervals[i][1] - intervals[i][0]) // _US) / (total // _US)
            out[i] = share
            given += share
        out[chosen[-1]] = delta - given
    return out


def _by_time(samples: Iterable[Instant]) -> list[Instant]:
    return sorted(samples, key=lambda s: s.timestamp)


def _range(
    samples: list[Instant], a: datetime, b: datetime, *, first: bool
) -> tuple[Decimal | None, Decimal | None]:
    values = [s.value for s in samples if (a < s.timestamp <= b) or (first and s.timestamp == a)]
    if not values:
        return None, None
    return min(values), max(values)


def _side(value: Decimal | None, limits: frozenset[Decimal], *, minimum: bool) -> tuple[int, ...]:
    """Which side of each limit ``value`` is on, as a restriction would judge it."""
    if value is None:
        return tuple(-1 for _ in sorted(limits))
    if minimum:
        return tuple(int(value >= lim) for lim in sorted(limits))
    return tuple(int(value < lim) for lim in sorted(limits))


def _signature(s: Segment, t: Thresholds) -> tuple[tuple[int, ...], ...]:
    return (
        _side(s.min_power, t.min_power, minimum=True),
        _side(s.max_power, t.max_power, minimum=False),
        _side(s.min_current, t.min_current, minimum=True),
        _side(s.max_current, t.max_current, minimum=False),
    )


def _lo(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    return b if a is None else a if b is None else min(a, b)


def _hi(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    return b if a is None else a if b is None else max(a, b)


def _merge(segments: list[Segment], t: Thresholds) -> list[Segment]:
    out: list[Segment] = []
    for s in segments:
        prev = out[-1] if out else None
        if prev is not None and prev.kind == s.kind and _signature(prev, t) == _signature(s, t):
            out[-1] = replace(
                prev,
                end=s.end,
                energy_wh=prev.energy_wh + s.energy_wh,
                min_power=_lo(prev.min_power, s.min_power),
                max_power=_hi(prev.max_power, s.max_power),
                min_current=_lo(prev.min_current, s.min_current),
                max_current=_hi(prev.max_current, s.max_current),
            )
        else:
            out.append(s)
    return out
