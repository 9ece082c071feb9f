"""Price transparency: what a driver would pay on each connector if starting now.

Everything is read off the pricing engine, not re-interpreted: for each connector, the resolved
tariff prices two probe sessions that start at ``at`` in the location's time zone, at the
connector's rated power and current (from its descriptor; without one, restrictions on power
or current are not met, as for a period without the measurement):

* charging for :data:`PROBE_HOURS` hours (with a negligible energy, so kWh thresholds are not
  crossed): the ENERGY, TIME and FLAT lines;
* parking for :data:`PROBE_HOURS` hours: the PARKING_TIME lines.

Each dimension's lines give the price that applies now and every change within the horizon
("€0.05/min after 60 min": a duration or time-of-day restriction switching).

Then, for each kWh threshold of the tariff (``min_kwh``/``max_kwh``, as the engine compiles
them), one more probe starting at ``at``: the threshold's energy charged within a second, then a
second of charging with a negligible energy, then a second of parking; the lines of those last
two periods are the prices "after N kWh" (``after_kwh``). They are listed after the time-based
changes, only where a price differs from the one before it at a lower threshold, and assume the
energy is reached at the prices of the session's start: kWh and time changes are shown
independently. Unit prices before
and after taxes are the engine's line cost divided by the billed quantity, so the tax model of
the tariff (2.2.1, 2.3.0 YES/NO/N/A) is applied exactly as in a CDR. step_size is not shown in
unit prices (it rounds the session total once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from borne.tariffs.breakdown import PricedLine
from borne.tariffs.ocpi_tariff import PriceLimit, Tariff, TariffDimensionType, TaxIncluded
from borne.tariffs.periods import ChargingPeriod, SessionUsage
from borne.tariffs.pricing import CompiledTariff, compile_tariff, price_session
from borne.tariffs.rounding import minor_unit

PROBE_HOURS = 4
_PROBE_KWH = Decimal("0.001")
# The kWh probes' periods: short, so time-based restrictions read as at the start.
_KWH_STEP = timedelta(seconds=1)
_KWH_STEP_H = Decimal(1) / Decimal(3600)
_UNIT_QUANTUM = Decimal("1e-10")
_DISPLAY_QUANTUM = Decimal("0.0001")
_SIXTY = Decimal(60)
_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF ", "SEK": "SEK "}


@dataclass(frozen=True)
class UnitPrice:
    """One price of one dimension, from ``after_minutes`` into a session started at ``at``, or,
    when ``after_kwh`` is set, once that much energy has been charged (``after_minutes`` 0).

    ``excl`` / ``incl`` are per kWh (ENERGY), per hour (TIME, PARKING_TIME) or per session
    (FLAT); None: that side is unknown under the tariff's tax model. ``element_index`` None
    means no element prices the dimension then: free.
    """

    dimension: TariffDimensionType
    after_minutes: int
    element_index: int | None
    price: Decimal | None
    vat: Decimal | None
    excl: Decimal | None
    incl: Decimal | None
    step_size: int | None
    rule: str
    after_kwh: Decimal | None = None

    @property
    def free(self) -> bool:
        return self.element_index is None or (self.excl == 0 and self.incl in (0, None))


@dataclass(frozen=True)
class PriceNow:
    """The prices of one tariff on one connector for a session started at ``at``."""

    at: datetime
    local_time: datetime
    energy: tuple[UnitPrice, ...]
    charging_time: tuple[UnitPrice, ...]
    parking_time: tuple[UnitPrice, ...]
    flat: UnitPrice | None
    min_price: PriceLimit | None
    max_price: PriceLimit | None
    vat_rates: tuple[Decimal, ...]
    shows_taxes_included: bool
    text: str


def _unit(line: PricedLine, at: datetime, after_kwh: Decimal | None = None) -> UnitPrice:
    def per_unit(cost: Decimal | None) -> Decimal | None:
        if cost is None or line.element_index is None:
            return None if line.element_index is not None else Decimal(0)
        if line.billed_quantity == 0:
            return None
        return (cost / line.billed_quantity).quantize(_UNIT_QUANTUM).normalize()

    after = max(0, int((line.start - at).total_seconds() // 60))
    return UnitPrice(
        dimension=line.dimension,
        after_minutes=0
        if line.dimension is TariffDimensionType.FLAT or after_kwh is not None
        else after,
        element_index=line.element_index,
        price=line.price,
        vat=line.vat,
        excl=per_unit(line.cost.excl),
        incl=per_unit(line.cost.incl),
        step_size=line.step_size,
        rule=line.rule if line.element_index is not None else "no element applies: free",
        after_kwh=after_kwh,
    )


def _segments(
    lines: Sequence[PricedLine], dim: TariffDimensionType, at: datetime
) -> list[UnitPrice]:
    out: list[UnitPrice] = []
    for line in lines:
        if line.dimension is not dim:
            continue
        if out and out[-1].element_index == line.element_index:
            continue
        out.append(_unit(line, at))
    return out


def _same_price(a: UnitPrice, b: UnitPrice) -> bool:
    return a.free == b.free and (a.free or (a.excl, a.incl) == (b.excl, b.incl))


def _after_kwh(
    compiled: CompiledTariff,
    time_zone: str,
    at: datetime,
    starts: dict[TariffDimensionType, list[UnitPrice]],
    *,
    max_power_kw: Decimal | None,
    max_current_a: Decimal | None,
) -> dict[TariffDimensionType, list[UnitPrice]]:
    """Per dimension, the prices that apply once each kWh threshold is reached (see the module
    docstring), where they differ from the price at the previous threshold (or at the start)."""
    out: dict[TariffDimensionType, list[UnitPrice]] = {dim: [] for dim in starts}
    last = {dim: segs[0] for dim, segs in starts.items() if segs}
    for kwh in compiled.kwh_thresholds:
        if kwh <= 0:
            continue
        usage = SessionUsage(
            periods=(
                ChargingPeriod(
                    start=at,
                    energy_kwh=kwh,
                    time_h=_KWH_STEP_H,
                    max_power=max_power_kw,
                    max_current=max_current_a,
                ),
                ChargingPeriod(
                    start=at + _KWH_STEP,
                    energy_kwh=_PROBE_KWH,
                    time_h=_KWH_STEP_H,
                    max_power=max_power_kw,
                    max_current=max_current_a,
                ),
                ChargingPeriod(start=at + 2 * _KWH_STEP, parking_h=_KWH_STEP_H),
            ),
            end=at + 3 * _KWH_STEP,
        )
        lines = price_session(compiled, usage, time_zone).lines
        for dim, found in out.items():
            # the first sub-period just past the threshold (period 1; parking: period 2)
            wanted = 2 if dim is TariffDimensionType.PARKING_TIME else 1
            line = next(
                (ln for ln in lines if ln.dimension is dim and ln.period_index == wanted), None
            )
            if line is None:
                continue
            unit = _unit(line, at, kwh.normalize())
            previous = last.get(dim)
            if previous is None or not _same_price(previous, unit):
                found.append(unit)
                last[dim] = unit
    return out


def price_now(
    tariff: Tariff,
    time_zone: str,
    at: datetime,
    *,
    max_power_kw: Decimal | None = None,
    max_current_a: Decimal | None = None,
) -> PriceNow:
    """The prices of ``tariff`` for a session starting at ``at`` (see the module docstring)."""
    horizon = timedelta(hours=PROBE_HOURS)
    hours = Decimal(PROBE_HOURS)
    charging = SessionUsage(
        periods=(
            ChargingPeriod(
                start=at,
                energy_kwh=_PROBE_KWH,
                time_h=hours,
                max_power=max_power_kw,
                max_current=max_current_a,
            ),
        ),
        end=at + horizon,
    )
    parking = SessionUsage(periods=(ChargingPeriod(start=at, parking_h=hours),), end=at + horizon)
    compiled = compile_tariff(tariff)
    charged = price_session(compiled, charging, time_zone)
    parked = price_session(compiled, parking, time_zone)
    energy = _segments(charged.lines, TariffDimensionType.ENERGY, at)
    time = _segments(charged.lines, TariffDimensionType.TIME, at)
    park = _segments(parked.lines, TariffDimensionType.PARKING_TIME, at)
    by_kwh = _after_kwh(
        compiled,
        time_zone,
        at,
        {
            TariffDimensionType.ENERGY: energy,
            TariffDimensionType.TIME: time,
            TariffDimensionType.PARKING_TIME: park,
        },
        max_power_kw=max_power_kw,
        max_current_a=max_current_a,
    )
    energy += by_kwh[TariffDimensionType.ENERGY]
    time += by_kwh[TariffDimensionType.TIME]
    park += by_kwh[TariffDimensionType.PARKING_TIME]
    flats = _segments(charged.lines, TariffDimensionType.FLAT, at)
    flat = flats[0] if flats else None
    used = [u for u in (*energy, *time, *park, *flats) if u.element_index is not None]
    # 2.2.1: a component without vat has none (0 %); 2.3.0: its tax is not stated.
    no_vat = Decimal(0) if tariff.tax_included is None else None
    vats = tuple(
        sorted({v for u in used if (v := u.vat if u.vat is not None else no_vat) is not None})
    )
    incl_known = all(u.incl is not None for u in used)
    shows_incl = incl_known and tariff.tax_included is not TaxIncluded.N_A
    local = at.astimezone(ZoneInfo(time_zone))
    text = _text(
        tariff,
        energy=energy,
        time=time,
        park=park,
        flat=flat,
        vats=vats,
        shows_incl=shows_incl,
        incl_known=incl_known,
    )
    return PriceNow(
        at=at,
        local_time=local,
        energy=tuple(energy),
        charging_time=tuple(time),
        parking_time=tuple(park),
        flat=flat,
        min_price=tariff.min_price,
        max_price=tariff.max_price,
        vat_rates=vats,
        shows_taxes_included=shows_incl,
        text=text,
    )


# --------------------------------------------------------------------------- text


def money(amount: Decimal, currency: str) -> str:
    """``€0.35``: at least the currency's decimals, at most 4 (unit prices may have more)."""
    value = amount.quantize(_DISPLAY_QUANTUM, rounding=ROUND_HALF_UP).normalize()
    exponent = value.as_tuple().exponent
    shown = max(
        minor_unit(currency), -exponent if isinstance(exponent, int) and exponent < 0 else 0
    )
    symbol = _SYMBOLS.get(currency, f"{currency} ")
    return f"{symbol}{value:.{shown}f}"


