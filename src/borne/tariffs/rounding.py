"""Borne's rounding rule for money (the OCPI specification sets none).

1. Every line is computed **exactly** in Decimal (50 significant digits): quantity after
   step_size x price, and VAT as ``x (1 + vat/100)`` (or ``/`` for tax-inclusive prices), and
   kept at 20 decimal places (1e-20 of the currency unit), so that sums are exact and do not
   depend on their order.
2. Exact lines are summed into the exact total; ``min_price`` / ``max_price`` bound that exact
   total, before and after taxes independently.
3. Only then is the total rounded **once** to the currency's minor unit (ISO 4217: 2 decimals for
   EUR, 0 for JPY, 3 for KWD …) with ROUND_HALF_UP (halves away from zero).
4. The CDR's per-dimension totals (fixed, energy, time, parking, reservation) are rounded so that
   they add up to the rounded total before limits (largest-remainder allocation), so a reader of
   the CDR never finds parts that do not sum.

This is the rule that reproduces the specification's worked examples: its tables keep exact
lines (``2.875``, ``4.125``) and state totals that are the rounded exact sum (``10.30``), which
rounding each line first would miss by a cent.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal

#: Precision of every intermediate computation.
CONTEXT = Context(prec=50)

#: ISO 4217 currencies whose minor unit is not 2 decimals.
_MINOR_UNITS: dict[str, int] = {
    "BHD": 3, "BIF": 0, "CLF": 4, "CLP": 0, "DJF": 0, "GNF": 0, "IQD": 3, "ISK": 0, "JOD": 3,
    "JPY": 0, "KMF": 0, "KRW": 0, "KWD": 3, "LYD": 3, "OMR": 3, "PYG": 0, "RWF": 0, "TND": 3,
    "UGX": 0, "UYI": 0, "UYW": 4, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
}  # fmt: skip


def minor_unit(currency: str) -> int:
    """Number of decimals of ``currency`` (2 unless ISO 4217 says otherwise)."""
    return _MINOR_UNITS.get(currency.upper(), 2)


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_unit(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round an exact amount to the currency's minor unit, half away from zero."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP, context=CONTEXT)


def allocate(parts: Sequence[Decimal], currency: str) -> tuple[Decimal, ...]:
    """Round ``parts`` so that they sum to ``round_money(sum(parts))`` (largest remainder).

    Each part moves by less than one minor unit; ties go to the earlier part.
    """
    if not parts:
        return ()
    unit = quantum(currency)
    total = round_money(sum(parts, Decimal(0)), currency)
    floors = [p.quantize(unit, rounding=ROUND_FLOOR, context=CONTEXT) for p in parts]
    missing = int((total - sum(floors, Decimal(0))) / unit)
    order = sorted(range(len(parts)), key=lambda i: (-(parts[i] - floors[i]), i))
    out = list(floors)
    for i in order[:missing]:
        out[i] += unit
    return tuple(out)
