"""The tariff model: both JSON shapes in and out, and the refusal of ambiguous tariffs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tariff_testkit import OCPI_DIR, D, example_json

from borne.core.errors import InvalidInput
from borne.tariffs import (
    TaxIncluded,
    dumps_exact,
    parse_tariff,
    tariff_from_json,
    tariff_to_ocpi,
    validate_tariff,
)

TARIFF_FILES = sorted(p.name for p in (OCPI_DIR / "examples-2.2.1").glob("tariff*.json")) or [
    "(examples missing)"
]
EXAMPLES = [
    (version, p.name)
    for version in ("2.2.1", "2.3.0")
    for p in sorted((OCPI_DIR / f"examples-{version}").glob("tariff*.json"))
] or [("2.2.1", "(examples missing)")]


@pytest.mark.parametrize(("version", "name"), EXAMPLES)
def test_examples_parse_validate_and_round_trip(version: str, name: str) -> None:
    data = example_json(version, name)
    tariff = validate_tariff(parse_tariff(data, version))  # type: ignore[arg-type]
    assert tariff_to_ocpi(tariff, version) == data  # type: ignore[arg-type]
    again = tariff_from_json(dumps_exact(tariff_to_ocpi(tariff, version)))  # type: ignore[arg-type]
    assert again == tariff


@pytest.mark.parametrize(
    "name", [n for n in TARIFF_FILES if (OCPI_DIR / "examples-2.3.0" / n).is_file()] or ["-"]
)
def test_221_examples_become_the_230_examples(name: str) -> None:
    """Emitting a 2.2.1 example as 2.3.0 gives the 2.3.0 example (tax_included NO, limits as
    before_taxes/after_taxes): the canonical form loses nothing between the versions."""
    old = parse_tariff(example_json("2.2.1", name))
    assert old.tax_included is None
    assert tariff_to_ocpi(old, "2.3.0") == example_json("2.3.0", name)


def test_numbers_never_pass_through_float() -> None:
    tariff = tariff_from_json(
        '{"country_code":"NL","party_id":"BRN","id":"x","currency":"EUR","elements":'
        '[{"price_components":[{"type":"ENERGY","price":0.1234567890123456789,"step_size":1}]}]}'
    )
    assert tariff.elements[0].price_components[0].price == D("0.1234567890123456789")
    assert "0.1234567890123456789" in dumps_exact(tariff_to_ocpi(tariff, "2.2.1"))


def _base(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "country_code": "NL",
        "party_id": "BRN",
        "id": "t1",
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": D("0.3"), "step_size": 1}]}],
    }
    data.update(extra)
    return data


def _refused(data: dict[str, Any], field: str, version: str | None = None) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        validate_tariff(parse_tariff(data, version))  # type: ignore[arg-type]
    fields = [e["field"] for e in info.value.details["errors"]]
    assert field in fields, fields
    return info.value


def _element(components: list[dict[str, Any]], **restrictions: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"price_components": components}
    if restrictions:
        out["restrictions"] = restrictions
    return out


ENERGY = {"type": "ENERGY", "price": D("0.3"), "step_size": 1}


@pytest.mark.parametrize(
    ("elements", "field"),
    [
        ([_element([{**ENERGY, "step_size": -1}])], "elements[0].price_components[0].step_size"),
        ([_element([{**ENERGY, "step_size": 0}])], "elements[0].price_components[0].step_size"),
        ([_element([ENERGY, ENERGY])], "elements[0].price_components[1].type"),
        ([_element([{**ENERGY, "vat": D(-1)}])], "elements[0].price_components[0].vat"),
        ([_element([ENERGY], start_time="9:00")], "elements[0].restrictions.start_time"),
        ([_element([ENERGY], end_time="24:00")], "elements[0].restrictions.end_time"),
        (
            [_element([ENERGY], start_time="10:00", end_time="10:00")],
            "elements[0].restrictions.end_time",
        ),
        ([_element([ENERGY], start_date="2024-02-30")], "elements[0].restrictions.start_date"),
        (
            [_element([ENERGY], start_date="2024-03-01", end_date="2024-03-01")],
            "elements[0].restrictions.end_date",
        ),
        ([_element([ENERGY], min_kwh=D(10), max_kwh=D(5))], "elements[0].restrictions.max_kwh"),
        ([_element([ENERGY], min_kwh=D(-1))], "elements[0].restrictions.min_kwh"),
        (
            [_element([ENERGY], min_power=D(22), max_power=D(11))],
            "elements[0].restrictions.max_power",
        ),
        (
            [_element([ENERGY], min_duration=600, max_duration=60)],
            "elements[0].restrictions.max_duration",
        ),
        ([_element([ENERGY], reservation="RESERVATION")], "elements[0].price_components[0].type"),
        ([{"price_components": []}], "elements[0].price_components"),
    ],
)
def test_ambiguous_elements_are_refused_with_the_field_named(
    elements: list[dict[str, Any]], field: str
) -> None:
    _refused(_base(elements=elements), field)


def test_structural_errors_name_the_field() -> None:
    data = _base()
    data["elements"][0]["price_components"][0]["type"] = "KWH"
    error = _refused(data, "elements[0].price_components[0].type")
    assert error.code == "invalid_input"
    _refused(_base(elements=[]), "elements")


def test_tariff_level_refusals() -> None:
    _refused(_base(currency="euro"), "currency")
    _refused(
        _base(min_price={"excl_vat": D(5)}, max_price={"excl_vat": D(4)}), "min_price.before_taxes"
    )
    _refused(
        _base(
            min_price={"excl_vat": D(1), "incl_vat": D(6)},
            max_price={"excl_vat": D(4), "incl_vat": D(5)},
        ),
        "min_price.after_taxes",
    )
    _refused(_base(max_price={"excl_vat": D(-1)}), "max_price.before_taxes")
    _refused(
        _base(start_date_time="2024-02-01T00:00:00Z", end_date_time="2024-01-01T00:00:00Z"),
        "end_date_time",
    )


def test_tax_model_inconsistencies_are_refused() -> None:
    data = _base(tax_included="N/A")
    data["elements"][0]["price_components"][0]["vat"] = D(21)
    _refused(data, "elements[0].price_components[0].vat")
    # 2.3.0 price limit with both forms
    _refused(_base(max_price={"excl_vat": D(10), "before_taxes": D(10)}), "max_price")
    # a 2.2.1 limit inside a declared 2.3.0 tariff, and the other way round
    _refused(_base(tax_included="NO", max_price={"excl_vat": D(10)}), "max_price", "2.3.0")
    _refused(_base(max_price={"before_taxes": D(10)}), "max_price", "2.2.1")
    # 2.3.0 requires tax_included
    _refused(_base(), "tax_included", "2.3.0")


def test_every_problem_is_reported_at_once() -> None:
    data = _base(currency="eur")
    data["elements"][0]["price_components"][0]["step_size"] = -5
    with pytest.raises(InvalidInput) as info:
        validate_tariff(parse_tariff(data))
    assert len(info.value.details["errors"]) == 2
    assert info.value.details["tariff_id"] == "t1"


def test_version_detection_and_tax_included_values() -> None:
    assert parse_tariff(_base()).tax_included is None
    assert parse_tariff(_base(tax_included="N/A")).tax_included is TaxIncluded.N_A
    limit = {"before_taxes": D(3), "after_taxes": D(4)}
    newer = parse_tariff(_base(tax_included="NO", max_price=limit), None)
    assert newer.max_price is not None and newer.max_price.after_taxes == D(4)
    # a 2.3.0 price limit makes it a 2.3.0 tariff, which must say tax_included
    _refused(_base(max_price=limit), "tax_included")


def test_tax_inclusive_tariff_has_no_221_form() -> None:
    tariff = parse_tariff(_base(tax_included="YES"))
    with pytest.raises(InvalidInput):
        tariff_to_ocpi(tariff, "2.2.1")
    assert tariff_to_ocpi(tariff, "2.3.0")["tax_included"] == "YES"


def test_unknown_fields_are_accepted() -> None:
    data = _base(tax_included="NO", some_future_field={"x": 1})
    assert parse_tariff(data).id == "t1"


def test_invalid_json_is_refused() -> None:
    with pytest.raises(InvalidInput):
        tariff_from_json("{not json")
    with pytest.raises(InvalidInput):
        parse_tariff(json.loads("[1]"))
