"""The pricing engine: a pure function (tariff, charging periods, time zone) → priced breakdown.

How a session is priced (see docs/tariffs.md for worked examples):

1. **Split.** Each input period is cut where any restriction of the tariff can change inside
   it: local times of day named by ``start_time``/``end_time`` (and local midnight when dates or
   weekdays are restricted, and DST transitions), ``min/max_duration`` instants, and the moment
   the session's energy crosses a ``min/max_kwh`` threshold. Inside a period, every volume
   (energy, charging, parking and reservation time) is apportioned **linearly in time**; a kWh
   threshold is cut at exactly that energy. Restrictions are then constant on each sub-period
   and are evaluated at its middle.
2. **Look up.** For each dimension of each sub-period, the first element in list order that has
   a component of that dimension and whose restrictions hold supplies the price; none: free.
   Reservation time is priced by the TIME (and FLAT) components of reservation elements.
3. **FLAT** is charged once for the charging session (the component found at the first moment
   any FLAT component applies) and once for a reservation (from reservation elements).
4. **step_size**, once per session per group: ENERGY; TIME and PARKING_TIME together;
   reservation time on its own. The group's last priced line (in time; within one period
   charging before parking) decides the dimension and the step_size; that dimension's priced
   session total is rounded up to a multiple of the step_size and the extra is billed on that
   last line, at its price. (So 21 min charging + 7 min parking with 5-min steps bills 21 + 10.)
5. **Taxes** per line from the component's ``vat`` and the tariff's tax model (see
   :mod:`borne.tariffs.ocpi_tariff`), then ``min_price`` / ``max_price`` on the exact total, each
   side independently, then rounding (:mod:`borne.tariffs.rounding`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from decimal import ROUND_CEILING, Decimal, localcontext
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from borne.core.errors import InvalidInput
from borne.tariffs.breakdown import (
    NO_COST,
    Amount,
    CostCategory,
    LimitApplied,
    PricedLine,
    PricedSession,
    StepRounding,
)
from borne.tariffs.ocpi_tariff import (
    PriceComponent,
    ReservationRestrictionType,
    Tariff,
    TariffDimensionType,
    TaxIncluded,
)
from borne.tariffs.periods import SessionUsage
from borne.tariffs.restrictions import Moment, Rules
from borne.tariffs.rounding import CONTEXT, allocate, minor_unit, round_money
from borne.tariffs.splitting import US as _US
from borne.tariffs.splitting import clock_cuts, pieces
from borne.tariffs.validation import validate_tariff

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
SECONDS_PER_HOUR = Decimal(3600)
WH_PER_KWH = Decimal(1000)
_DUST = Decimal("1e-9")
_LINE_QUANTUM = Decimal("1e-20")

ENERGY = TariffDimensionType.ENERGY
FLAT = TariffDimensionType.FLAT
TIME = TariffDimensionType.TIME
PARKING = TariffDimensionType.PARKING_TIME
_CHARGING_CATEGORY = {
    ENERGY: CostCategory.ENERGY,
    FLAT: CostCategory.FIXED,
    TIME: CostCategory.TIME,
    PARKING: CostCategory.PARKING,
}

Candidate = tuple[int, PriceComponent, Rules]


@dataclass(frozen=True, slots=True)
class CompiledTariff:
    """A validated tariff with its restrictions compiled; build with :func:`compile_tariff` and
    reuse it for many sessions."""

    tariff: Tariff
    charging: dict[TariffDimensionType, tuple[Candidate, ...]]
    reservation: dict[TariffDimensionType, tuple[Candidate, ...]]
    expired: dict[TariffDimensionType, tuple[Candidate, ...]]
    clock_times: frozenset[time]
    kwh_thresholds: tuple[Decimal, ...]
    duration_thresholds: tuple[int, ...]


def compile_tariff(tariff: Tariff) -> CompiledTariff:
    """Validate (:func:`validate_tariff`) and compile ``tariff`` for pricing."""
    validate_tariff(tariff)
    compiled = [(i, Rules.compile(e.restrictions), e) for i, e in enumerate(tariff.elements)]

    def lookup(
        *kinds: ReservationRestrictionType | None,
    ) -> dict[TariffDimensionType, tuple[Candidate, ...]]:
        table: dict[TariffDimensionType, tuple[Candidate, ...]] = {}
        for dim in TariffDimensionType:
            table[dim] = tuple(
                (i, pc, rules)
                for kind in kinds
                for i, rules, element in compiled
                if rules.reservation is kind
                for pc in element.price_components
                if pc.type is dim
            )
        return table

    clock: set[time] = set()
    kwh: set[Decimal] = set()
    durations: set[int] = set()
    for _, rules, _ in compiled:
        clock |= rules.clock_times()
        kwh |= rules.kwh_thresholds()
        durations |= rules.duration_thresholds()
    return CompiledTariff(
        tariff=tariff,
        charging=lookup(None),
        reservation=lookup(ReservationRestrictionType.RESERVATION),
        expired=lookup(
            ReservationRestrictionType.RESERVATION_EXPIRES,
            ReservationRestrictionType.RESERVATION,
        ),
        clock_times=frozenset(clock),
        kwh_thresholds=tuple(sorted(kwh)),
        duration_thresholds=tuple(sorted(durations)),
    )


@dataclass(slots=True)
class _Line:
    period_index: int
    piece_index: int
    start: datetime
    end: datetime
    dimension: TariffDimensionType
    category: CostCategory
    #: kWh for ENERGY, seconds for TIME/PARKING_TIME/reservation, 1 for FLAT
    quantity: Decimal
    candidate: Candidate | None
    extra: Decimal = field(default=ZERO)


def price_session(
    tariff: Tariff | CompiledTariff, usage: SessionUsage, time_zone: str | tzinfo
) -> PricedSession:
    """Price ``usage`` under ``tariff`` with restrictions read in ``time_zone`` (the Location's
    ``time_zone``, an IANA name). Pure: no I/O, no clock. Raises InvalidInput for a tariff that
    cannot be priced unambiguously, an unknown time zone, or a session outside the tariff's
    ``start_date_time`` / ``end_date_time``."""
    compiled = tariff if isinstance(tariff, CompiledTariff) else compile_tariff(tariff)
    tz = _zone(time_zone)
    t = compiled.tariff
    if usage.periods:
        first = usage.periods[0].start
        if (t.start_date_time and first < _aware(t.start_date_time)) or (
            t.end_date_time and first >= _aware(t.end_date_time)
        ):
            raise InvalidInput(
                f"tariff {t.id} is not valid at the session start {first.isoformat()}",
                details={"tariff_id": t.id, "field": "start_date_time/end_date_time"},
            )
    with localcontext(CONTEXT):
        lines = _lines(compiled, usage, tz)
        steps = _apply_steps(lines)
        return _finish(compiled.tariff, tz, lines, steps)


def _zone(time_zone: str | tzinfo) -> tzinfo:
    if not isinstance(time_zone, str):
        return time_zone
    try:
        return ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"unknown time zone {time_zone!r}", details={"field": "time_zone"}
        ) from None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- lookup


def _find(candidates: tuple[Candidate, ...], moment: Moment) -> Candidate | None:
    for candidate in candidates:
        if candidate[2].matches(moment):
            return candidate
    return None


def _lines(compiled: CompiledTariff, usage: SessionUsage, tz: tzinfo) -> list[_Line]:
    periods = usage.periods
    if not periods:
        return []
    clock = clock_cuts(periods[0].start, usage.end, tz, compiled.clock_times)
    instants = set(clock)
    charging_start = usage.charging_start
    reservation_start = usage.reservation_start
    for seconds in compiled.duration_thresholds:
        for origin in (charging_start, reservation_start):
            if origin is not None:
                instants.add(origin + timedelta(seconds=seconds))
    cut_points = sorted(instants)
    lines: list[_Line] = []
    cum = ZERO
    flat_done = {False: False, True: False}
    for index, period in enumerate(periods):
        end = usage.period_end(index)
        reserving = period.is_reservation
        if reserving:
            table = compiled.expired if usage.reservation_expired else compiled.reservation
            origin = reservation_start
        else:
            table = compiled.charging
            origin = charging_start
        assert origin is not None
        previous: list[_Line] = []  # the volume lines of the previous sub-period
        group: list[_Line] = []  # ... and its FLAT line, if any
        piece_index = -1
        for piece in pieces(period, end, cum, cut_points, compiled.kwh_thresholds):
            width = piece.f1 - piece.f0
            moment = Moment(
                local=piece.middle.astimezone(tz),
                kwh=cum + (piece.e0 + piece.e1) / 2,
                elapsed_s=Decimal((piece.middle - origin) // _US) / 1_000_000,
                period=period,
            )
            flat: Candidate | None = None
            if not flat_done[reserving] and table[FLAT]:
                flat = _find(table[FLAT], moment)
                flat_done[reserving] = flat is not None
            wanted: list[tuple[TariffDimensionType, CostCategory, Decimal]] = []
            if reserving:
                wanted.append(
                    (
                        TIME,
                        CostCategory.RESERVATION,
                        period.reservation_h * width * SECONDS_PER_HOUR,
                    )
                )
            else:
                if period.energy_kwh:
                    wanted.append((ENERGY, CostCategory.ENERGY, piece.e1 - piece.e0))
                if period.time_h:
                    wanted.append(
                        (TIME, CostCategory.TIME, period.time_h * width * SECONDS_PER_HOUR)
                    )
                if period.parking_h:
                    wanted.append(
                        (PARKING, CostCategory.PARKING, period.parking_h * width * SECONDS_PER_HOUR)
                    )
            found = [_find(table[dim], moment) for dim, _, _ in wanted]
            if flat is None and previous and [ln.candidate for ln in previous] == found:
                # same prices as the previous sub-period: extend it rather than split
                for ln, (_, _, quantity) in zip(previous, wanted, strict=True):
                    ln.quantity += quantity
                for ln in group:
                    ln.end = piece.end
                continue
            piece_index += 1
            group = []
            if flat is not None:
                category = CostCategory.RESERVATION if reserving else CostCategory.FIXED
                group.append(
                    _Line(index, piece_index, piece.start, piece.end, FLAT, category, ONE, flat)
                )
            previous = [
                _Line(index, piece_index, piece.start, piece.end, dim, category, quantity, cand)
                for (dim, category, quantity), cand in zip(wanted, found, strict=True)
            ]
            group.extend(previous)
            lines.extend(group)
        cum += period.energy_kwh
    return lines


# --------------------------------------------------------------------------- step_size


def _apply_steps(lines: list[_Line]) -> list[StepRounding]:
    groups: tuple[tuple[str, frozenset[CostCategory]], ...] = (
        ("ENERGY", frozenset({CostCategory.ENERGY})),
        ("TIME+PARKING_TIME", frozenset({CostCategory.TIME, CostCategory.PARKING})),
        ("RESERVATION", frozenset({CostCategory.RESERVATION})),
    )
    out: list[StepRounding] = []
    for name, categories in groups:
        last = next(
            (
                ln
                for ln in reversed(lines)
                if ln.category in categories
                and ln.dimension is not FLAT
                and ln.candidate is not None
                and ln.quantity > 0
            ),
            None,
        )
        if last is None or last.candidate is None:
            continue
        step = Decimal(last.candidate[1].step_size)
        unit = WH_PER_KWH if last.dimension is ENERGY else ONE  # energy steps are Wh
        total = sum(
            (
                ln.quantity
                for ln in lines
                if ln.category is last.category
                and ln.dimension is last.dimension
                and ln.candidate is not None
            ),
            ZERO,
        )
        # Sub-period shares are exact to ~1e-45; snap to 1e-9 Wh / s first so that such dust can
        # never cost a whole extra step.
        units = (total * unit).quantize(_DUST)
        billed = (units / step).to_integral_value(rounding=ROUND_CEILING) * step / unit
        last.extra = billed - total
        scale = ONE if last.dimension is ENERGY else SECONDS_PER_HOUR
        out.append(
            StepRounding(
                group=name,  # type: ignore[arg-type]
                dimension=last.dimension,
                element_index=last.candidate[0],
                step_size=last.candidate[1].step_size,
                measured=total / scale,
                billed=billed / scale,
            )
        )
    return out


# --------------------------------------------------------------------------- money


def _cost(base: Decimal, vat: Decimal | None, model: TaxIncluded | None) -> Amount:
    """A line's cost, carried at 1e-20 of the currency unit (exact for every real amount, and
    sums of such values are exact and independent of order)."""
    if base == 0:
        return NO_COST
    factor = None if vat is None else ONE + vat / HUNDRED
    excl: Decimal | None
    incl: Decimal | None
    if model is None:  # 2.2.1: prices excl. VAT, no vat = no VAT
        excl, incl = base, (base if factor is None else base * factor)
    elif model is TaxIncluded.NO:
        excl, incl = base, (None if factor is None else base * factor)
    elif model is TaxIncluded.YES:
        excl, incl = (None if factor is None else base / factor), base
    else:
        excl, incl = base, base
    return Amount(
        None if excl is None else excl.quantize(_LINE_QUANTUM),
        None if incl is None else incl.quantize(_LINE_QUANTUM),
    )


def _finish(
    tariff: Tariff, tz: tzinfo, raw: list[_Line], steps: list[StepRounding]
) -> PricedSession:
    currency = tariff.currency
    lines: list[PricedLine] = []
    for ln in raw:
        billed = ln.quantity + ln.extra
        is_time = ln.dimension in (TIME, PARKING)
        shown, shown_billed = (
            (ln.quantity / SECONDS_PER_HOUR, billed / SECONDS_PER_HOUR)
            if is_time
            else (ln.quantity, billed)
        )
        if ln.candidate is None:
            lines.append(
                PricedLine(
                    ln.period_index,
                    ln.piece_index,
                    ln.start,
                    ln.end,
                    ln.dimension,
                    ln.category,
                    shown,
                    shown,
                    None,
                    None,
                    None,
                    None,
                    NO_COST,
                )
            )
            continue
        element_index, pc, rules = ln.candidate
        base = pc.price * billed / SECONDS_PER_HOUR if is_time else pc.price * billed
        lines.append(
            PricedLine(
                ln.period_index,
                ln.piece_index,
                ln.start,
                ln.end,
                ln.dimension,
                ln.category,
                shown,
                shown_billed,
                element_index,
                pc.price,
                pc.vat,
                pc.step_size,
                _cost(base, pc.vat, tariff.tax_included),
                rules.describe(),
            )
        )
    exact: dict[CostCategory, Amount] = {c: NO_COST for c in CostCategory}
    for line in lines:
        exact[line.category] = exact[line.category] + line.cost
    before = NO_COST
    for category in CostCategory:
        before = before + exact[category]
    limited, applied = _limits(tariff, before)
    excl_parts = _alloc([exact[c].excl for c in CostCategory], currency)
    incl_parts = _alloc([exact[c].incl for c in CostCategory], currency)
    rounded = {
        c: Amount(excl_parts[i] if excl_parts else None, incl_parts[i] if incl_parts else None)
        for i, c in enumerate(CostCategory)
    }
    return PricedSession(
        tariff_id=tariff.id,
        currency=currency,
        tax_included=tariff.tax_included,
        time_zone=str(tz),
        lines=tuple(lines),
        steps=tuple(steps),
        category_totals_exact=exact,
        category_totals=rounded,
        total_before_limits_exact=before,
        total_before_limits=_round(before, currency),
        limits=tuple(applied),
        total_exact=limited,
        total=_round(limited, currency),
        rounding_rule=(
            f"lines exact; totals rounded once to {minor_unit(currency)} decimals "
            f"(ROUND_HALF_UP) after min/max limits; category totals allocated to add up"
        ),
    )


def _alloc(parts: list[Decimal | None], currency: str) -> tuple[Decimal, ...] | None:
    known = [p for p in parts if p is not None]
    if len(known) != len(parts):
        return None
    return allocate(known, currency)


def _round(amount: Amount, currency: str) -> Amount:
    return Amount(
        None if amount.excl is None else round_money(amount.excl, currency),
        None if amount.incl is None else round_money(amount.incl, currency),
    )


def _limits(tariff: Tariff, total: Amount) -> tuple[Amount, list[LimitApplied]]:
    excl, incl = total.excl, total.incl
    applied: list[LimitApplied] = []
    for name, limit in (("min_price", tariff.min_price), ("max_price", tariff.max_price)):
        if limit is None:
            continue
        sides = (
            ("before_taxes", excl, limit.before_taxes),
            ("after_taxes", incl, limit.after_taxes),
        )
        results: list[Decimal | None] = []
        for side, value, bound in sides:
            new = value
            if (
                value is not None
                and bound is not None
                and (
                    (name == "min_price" and value < bound)
                    or (name == "max_price" and value > bound)
                )
            ):
                new = bound
                applied.append(LimitApplied(name, side, value, bound))  # type: ignore[arg-type]
            results.append(new)
        excl, incl = results
    return Amount(excl, incl), applied
