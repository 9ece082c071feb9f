"""Tariff restrictions, compiled once per tariff and evaluated at one moment of a session.

Semantics (all restrictions of an element must hold, at that moment):

* ``start_time`` / ``end_time``: local wall-clock time ``t`` of the location's time zone;
  ``start ≤ t < end``, or when ``end < start`` the window wraps midnight (``t ≥ start or
  t < end``); ``end_time = 00:00`` therefore means "until the end of the day". Each moment is
  judged on its own local date: a 22:00-06:00 window on MONDAY covers Monday 00:00-06:00 and
  22:00-24:00 (day_of_week and the time window are ANDed at the same moment).
* ``start_date`` (inclusive) / ``end_date`` (exclusive): the moment's local date.
* ``day_of_week``: the moment's local weekday; an empty list means every day.
* ``min_kwh`` (inclusive) / ``max_kwh`` (exclusive): energy charged in the session so far.
* ``min_duration`` (inclusive) / ``max_duration`` (exclusive): seconds since the session started
  (for reservation time: since the reservation started).
* ``min_current`` / ``min_power``: the period's MIN value (its MAX when no MIN was measured) must
  be ≥ the limit; ``max_current`` / ``max_power``: the period's MAX value (else its MIN) must be
  < the limit. A period without the measurement does not satisfy the restriction.
* ``reservation``: the element applies to reservation time only (RESERVATION), or only to an
  expired reservation (RESERVATION_EXPIRES, which is looked up before RESERVATION elements, per
  the note of the ReservationRestrictionType enum). Elements without it never price reservation
  time, and reservation elements never price the charging session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from borne.tariffs.ocpi_tariff import WEEKDAYS, ReservationRestrictionType, TariffRestrictions
from borne.tariffs.periods import ChargingPeriod


@dataclass(frozen=True, slots=True)
class Moment:
    """Everything a restriction may look at, at one instant of the session."""

    local: datetime
    kwh: Decimal
    elapsed_s: Decimal
    period: ChargingPeriod


def _hhmm(value: str | None) -> time | None:
    if value is None:
        return None
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True, slots=True)
class Rules:
    """A compiled :class:`TariffRestrictions` (validated beforehand)."""

    start_time: time | None = None
    end_time: time | None = None
    start_date: date | None = None
    end_date: date | None = None
    min_kwh: Decimal | None = None
    max_kwh: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    weekdays: frozenset[int] | None = None
    reservation: ReservationRestrictionType | None = None

    @classmethod
    def compile(cls, r: TariffRestrictions | None) -> Rules:
        if r is None:
            return cls()
        days = frozenset(WEEKDAYS.index(d) for d in r.day_of_week) if r.day_of_week else None
        return cls(
            start_time=_hhmm(r.start_time),
            end_time=_hhmm(r.end_time),
            start_date=date.fromisoformat(r.start_date) if r.start_date else None,
            end_date=date.fromisoformat(r.end_date) if r.end_date else None,
            min_kwh=r.min_kwh,
            max_kwh=r.max_kwh,
            min_current=r.min_current,
            max_current=r.max_current,
            min_power=r.min_power,
            max_power=r.max_power,
            min_duration=r.min_duration,
            max_duration=r.max_duration,
            weekdays=days,
            reservation=r.reservation,
        )

    @property
    def uses_clock(self) -> bool:
        return (
            self.start_time is not None
            or self.end_time is not None
            or self.start_date is not None
            or self.end_date is not None
            or self.weekdays is not None
        )

    def clock_times(self) -> set[time]:
        """Local times of day at which this element may switch on or off."""
        out = {t for t in (self.start_time, self.end_time) if t is not None}
        if self.start_date or self.end_date or self.weekdays is not None:
            out.add(time(0, 0))
        return out

    def kwh_thresholds(self) -> set[Decimal]:
        return {k for k in (self.min_kwh, self.max_kwh) if k is not None}

    def duration_thresholds(self) -> set[int]:
        return {d for d in (self.min_duration, self.max_duration) if d is not None}

    def describe(self) -> str:
        """Short human-readable form, e.g. ``MON-FRI 09:00-18:00, < 32 A``."""
        parts: list[str] = []
        if self.reservation is not None:
            parts.append(self.reservation.value.lower().replace("_", " "))
        if self.weekdays is not None:
            names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
            parts.append("/".join(names[d] for d in sorted(self.weekdays)))
        if self.start_time or self.end_time:
            start = self.start_time.strftime("%H:%M") if self.start_time else "00:00"
            end = self.end_time.strftime("%H:%M") if self.end_time else "24:00"
            parts.append(f"{start}-{end}")
        if self.start_date or self.end_date:
            parts.append(f"dates [{self.start_date or '…'}, {self.end_date or '…'})")
        for name, low, high, unit in (
            ("energy", self.min_kwh, self.max_kwh, "kWh"),
            ("current", self.min_current, self.max_current, "A"),
            ("power", self.min_power, self.max_power, "kW"),
            ("duration", self.min_duration, self.max_duration, "s"),
        ):
            if low is not None:
                parts.append(f"{name} >= {low} {unit}")
            if high is not None:
                parts.append(f"{name} < {high} {unit}")
        return ", ".join(parts) if parts else "no restrictions"

    def matches(self, m: Moment) -> bool:
        if self.uses_clock and not self._clock(m.local):
            return False
        if self.min_kwh is not None and m.kwh < self.min_kwh:
            return False
        if self.max_kwh is not None and m.kwh >= self.max_kwh:
            return False
        if self.min_duration is not None and m.elapsed_s < self.min_duration:
            return False
        if self.max_duration is not None and m.elapsed_s >= self.max_duration:
            return False
        p = m.period
        if not _at_least(self.min_current, p.min_current, p.max_current):
            return False
        if not _below(self.max_current, p.max_current, p.min_current):
            return False
        if not _at_least(self.min_power, p.min_power, p.max_power):
            return False
        return _below(self.max_power, p.max_power, p.min_power)

    def _clock(self, local: datetime) -> bool:
        day = local.date()
        if self.start_date is not None and day < self.start_date:
            return False
        if self.end_date is not None and day >= self.end_date:
            return False
        if self.weekdays is not None and day.weekday() not in self.weekdays:
            return False
        t = local.time().replace(tzinfo=None)
        start, end = self.start_time, self.end_time
        if start is not None and end is not None:
            if start < end:
                return start <= t < end
            return t >= start or t < end  # wraps midnight (end 00:00 = end of day)
        if start is not None:
            return t >= start
        if end is not None:
            return t < end
        return True


def _at_least(limit: Decimal | None, value: Decimal | None, fallback: Decimal | None) -> bool:
    if limit is None:
        return True
    seen = value if value is not None else fallback
    return seen is not None and seen >= limit


def _below(limit: Decimal | None, value: Decimal | None, fallback: Decimal | None) -> bool:
    if limit is None:
        return True
    seen = value if value is not None else fallback
    return seen is not None and seen < limit
