"""CDR documents and explanations of ``borne.cdrs.builder`` (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

from borne.cdrs.builder import CdrInput, SignedValue, build_cdr, credit_document
from borne.cdrs.periods import MeterData, Reading, segment
from borne.tariffs import SessionUsage, parse_tariff, price_session

T0 = datetime(2025, 6, 3, 8, 0, tzinfo=UTC)
TARIFF = parse_tariff(
    {
        "country_code": "DE",
        "party_id": "BRN",
        "id": "T1",
        "currency": "EUR",
        "elements": [
            {"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 1}]},
            {
                "price_components": [
                    {"type": "PARKING_TIME", "price": 2.00, "vat": 20.0, "step_size": 900}
                ]
            },
        ],
    },
    "2.2.1",
)


def session(**kw: Any) -> CdrInput:
    data = MeterData(
        T0, T0 + timedelta(minutes=100), D(0), D(20000),
        readings=[Reading(T0 + timedelta(minutes=60), D(20000))],
    )  # fmt: skip
    base: dict[str, Any] = {
        "cdr_id": "ABC123",
        "station_id": "CS1",
        "transaction_id": "tx1",
        "evse_id": 1,
        "connector_id": 1,
        "id_token": "TOKEN1",
        "id_token_type": "ISO14443",
        "remote_start_id": None,
        "segmentation": segment(data),
        "tariff": TARIFF,
        "time_zone": "Europe/Berlin",
        "issued_at": T0 + timedelta(hours=2),
    }
    base.update(kw)
    return CdrInput(**base)


def doc(built: Any, version: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(built.documents[version], parse_float=D)
    return out


def test_spec_like_session_20_kwh_then_40_min_parked() -> None:
    built = build_cdr(session())
    # 20 kWh x 0.25 = 5.00 (5.50 incl. 10 %); parked 40 min -> 45 min (step 900 s) x 2.00/h =
    # 1.50 (1.80 incl. 20 %): 6.50 / 7.30
    assert (built.total.excl, built.total.incl) == (D("6.50"), D("7.30"))
    d221 = doc(built, "2.2.1")
    assert d221["total_cost"] == {"excl_vat": D("6.50"), "incl_vat": D("7.30")}
    assert d221["total_energy"] == 20 and d221["total_time"] == D("1.6667")
    assert d221["total_parking_time"] == D("0.6667")
    assert [p["dimensions"][0]["type"] for p in d221["charging_periods"]] == [
        "ENERGY",
        "PARKING_TIME",
    ]
    assert d221["tariffs"][0]["id"] == "T1" and d221["auth_method"] == "WHITELIST"
    d230 = doc(built, "2.3.0")
    assert d230["total_cost"] == {
        "before_taxes": D("6.50"),
        "taxes": [{"name": "VAT", "amount": D("0.80")}],
    }
    assert "Period 1" in built.explanation and "element #1" in built.explanation


def test_periods_reprice_to_the_same_total() -> None:
    built = build_cdr(session())
    d = doc(built, "2.2.1")
    usage = SessionUsage.from_ocpi(d["charging_periods"], d["end_date_time"])
    assert price_session(TARIFF, usage, "Europe/Berlin").total == built.total


def test_no_tariff_is_free_and_says_why() -> None:
    built = build_cdr(session(tariff=None, no_tariff_reason="no tariff is assigned to CS1"))
    assert (built.total.excl, built.total.incl) == (0, 0)
    assert doc(built, "2.2.1")["total_cost"] == {"excl_vat": 0, "incl_vat": 0}
    assert "tariffs" not in doc(built, "2.3.0")
    assert "No tariff applied: no tariff is assigned to CS1" in built.explanation


def test_signed_data_and_command_auth() -> None:
    signed = [
        SignedValue("Start", "0", "AAA=", "OCMF", "PUB"),
        SignedValue("End", "20000", "BBB=", "OCMF", "PUB"),
    ]
    d = doc(build_cdr(session(signed=signed, remote_start_id=7)), "2.3.0")
    assert d["signed_data"]["encoding_method"] == "OCMF"
    assert [v["nature"] for v in d["signed_data"]["signed_values"]] == ["Start", "End"]
    assert d["auth_method"] == "COMMAND"


def test_credit_negates_only_total_cost() -> None:
    d = doc(build_cdr(session()), "2.3.0")
    credit = credit_document(d, credit_id="ABC123-C", issued_at=T0, remark="wrong meter")
    assert credit["total_cost"] == {
        "before_taxes": D("-6.50"),
        "taxes": [{"name": "VAT", "amount": D("-0.80")}],
    }
    assert credit["total_energy_cost"] == d["total_energy_cost"]
    assert (credit["credit"], credit["credit_reference_id"]) == (True, "ABC123")
    assert credit["remark"] == "wrong meter"
