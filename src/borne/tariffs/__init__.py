"""Tariffs: the OCPI tariff model and an exact, pure pricing engine.

Public API (everything else is internal):

* Model: :class:`Tariff` and its parts; :func:`parse_tariff` / :func:`tariff_from_json` read the
  2.2.1 and 2.3.0 JSON shapes into one canonical form; :func:`tariff_to_ocpi` writes either shape;
  :func:`dumps_exact` writes JSON numbers from Decimal without floats.
* :func:`validate_tariff` refuses a tariff that cannot be priced unambiguously
  (:class:`borne.core.errors.InvalidInput`, ``details["errors"]`` names each field).
* Input: :class:`ChargingPeriod`, :class:`SessionUsage` (also ``from_ocpi`` for CDR periods).
* Engine: :func:`price_session` (tariff, usage, time zone) → :class:`PricedSession`;
  :func:`compile_tariff` once to price many sessions with the same tariff.
* Output: :class:`PricedSession` with lines, step roundings, totals, ``explain()`` and
  ``to_ocpi_costs(version)``.

Beside the pure part (``ocpi_tariff`` and the engine modules): ``models`` (stored tariffs and
assignments), ``service`` (CRUD and ``resolve_tariff``), ``api``, ``schemas``, ``events`` and
``transparency`` (prices shown to drivers). Import those from their modules; this package's
namespace stays pure.

See docs/tariffs.md for the semantics, the rounding rule and worked examples.
"""

from borne.tariffs.breakdown import (
    Amount,
    CostCategory,
    LimitApplied,
    PricedLine,
    PricedSession,
    StepRounding,
)
from borne.tariffs.ocpi_tariff import (
    DayOfWeek,
    DisplayText,
    OcpiVersion,
    PriceComponent,
    PriceLimit,
    ReservationRestrictionType,
    Tariff,
    TariffDimensionType,
    TariffElement,
    TariffRestrictions,
    TariffType,
    TaxIncluded,
    detect_version,
    dumps_exact,
    parse_tariff,
    tariff_from_json,
    tariff_to_ocpi,
)
from borne.tariffs.periods import ChargingPeriod, SessionUsage
from borne.tariffs.pricing import CompiledTariff, compile_tariff, price_session
from borne.tariffs.rounding import minor_unit, round_money
from borne.tariffs.validation import validate_tariff

__all__ = [
    "Amount",
    "ChargingPeriod",
    "CompiledTariff",
    "CostCategory",
    "DayOfWeek",
    "DisplayText",
    "LimitApplied",
    "OcpiVersion",
    "PriceComponent",
    "PriceLimit",
    "PricedLine",
    "PricedSession",
    "ReservationRestrictionType",
    "SessionUsage",
    "StepRounding",
    "Tariff",
    "TariffDimensionType",
    "TariffElement",
    "TariffRestrictions",
    "TariffType",
    "TaxIncluded",
    "compile_tariff",
    "detect_version",
    "dumps_exact",
    "minor_unit",
    "parse_tariff",
    "price_session",
    "round_money",
    "tariff_from_json",
    "tariff_to_ocpi",
    "validate_tariff",
]
