"""The output of the pricing engine: a priced breakdown a CDR carries and a human can read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from borne.tariffs.ocpi_tariff import OcpiVersion, TariffDimensionType, TaxIncluded

ZERO = Decimal(0)


class CostCategory(StrEnum):
    """The CDR's cost fields: ``total_fixed_cost``, ``total_energy_cost`` …"""

    FIXED = "fixed"
    ENERGY = "energy"
    TIME = "time"
    PARKING = "parking"
    RESERVATION = "reservation"


@dataclass(frozen=True, slots=True)
class Amount:
    """A cost before (``excl``) and after (``incl``) taxes. ``None`` means the tariff does not
    allow that side to be known (2.3.0 prices with taxes not stated); it propagates in sums."""

    excl: Decimal | None
    incl: Decimal | None

    def __add__(self, other: Amount) -> Amount:
        excl = None if self.excl is None or other.excl is None else self.excl + other.excl
        incl = None if self.incl is None or other.incl is None else self.incl + other.incl
        return Amount(excl, incl)


NO_COST = Amount(ZERO, ZERO)


@dataclass(frozen=True, slots=True)
class PricedLine:
    """One dimension of one (sub-)period, priced by one price component (or free)."""

    period_index: int
    #: Index of the sub-period when the engine split the period at a restriction boundary.
    piece_index: int
    start: datetime
    end: datetime
    dimension: TariffDimensionType
    category: CostCategory
    #: Measured quantity in the OCPI unit: kWh (ENERGY), hours (TIME/PARKING_TIME), 1 (FLAT).
    quantity: Decimal
    #: Quantity billed: differs from ``quantity`` only on the line that absorbed step_size.
    billed_quantity: Decimal
    #: Index in ``tariff.elements`` of the element that priced this line; None: no element
    #: matched, so the quantity is free.
    element_index: int | None
    price: Decimal | None
    vat: Decimal | None
    step_size: int | None
    cost: Amount
    #: The matched element's restrictions, in words.
    rule: str = ""


@dataclass(frozen=True, slots=True)
class StepRounding:
    """The once-per-session step_size rounding of one dimension group."""

    group: Literal["ENERGY", "TIME+PARKING_TIME", "RESERVATION"]
    dimension: TariffDimensionType
    element_index: int
    step_size: int
    #: Session total of the rounded dimension, in its OCPI unit, before and after rounding.
    measured: Decimal
    billed: Decimal


@dataclass(frozen=True, slots=True)
class LimitApplied:
    limit: Literal["min_price", "max_price"]
    side: Literal["before_taxes", "after_taxes"]
    before: Decimal
    after: Decimal


@dataclass(frozen=True, slots=True)
class PricedSession:
    """The priced breakdown of a session under one tariff.

    ``*_exact`` values are unrounded; the others are rounded by the rule of
    :mod:`borne.tariffs.rounding` (``rounding_rule`` says it in words).
    """

    tariff_id: str
    currency: str
    tax_included: TaxIncluded | None
    time_zone: str
    lines: tuple[PricedLine, ...]
    steps: tuple[StepRounding, ...]
    category_totals_exact: Mapping[CostCategory, Amount]
    category_totals: Mapping[CostCategory, Amount]
    total_before_limits_exact: Amount
    total_before_limits: Amount
    limits: tuple[LimitApplied, ...]
    total_exact: Amount
    total: Amount
    rounding_rule: str

    def explain(self) -> str:
        """A human-readable explanation: per period what, how much, which element."""
        from borne.tariffs.explain import explain

        return explain(self)

    def to_ocpi_costs(self, version: OcpiVersion) -> dict[str, Any]:
        """The CDR cost fields (``total_cost``, ``total_fixed_cost`` …) in the version's Price
        shape: 2.2.1 ``{excl_vat, incl_vat}``, 2.3.0 ``{before_taxes, taxes[]}``. Categories
        without any line are omitted; values are Decimal (write with ``dumps_exact``)."""
        present = {line.category for line in self.lines if line.element_index is not None}
        out: dict[str, Any] = {"total_cost": _price(self.total, version, self.tax_included)}
        for category in CostCategory:
            if category in present:
                key = f"total_{category.value}_cost"
                out[key] = _price(self.category_totals[category], version, self.tax_included)
        return out


def _price(amount: Amount, version: OcpiVersion, model: TaxIncluded | None) -> dict[str, Any]:
    if version == "2.2.1":
        if amount.excl is None:
            raise ValueError("the cost before taxes is unknown: no 2.2.1 Price can be written")
        out: dict[str, Any] = {"excl_vat": amount.excl}
        if amount.incl is not None:
            out["incl_vat"] = amount.incl
        return out
    if amount.excl is None:
        raise ValueError("the cost before taxes is unknown: before_taxes cannot be written")
    taxes: list[dict[str, Any]] = []
    if amount.incl is not None and model is not TaxIncluded.N_A and amount.incl != amount.excl:
        taxes.append({"name": "VAT", "amount": amount.incl - amount.excl})
    return {"before_taxes": amount.excl, "taxes": taxes}
