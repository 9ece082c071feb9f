"""The input of the pricing engine: what was consumed, when.

A :class:`ChargingPeriod` mirrors an OCPI ``ChargingPeriod``: it starts at ``start`` and ends when
the next one starts (the last one ends at :attr:`SessionUsage.end`). Its volumes are the OCPI
``CdrDimension`` values: ENERGY in kWh, TIME / PARKING_TIME / RESERVATION_TIME in hours,
MIN/MAX_CURRENT in A, MIN/MAX_POWER in kW. Periods may come straight from meter values: the engine
splits them where a tariff restriction changes inside (see :mod:`borne.tariffs.pricing`).

Rules checked here (violations raise :class:`~borne.core.errors.InvalidInput`):
timestamps are time-zone aware; periods are in time order and start no later than ``end``;
volumes are non-negative (V2G export is not priced by this engine); a reservation period
(RESERVATION_TIME > 0) carries no charging volumes, and reservation periods precede charging
periods; an expired reservation has no charging periods.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from borne.core.errors import InvalidInput

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class ChargingPeriod:
    start: datetime
    energy_kwh: Decimal = ZERO
    time_h: Decimal = ZERO
    parking_h: Decimal = ZERO
    reservation_h: Decimal = ZERO
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None

    @property
    def is_reservation(self) -> bool:
        return self.reservation_h > 0

    @classmethod
    def from_ocpi(cls, data: Mapping[str, Any]) -> ChargingPeriod:
        """From an OCPI ``ChargingPeriod`` object (``start_date_time``, ``dimensions``).

        Session-only dimensions (CURRENT, POWER, STATE_OF_CHARGE, ENERGY_IMPORT/EXPORT) are
        ignored; an average CURRENT / POWER is used for both min and max when no MIN/MAX is given.
        """
        try:
            start = _parse_dt(data["start_date_time"])
            values: dict[str, Decimal] = {}
            for dim in data.get("dimensions", ()):
                values[str(dim["type"])] = Decimal(str(dim["volume"]))
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise InvalidInput(f"invalid charging period: {exc}", details={}) from None
        avg_i, avg_p = values.get("CURRENT"), values.get("POWER")
        return cls(
            start=start,
            energy_kwh=values.get("ENERGY", ZERO),
            time_h=values.get("TIME", ZERO),
            parking_h=values.get("PARKING_TIME", ZERO),
            reservation_h=values.get("RESERVATION_TIME", ZERO),
            min_current=values.get("MIN_CURRENT", avg_i),
            max_current=values.get("MAX_CURRENT", avg_i),
            min_power=values.get("MIN_POWER", avg_p),
            max_power=values.get("MAX_POWER", avg_p),
        )


@dataclass(frozen=True, slots=True)
class SessionUsage:
    """A whole session (optionally preceded by its reservation), ready to be priced."""

    periods: tuple[ChargingPeriod, ...]
    end: datetime
    reservation_expired: bool = False

    def __post_init__(self) -> None:
        _check(self)

    @property
    def charging_start(self) -> datetime | None:
        """Start of the charging session (first non-reservation period): duration restrictions
        count from here."""
        return next((p.start for p in self.periods if not p.is_reservation), None)

    @property
    def reservation_start(self) -> datetime | None:
        return next((p.start for p in self.periods if p.is_reservation), None)

    def period_end(self, index: int) -> datetime:
        nxt = index + 1
        return self.periods[nxt].start if nxt < len(self.periods) else self.end

    @classmethod
    def from_ocpi(
        cls,
        charging_periods: Sequence[Mapping[str, Any]],
        end_date_time: datetime | str,
        *,
        reservation_expired: bool = False,
    ) -> SessionUsage:
        """From the ``charging_periods`` and ``end_date_time`` of an OCPI CDR or Session."""
        end = end_date_time if isinstance(end_date_time, datetime) else _parse_dt(end_date_time)
        periods = tuple(ChargingPeriod.from_ocpi(p) for p in charging_periods)
        return cls(periods=periods, end=end, reservation_expired=reservation_expired)


def _parse_dt(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _check(usage: SessionUsage) -> None:
    def fail(reason: str, index: int | None = None) -> None:
        details: dict[str, Any] = {"reason": reason}
        if index is not None:
            details["period"] = index
        where = f"period {index}: " if index is not None else ""
        raise InvalidInput(f"invalid session usage: {where}{reason}", details=details)

    if usage.end.tzinfo is None:
        fail("end is a naive datetime")
    previous: datetime | None = None
    charging_seen = False
    for i, p in enumerate(usage.periods):
        if p.start.tzinfo is None:
            fail("start is a naive datetime", i)
        if previous is not None and p.start < previous:
            fail("periods are not in time order", i)
        previous = p.start
        for name in ("energy_kwh", "time_h", "parking_h", "reservation_h"):
            value: Decimal = getattr(p, name)
            if not value.is_finite() or value < 0:
                fail(f"{name} must be a finite, non-negative number", i)
        if p.is_reservation:
            if p.energy_kwh or p.time_h or p.parking_h:
                fail("a reservation period cannot also carry charging volumes", i)
            if charging_seen:
                fail("reservation time after the charging session started", i)
        else:
            charging_seen = True
    if previous is not None and usage.end < previous:
        fail("end is before the start of the last period")
    if usage.reservation_expired and charging_seen:
        fail("an expired reservation cannot be followed by charging periods")