def _percent(vat: Decimal) -> str:
    text = format(vat.normalize(), "f")
    return text


def _time_price(per_hour: Decimal, currency: str) -> str:
    per_minute = per_hour / _SIXTY
    if per_minute == per_minute.quantize(_DISPLAY_QUANTUM):
        return f"{money(per_minute, currency)}/min"
    return f"{money(per_hour, currency)}/h"


def _phrase(
    segments: Sequence[UnitPrice], unit: str, currency: str, shows_incl: bool, prefix: str = ""
) -> str | None:
    parts: list[str] = []
    for i, seg in enumerate(segments):
        value = seg.incl if shows_incl else seg.excl
        after = (
            f"after {seg.after_minutes} min"
            if seg.after_kwh is None
            else f"after {format(seg.after_kwh, 'f')} kWh"
        )
        if seg.free or value is None:
            if i == 0 or not parts:
                continue
            parts.append(f"free {after}")
            continue
        shown = (
            _time_price(value, currency) if unit == "time" else f"{money(value, currency)}/{unit}"
        )
        if i > 0:
            shown += f" {after}"
        parts.append(shown)
    if not parts:
        return None
    return prefix + ", ".join(parts)


def _text(
    tariff: Tariff,
    *,
    energy: Sequence[UnitPrice],
    time: Sequence[UnitPrice],
    park: Sequence[UnitPrice],
    flat: UnitPrice | None,
    vats: Sequence[Decimal],
    shows_incl: bool,
    incl_known: bool,
) -> str:
    currency = tariff.currency
    charging = [
        p
        for p in (
            _phrase(energy, "kWh", currency, shows_incl),
            _phrase(time, "time", currency, shows_incl),
        )
        if p
    ]
    parts = [" + ".join(charging)] if charging else []
    parking = _phrase(park, "time", currency, shows_incl, "parking ")
    if parking:
        parts.append(parking)
    if flat is not None and not flat.free:
        value = flat.incl if shows_incl else flat.excl
        if value is not None:
            parts.append(f"{money(value, currency)} start fee")
    for label, limit in (("min.", tariff.min_price), ("max.", tariff.max_price)):
        if limit is not None:
            bound = limit.after_taxes if shows_incl else limit.before_taxes
            if bound is not None:
                parts.append(f"{label} {money(bound, currency)} per session")
    if not parts:
        return "Free"
    if tariff.tax_included is TaxIncluded.N_A:
        taxes = "no taxes"
    elif not shows_incl:
        taxes = "excl. taxes" if not incl_known else "excl. VAT"
    elif not vats:
        taxes = "incl. taxes" if tariff.tax_included is TaxIncluded.YES else "no VAT"
    elif len(vats) == 1:
        taxes = f"incl. {_percent(vats[0])}% VAT"
    else:
        taxes = f"incl. VAT ({_percent(vats[0])}-{_percent(vats[-1])}%)"
    return ", ".join(parts) + f", {taxes}"
