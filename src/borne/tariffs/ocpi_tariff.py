"""The OCPI tariff, in one canonical internal form, read from and written to 2.2.1 and 2.3.0 JSON.

The canonical form is the 2.3.0 shape with one addition: ``tax_included`` is ``None`` for a tariff
that came in the 2.2.1 shape. That keeps the one semantic difference between the versions visible:

* 2.2.1 (``tax_included is None``): prices exclude VAT; a missing ``vat`` means no VAT applies,
  so the cost including VAT equals the cost excluding it.
* 2.3.0 ``NO``: prices exclude taxes; a missing ``vat`` means the tariff does not state the tax,
  which is added later by local rules (the North American example), so the after-tax cost is
  unknown (``None``) for that component.
* 2.3.0 ``YES``: prices include taxes; with ``vat`` the before-tax cost is derived, without it
  the before-tax cost is unknown.
* 2.3.0 ``N/A``: no taxes at all; before and after taxes are the same amount.

Numbers are :class:`~decimal.Decimal` throughout; parse JSON with ``parse_float=Decimal`` (or give
the text to :func:`tariff_from_json`) so no amount ever passes through a float.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from borne.core.errors import InvalidInput

OcpiVersion = Literal["2.2.1", "2.3.0"]


class TariffDimensionType(StrEnum):
    ENERGY = "ENERGY"
    FLAT = "FLAT"
    PARKING_TIME = "PARKING_TIME"
    TIME = "TIME"


class DayOfWeek(StrEnum):
    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"


#: ``date.weekday()`` → DayOfWeek
WEEKDAYS: tuple[DayOfWeek, ...] = tuple(DayOfWeek)


class ReservationRestrictionType(StrEnum):
    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


class TariffType(StrEnum):
    AD_HOC_PAYMENT = "AD_HOC_PAYMENT"
    PROFILE_CHEAP = "PROFILE_CHEAP"
    PROFILE_FAST = "PROFILE_FAST"
    PROFILE_GREEN = "PROFILE_GREEN"
    REGULAR = "REGULAR"


class TaxIncluded(StrEnum):
    YES = "YES"
    NO = "NO"
    N_A = "N/A"


_MODEL = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)


class PriceComponent(BaseModel):
    """How one dimension is priced: ``price`` per kWh, per hour, or once (FLAT)."""

    model_config = _MODEL

    type: TariffDimensionType
    price: Decimal
    vat: Decimal | None = None
    step_size: int


class TariffRestrictions(BaseModel):
    """Conditions under which an element applies; all set fields must hold (logical AND).

    Times and dates are kept as the OCPI strings; :func:`borne.tariffs.validate_tariff` checks
    their syntax, so a malformed value is refused with the field named.
    """

    model_config = _MODEL

    start_time: str | None = None
    end_time: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    min_kwh: Decimal | None = None
    max_kwh: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    day_of_week: tuple[DayOfWeek, ...] = ()
    reservation: ReservationRestrictionType | None = None


class TariffElement(BaseModel):
    model_config = _MODEL

    price_components: tuple[PriceComponent, ...]
    restrictions: TariffRestrictions | None = None


class PriceLimit(BaseModel):
    """``min_price`` / ``max_price``: 2.2.1 ``{excl_vat, incl_vat}``, 2.3.0 ``{before_taxes,
    after_taxes}``; both read into this one form."""

    model_config = _MODEL

    before_taxes: Decimal
    after_taxes: Decimal | None = None


class DisplayText(BaseModel):
    model_config = _MODEL

    language: str
    text: str


class Tariff(BaseModel):
    """The canonical tariff. Build it with :func:`parse_tariff`; check it with
    :func:`borne.tariffs.validate_tariff` (the pricing engine does so itself)."""

    model_config = _MODEL

    country_code: str
    party_id: str
    id: str
    currency: str
    type: TariffType | None = None
    tariff_alt_text: tuple[DisplayText, ...] = ()
    tariff_alt_url: str | None = None
    min_price: PriceLimit | None = None
    max_price: PriceLimit | None = None
    elements: tuple[TariffElement, ...] = Field(min_length=1)
    #: None: the 2.2.1 VAT model (see the module docstring).
    tax_included: TaxIncluded | None = None
    start_date_time: datetime | None = None
    end_date_time: datetime | None = None
    energy_mix: dict[str, Any] | None = None
    last_updated: datetime | None = None


# --------------------------------------------------------------------------- reading


def _price_limit(raw: Any, field: str, version: OcpiVersion | None) -> Any:
    """Map a 2.2.1 or 2.3.0 limit onto ``{before_taxes, after_taxes}``; refuse a mixture."""
    if not isinstance(raw, Mapping):
        return raw
    old = {"excl_vat", "incl_vat"} & raw.keys()
    new = {"before_taxes", "after_taxes"} & raw.keys()
    if old and new:
        raise InvalidInput(
            f"{field} mixes the 2.2.1 and 2.3.0 price forms",
            details={
                "errors": [
                    {
                        "field": field,
                        "reason": "both excl_vat/incl_vat and "
                        "before_taxes/after_taxes given; use one form",
                    }
                ]
            },
        )
    if old and version == "2.3.0":
        raise InvalidInput(
            f"{field} uses the 2.2.1 form in a 2.3.0 tariff",
            details={"errors": [{"field": field, "reason": "2.3.0 expects before_taxes"}]},
        )
    if new and version == "2.2.1":
        raise InvalidInput(
            f"{field} uses the 2.3.0 form in a 2.2.1 tariff",
            details={"errors": [{"field": field, "reason": "2.2.1 expects excl_vat"}]},
        )
    if old:
        out = {"before_taxes": raw.get("excl_vat")}
        if raw.get("incl_vat") is not None:
            out["after_taxes"] = raw["incl_vat"]
        return out
    return dict(raw)


def detect_version(data: Mapping[str, Any]) -> OcpiVersion:
    """2.3.0 when the object carries ``tax_included`` or a 2.3.0 price limit, else 2.2.1."""
    if "tax_included" in data:
        return "2.3.0"
    for key in ("min_price", "max_price"):
        limit = data.get(key)
        if isinstance(limit, Mapping) and "before_taxes" in limit:
            return "2.3.0"
    return "2.2.1"


def parse_tariff(data: Mapping[str, Any], version: OcpiVersion | None = None) -> Tariff:
    """Read an OCPI tariff object (2.2.1 or 2.3.0 shape) into the canonical :class:`Tariff`.

    ``version=None`` detects the shape (:func:`detect_version`). Unknown fields are accepted and
    dropped (2.3.0 requires receivers to accept them). Structural errors raise
    :class:`~borne.core.errors.InvalidInput` whose ``details["errors"]`` name each field; the
    semantic checks of :func:`borne.tariffs.validate_tariff` are not run here.
    """
    if not isinstance(data, Mapping):
        raise InvalidInput("a tariff must be a JSON object", details={"errors": []})
    shape = version or detect_version(data)
    raw = dict(data)
    for key in ("min_price", "max_price"):
        if raw.get(key) is not None:
            raw[key] = _price_limit(raw[key], key, version)
    if shape == "2.3.0" and "tax_included" not in raw:
        raise InvalidInput(
            "a 2.3.0 tariff needs tax_included",
            details={"errors": [{"field": "tax_included", "reason": "required in 2.3.0"}]},
        )
    if shape == "2.2.1":
        raw.pop("tax_included", None)
    try:
        return Tariff.model_validate(raw)
    except ValidationError as exc:
        errors = [
            {"field": _loc(err["loc"]), "reason": err["msg"]}
            for err in exc.errors(include_url=False)
        ]
        first = errors[0]
        raise InvalidInput(
            f"invalid tariff: {first['field']}: {first['reason']}", details={"errors": errors}
        ) from None


def tariff_from_json(text: str | bytes, version: OcpiVersion | None = None) -> Tariff:
    """Parse JSON text exactly (numbers become Decimal, never float) into a :class:`Tariff`."""
    try:
        data = json.loads(text, parse_float=Decimal)
    except ValueError as exc:
        raise InvalidInput(f"tariff is not valid JSON: {exc}", details={"errors": []}) from None
    return parse_tariff(data, version)


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "tariff"


# --------------------------------------------------------------------------- writing


def tariff_to_ocpi(tariff: Tariff, version: OcpiVersion) -> dict[str, Any]:
    """The OCPI object of ``version``. Numbers stay Decimal (see :func:`dumps_exact`).

    A tariff whose prices include taxes (``tax_included=YES``) cannot be written as 2.2.1
    (whose prices exclude VAT) without inexact division: that raises InvalidInput.
    """
    if version == "2.2.1" and tariff.tax_included is TaxIncluded.YES:
        raise InvalidInput(
            "a tax-inclusive tariff has no exact 2.2.1 form",
            details={
                "errors": [
                    {
                        "field": "tax_included",
                        "reason": "YES cannot be expressed in 2.2.1, whose prices exclude VAT",
                    }
                ]
            },
        )
    out: dict[str, Any] = {
        "country_code": tariff.country_code,
        "party_id": tariff.party_id,
        "id": tariff.id,
        "currency": tariff.currency,
    }
    if tariff.type is not None:
        out["type"] = tariff.type.value
    if tariff.tariff_alt_text:
        out["tariff_alt_text"] = [t.model_dump() for t in tariff.tariff_alt_text]
    if tariff.tariff_alt_url is not None:
        out["tariff_alt_url"] = tariff.tariff_alt_url
    for key in ("min_price", "max_price"):
        limit: PriceLimit | None = getattr(tariff, key)
        if limit is not None:
            out[key] = _limit_out(limit, version)
    out["elements"] = [_element_out(e) for e in tariff.elements]
    if version == "2.3.0":
        out["tax_included"] = (tariff.tax_included or TaxIncluded.NO).value
    for key in ("start_date_time", "end_date_time"):
        value: datetime | None = getattr(tariff, key)
        if value is not None:
            out[key] = _dt(value)
    if tariff.energy_mix is not None:
        out["energy_mix"] = tariff.energy_mix
    if tariff.last_updated is not None:
        out["last_updated"] = _dt(tariff.last_updated)
    return out


def _limit_out(limit: PriceLimit, version: OcpiVersion) -> dict[str, Decimal]:
    before, after = (
        ("excl_vat", "incl_vat") if version == "2.2.1" else ("before_taxes", "after_taxes")
    )
    out = {before: limit.before_taxes}
    if limit.after_taxes is not None:
        out[after] = limit.after_taxes
    return out


def _element_out(element: TariffElement) -> dict[str, Any]:
    out: dict[str, Any] = {"price_components": []}
    for pc in element.price_components:
        comp: dict[str, Any] = {"type": pc.type.value, "price": pc.price}
        if pc.vat is not None:
            comp["vat"] = pc.vat
        comp["step_size"] = pc.step_size
        out["price_components"].append(comp)
    if element.restrictions is not None:
        r = element.restrictions.model_dump(exclude_none=True, exclude_defaults=True)
        if "day_of_week" in r:
            r["day_of_week"] = [d.value for d in element.restrictions.day_of_week]
        if element.restrictions.reservation is not None:
            r["reservation"] = element.restrictions.reservation.value
        out["restrictions"] = r
    return out


def _dt(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def dumps_exact(obj: Any) -> str:
    """JSON text in which Decimals are written as exact JSON numbers (never through float)."""
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, Decimal):
        text = format(obj, "f")
        return text
    if isinstance(obj, int | float):
        return json.dumps(obj)
    if isinstance(obj, str):
        return json.dumps(obj, ensure_ascii=False)
    if isinstance(obj, datetime):
        return json.dumps(_dt(obj))
    if isinstance(obj, Mapping):
        items = (f"{json.dumps(str(k))}: {dumps_exact(v)}" for k, v in obj.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(obj, list | tuple):
        return "[" + ", ".join(dumps_exact(v) for v in obj) + "]"
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")
