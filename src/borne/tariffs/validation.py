"""What "a tariff that cannot be priced unambiguously" means, checked in one place.

:func:`validate_tariff` collects every problem and raises one
:class:`~borne.core.errors.InvalidInput` whose ``details["errors"]`` is a list of
``{"field": "elements[2].restrictions.end_time", "reason": "..."}``. A tariff is refused when:

* the currency is not an ISO 4217 code (three capital letters);
* an element has no price component, or two components of the same dimension (which one applies
  would depend on an unwritten rule);
* a ``step_size`` is negative, or zero on ENERGY / TIME / PARKING_TIME (there is no "smallest
  multiple of 0"; FLAT ignores step_size, so 0 there is accepted, as in the spec's free tariff);
* a price is not finite or a ``vat`` is negative;
* ``start_time`` / ``end_time`` do not match ``HH:MM`` (00:00-23:59), or are equal (an empty or a
  24-hour window: the spec does not say which);
* ``start_date`` / ``end_date`` are not real ``YYYY-MM-DD`` dates, or the range is empty;
* a min/max pair (kWh, current, power, duration) describes an empty range, or kWh / duration is
  negative;
* a reservation element prices ENERGY or PARKING_TIME (the spec allows only FLAT and TIME);
* the tax model is inconsistent: ``tax_included = N/A`` with a ``vat`` on a component;
* ``min_price`` exceeds ``max_price`` (before or after taxes), or a limit is negative;
* ``start_date_time`` is not before ``end_date_time``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from borne.core.errors import InvalidInput
from borne.tariffs.ocpi_tariff import (
    PriceLimit,
    Tariff,
    TariffDimensionType,
    TariffRestrictions,
    TaxIncluded,
)

_TIME = re.compile(r"([0-1][0-9]|2[0-3]):[0-5][0-9]")
_DATE = re.compile(r"([12][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])")
_CURRENCY = re.compile(r"[A-Z]{3}")

Problem = dict[str, str]
_Bad = Callable[[str, str], None]


def validate_tariff(tariff: Tariff) -> Tariff:
    """Return ``tariff`` unchanged when it can be priced unambiguously, else raise InvalidInput."""
    problems: list[Problem] = []

    def bad(field: str, reason: str) -> None:
        problems.append({"field": field, "reason": reason})

    if not _CURRENCY.fullmatch(tariff.currency):
        bad("currency", f"{tariff.currency!r} is not an ISO 4217 code")
    for i, element in enumerate(tariff.elements):
        where = f"elements[{i}]"
        if not element.price_components:
            bad(f"{where}.price_components", "an element needs at least one price component")
        seen: set[TariffDimensionType] = set()
        reservation = element.restrictions is not None and element.restrictions.reservation
        for j, pc in enumerate(element.price_components):
            at = f"{where}.price_components[{j}]"
            if pc.type in seen:
                bad(f"{at}.type", f"second {pc.type.value} component in one element")
            seen.add(pc.type)
            if pc.step_size < 0:
                bad(f"{at}.step_size", "step_size must not be negative")
            elif pc.step_size == 0 and pc.type is not TariffDimensionType.FLAT:
                bad(f"{at}.step_size", f"step_size 0 on {pc.type.value} has no smallest multiple")
            if pc.vat is not None and pc.vat < 0:
                bad(f"{at}.vat", "vat must not be negative")
            if pc.vat is not None and tariff.tax_included is TaxIncluded.N_A:
                bad(f"{at}.vat", "tax_included is N/A (no taxes) but this component has a vat")
            if reservation and pc.type in (
                TariffDimensionType.ENERGY,
                TariffDimensionType.PARKING_TIME,
            ):
                bad(f"{at}.type", f"a reservation element cannot price {pc.type.value}")
        if element.restrictions is not None:
            _check_restrictions(element.restrictions, f"{where}.restrictions", bad)
    _check_limits(tariff.min_price, tariff.max_price, bad)
    if (
        tariff.start_date_time is not None
        and tariff.end_date_time is not None
        and tariff.start_date_time >= tariff.end_date_time
    ):
        bad("end_date_time", "end_date_time must be after start_date_time")
    if problems:
        first = problems[0]
        raise InvalidInput(
            f"tariff {tariff.id} cannot be priced unambiguously: "
            f"{first['field']}: {first['reason']}",
            details={"tariff_id": tariff.id, "errors": problems},
        )
    return tariff


def _check_restrictions(r: TariffRestrictions, where: str, bad: _Bad) -> None:
    for name in ("start_time", "end_time"):
        value = getattr(r, name)
        if value is not None and not _TIME.fullmatch(value):
            bad(f"{where}.{name}", f"{value!r} is not HH:MM (00:00-23:59)")
    if r.start_time is not None and r.start_time == r.end_time and _TIME.fullmatch(r.start_time):
        bad(f"{where}.end_time", "start_time equals end_time: empty or whole day is ambiguous")
    dates: dict[str, date] = {}
    for name in ("start_date", "end_date"):
        value = getattr(r, name)
        if value is None:
            continue
        if not _DATE.fullmatch(value):
            bad(f"{where}.{name}", f"{value!r} is not YYYY-MM-DD")
            continue
        try:
            dates[name] = date.fromisoformat(value)
        except ValueError:
            bad(f"{where}.{name}", f"{value!r} is not a calendar date")
    if len(dates) == 2 and dates["start_date"] >= dates["end_date"]:
        bad(f"{where}.end_date", "end_date (exclusive) must be after start_date")
    pairs: tuple[tuple[str, Decimal | int | None, Decimal | int | None, bool], ...] = (
        ("kwh", r.min_kwh, r.max_kwh, True),
        ("current", r.min_current, r.max_current, False),
        ("power", r.min_power, r.max_power, False),
        ("duration", r.min_duration, r.max_duration, True),
    )
    for name, low, high, non_negative in pairs:
        if non_negative:
            for edge, value in (("min", low), ("max", high)):
                if value is not None and value < 0:
                    bad(f"{where}.{edge}_{name}", f"{edge}_{name} must not be negative")
        if low is not None and high is not None and low >= high:
            bad(f"{where}.max_{name}", f"min_{name} {low} >= max_{name} {high}: never applies")


def _check_limits(low: PriceLimit | None, high: PriceLimit | None, bad: _Bad) -> None:
    for name, limit in (("min_price", low), ("max_price", high)):
        if limit is None:
            continue
        if limit.before_taxes < 0:
            bad(f"{name}.before_taxes", "a price limit must not be negative")
        if limit.after_taxes is not None and limit.after_taxes < 0:
            bad(f"{name}.after_taxes", "a price limit must not be negative")
    if low is None or high is None:
        return
    if low.before_taxes > high.before_taxes:
        bad("min_price.before_taxes", "min_price is above max_price (before taxes)")
    if (
        low.after_taxes is not None
        and high.after_taxes is not None
        and low.after_taxes > high.after_taxes
    ):
        bad("min_price.after_taxes", "min_price is above max_price (after taxes)")
