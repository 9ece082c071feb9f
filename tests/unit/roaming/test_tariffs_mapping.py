"""OCPI Tariffs module: stored tariffs to the Tariff object of each version, and visibility."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from tariffs_ocpi_kit import example, example_names, record, validate

from borne.ocpi.party import PartyRole
from borne.roaming.tariffs import CpoIdentity, party_keys, tariff_object, visible_to

NOW = datetime(2025, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
ME = CpoIdentity("NL", "BRN")
D = Decimal


def simple(tariff_id: str = "T1", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "country_code": "DE",
        "party_id": "XYZ",
        "id": tariff_id,
        "currency": "EUR",
        "elements": [
            {"price_components": [{"type": "ENERGY", "price": D("0.25"), "step_size": 1}]}
        ],
    }
    body.update(fields)
    return body


def _without(obj: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in keys}


@pytest.mark.parametrize("version", ["2.2.1", "2.3.0"])
def test_spec_examples_are_served_back_equal_and_valid(version: str) -> None:
    names = example_names(version)
    if not names:
        pytest.skip(f"no OCPI {version} tariff examples (shared OCPI folder absent)")
    for name in names:
        data = example(version, name)
        me = CpoIdentity(data["country_code"], data["party_id"])
        out = tariff_object(record(data, last_updated=NOW), version, me)
        assert out is not None, name
        assert _without(out, "last_updated") == _without(data, "last_updated"), name
        assert out["last_updated"] == "2025-03-01T12:30:15Z"
        assert validate(version, "tariffs", "Tariff", out) == [], name


def test_owner_is_borne_and_last_updated_is_the_records() -> None:
    out = tariff_object(record(simple(), last_updated=NOW), "2.3.0", ME)
    assert out is not None
    assert (out["country_code"], out["party_id"], out["id"]) == ("NL", "BRN", "T1")
    assert out["last_updated"] == "2025-03-01T12:30:15Z"
    assert out["tax_included"] == "NO"  # a 2.2.1-shaped tariff in 2.3.0
    assert validate("2.3.0", "tariffs", "Tariff", out) == []


def test_tax_inclusive_tariff_has_no_221_form() -> None:
    data = simple(tax_included="YES", min_price={"before_taxes": D(1), "after_taxes": D("1.2")})
    stored = record(data, last_updated=NOW)
    assert tariff_object(stored, "2.2.1", ME) is None
    out = tariff_object(stored, "2.3.0", ME)
    assert out is not None and out["tax_included"] == "YES"
    assert out["min_price"] == {"before_taxes": D(1), "after_taxes": D("1.2")}
    assert validate("2.3.0", "tariffs", "Tariff", out) == []


def test_221_price_limits_and_dates() -> None:
    data = simple(
        min_price={"excl_vat": D(2), "incl_vat": D("2.4")},
        start_date_time="2025-01-01T00:00:00.5Z",
        end_date_time="2026-01-01T00:00:00Z",
    )
    out = tariff_object(record(data, last_updated=NOW), "2.2.1", ME)
    assert out is not None
    assert "tax_included" not in out
    assert out["min_price"] == {"excl_vat": D(2), "incl_vat": D("2.4")}
    assert (out["start_date_time"], out["end_date_time"]) == (
        "2025-01-01T00:00:00Z",
        "2026-01-01T00:00:00Z",
    )
    assert validate("2.2.1", "tariffs", "Tariff", out) == []


def test_ad_hoc_tariff_is_typed_ad_hoc_payment_unless_typed() -> None:
    out = tariff_object(record(simple(), last_updated=NOW, ad_hoc=True), "2.2.1", ME)
    assert out is not None and out["type"] == "AD_HOC_PAYMENT"
    typed = record(simple(type="REGULAR"), last_updated=NOW, ad_hoc=True)
    out = tariff_object(typed, "2.2.1", ME)
    assert out is not None and out["type"] == "REGULAR"


def test_visibility_per_partner_and_token_group() -> None:
    keys = party_keys([PartyRole("de", "abc", "EMSP"), PartyRole("FR", "XYZ", "EMSP")])
    assert keys == frozenset({"DE*ABC", "FR*XYZ"})
    general = record(simple(), last_updated=NOW)
    mine = record(simple("P"), last_updated=NOW, partner="DE*ABC")
    other = record(simple("Q"), last_updated=NOW, partner="BE*QQQ")
    group = record(simple("G"), last_updated=NOW, token_group="FLEET")
    assert visible_to(general, keys) and visible_to(mine, keys)
    assert not visible_to(other, keys) and not visible_to(group, keys)
    assert visible_to(general, frozenset()) and not visible_to(mine, frozenset())
