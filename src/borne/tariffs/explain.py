"""The human-readable explanation every CDR carries: per period what, how much, which element."""

from __future__ import annotations

from decimal import Decimal
from itertools import groupby

from borne.tariffs.breakdown import Amount, CostCategory, PricedLine, PricedSession
from borne.tariffs.ocpi_tariff import TariffDimensionType, TaxIncluded
from borne.tariffs.rounding import round_money

_UNIT = {
    TariffDimensionType.ENERGY: "kWh",
    TariffDimensionType.TIME: "h",
    TariffDimensionType.PARKING_TIME: "h",
    TariffDimensionType.FLAT: "",
}
_WHAT = {
    CostCategory.FIXED: "start fee",
    CostCategory.ENERGY: "energy",
    CostCategory.TIME: "charging time",
    CostCategory.PARKING: "parking time",
    CostCategory.RESERVATION: "reservation",
}
_TAX_MODEL = {
    None: "prices excl. VAT (OCPI 2.2.1); no vat on a component = no VAT",
    TaxIncluded.NO: "prices excl. taxes; taxes added per component vat",
    TaxIncluded.YES: "prices incl. taxes",
    TaxIncluded.N_A: "no taxes apply",
}


def _num(value: Decimal, places: int = 4) -> str:
    """A quantity for people: at most ``places`` decimals, no trailing zeros."""
    text = f"{value.quantize(Decimal(1).scaleb(-places)):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _money(amount: Amount, currency: str, exact: bool = True) -> str:
    def one(v: Decimal | None) -> str:
        if v is None:
            return "unknown"
        return _num(v, 6) if exact else f"{round_money(v, currency):f}"

    return f"{one(amount.excl)} excl. / {one(amount.incl)} incl. {currency}"


def _line(line: PricedLine, currency: str) -> str:
    unit = _UNIT[line.dimension]
    what = _WHAT[line.category]
    if line.dimension is TariffDimensionType.FLAT:
        qty = "once"
    else:
        qty = f"{_num(line.quantity)} {unit}"
        if line.billed_quantity != line.quantity:
            qty += f" (billed {_num(line.billed_quantity)} {unit}: step_size {line.step_size})"
    if line.element_index is None:
        return f"    {what:<13} {qty}: free, no tariff element prices {line.dimension.value} here"
    vat = "" if line.vat is None else f", VAT {_num(line.vat)}%"
    per = f"/{unit}" if unit else ""
    return (
        f"    {what:<13} {qty} x {_num(line.price or Decimal(0), 6)} {currency}{per}{vat}"
        f" = {_money(line.cost, currency)}  [element #{line.element_index}: {line.rule}]"
    )


def explain(priced: PricedSession) -> str:
    cur = priced.currency
    out = [
        f"Tariff {priced.tariff_id} ({cur}; {_TAX_MODEL[priced.tax_included]}); "
        f"restrictions read in {priced.time_zone}."
    ]
    for (period, piece), group in groupby(
        priced.lines, key=lambda ln: (ln.period_index, ln.piece_index)
    ):
        items = list(group)
        first = items[0]
        split = f".{piece + 1}" if piece or _is_split(priced, period) else ""
        out.append(
            f"  Period {period + 1}{split}: {first.start.isoformat()} -> {first.end.isoformat()}"
        )
        out.extend(_line(line, cur) for line in items)
    for step in priced.steps:
        unit = _UNIT[step.dimension]
        out.append(
            f"  step_size {step.step_size} (element #{step.element_index}) applied once to the "
            f"session's {step.dimension.value} total: {_num(step.measured)} {unit} -> "
            f"{_num(step.billed)} {unit}"
        )
    for category in CostCategory:
        if any(ln.category is category and ln.element_index is not None for ln in priced.lines):
            out.append(
                f"  Total {_WHAT[category]}: {_money(priced.category_totals[category], cur, False)}"
            )
    out.append(
        f"  Total before limits: {_money(priced.total_before_limits, cur, False)}"
        f" (exact {_money(priced.total_before_limits_exact, cur)})"
    )
    for limit in priced.limits:
        out.append(
            f"  {limit.limit} applied {limit.side}: {_num(limit.before, 6)} -> "
            f"{_num(limit.after, 6)} {cur}"
        )
    out.append(f"  Total: {_money(priced.total, cur, False)}")
    out.append(f"  Rounding: {priced.rounding_rule}.")
    return "\n".join(out)


def _is_split(priced: PricedSession, period: int) -> bool:
    return any(ln.period_index == period and ln.piece_index > 0 for ln in priced.lines)
