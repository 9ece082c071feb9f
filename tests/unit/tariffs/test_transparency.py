"""Price transparency: prices by energy (kWh thresholds) next to the time-based changes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tariff_testkit import D

from borne.tariffs import TariffDimensionType, parse_tariff
from borne.tariffs.transparency import price_now

AT = datetime(2024, 6, 3, 8, 0, tzinfo=UTC)  # a Monday, 10:00 in Berlin
BERLIN = "Europe/Berlin"


def tariff(*elements: dict[str, Any], **extra: Any) -> Any:
    data: dict[str, Any] = {
        "country_code": "DE",
        "party_id": "BRN",
        "id": "T",
        "currency": "EUR",
        "elements": list(elements),
    }
    data.update(extra)
    return parse_tariff(data)


def el(*components: tuple[str, str], **restrictions: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "price_components": [{"type": t, "price": D(p), "step_size": 1} for t, p in components]
    }
    if restrictions:
        out["restrictions"] = restrictions
    return out


def test_energy_price_drops_after_a_kwh_threshold() -> None:
    t = tariff(el(("ENERGY", "0.30"), max_kwh=D(20)), el(("ENERGY", "0.25")))
    now = price_now(t, BERLIN, AT)
    assert [(u.after_minutes, u.after_kwh, u.excl) for u in now.energy] == [
        (0, None, D("0.3")),
        (0, D(20), D("0.25")),
    ]
    assert now.energy[1].element_index == 1
    assert now.energy[1].rule == "no restrictions"
    assert now.text == "€0.30/kWh, €0.25/kWh after 20 kWh, incl. 0% VAT"


def test_several_thresholds_min_and_max_and_unchanged_prices_are_not_repeated() -> None:
    t = tariff(
        el(("ENERGY", "0.40"), max_kwh=D("7.5")),
        el(("ENERGY", "0.40"), min_kwh=D("7.5"), max_kwh=D(30)),  # same price: not a change
        el(("ENERGY", "0.20"), min_kwh=D(30), max_kwh=D(50)),
        # from 50 kWh no element prices energy: free
    )
    now = price_now(t, BERLIN, AT)
    assert [(u.after_kwh, u.excl, u.free) for u in now.energy] == [
        (None, D("0.4"), False),
        (D(30), D("0.2"), False),
        (D(50), D(0), True),
    ]
    assert now.text == "€0.40/kWh, €0.20/kWh after 30 kWh, free after 50 kWh, incl. 0% VAT"


def test_time_price_restricted_by_energy_and_time_changes_listed_together() -> None:
    t = tariff(
        el(("ENERGY", "0.30")),
        el(("TIME", "6.00"), min_kwh=D(10)),  # 0.10/min once 10 kWh are charged
        el(("TIME", "1.20"), min_duration=3600),  # 0.02/min after an hour
        el(("PARKING_TIME", "3.00"), min_kwh=D(10)),
    )
    now = price_now(t, BERLIN, AT)
    assert [(u.after_minutes, u.after_kwh, u.excl) for u in now.charging_time] == [
        (0, None, D(0)),
        (60, None, D("1.2")),
        (0, D(10), D(6)),
    ]
    assert [(u.after_kwh, u.excl) for u in now.parking_time] == [(None, D(0)), (D(10), D(3))]
    assert now.energy[0].after_kwh is None and len(now.energy) == 1
    assert now.text == (
        "€0.30/kWh + €0.02/min after 60 min, €0.10/min after 10 kWh, "
        "parking €0.05/min after 10 kWh, incl. 0% VAT"
    )


def test_kwh_prices_follow_the_time_of_day_at_the_start() -> None:
    day = {"start_time": "08:00", "end_time": "20:00"}
    t = tariff(
        el(("ENERGY", "0.50"), max_kwh=D(20), **day),
        el(("ENERGY", "0.45"), **day),
        el(("ENERGY", "0.20")),
    )
    assert price_now(t, BERLIN, AT).text == "€0.50/kWh, €0.45/kWh after 20 kWh, incl. 0% VAT"
    night = price_now(t, BERLIN, datetime(2024, 6, 3, 22, 0, tzinfo=UTC))
    assert night.text == "€0.20/kWh, incl. 0% VAT"  # the threshold changes nothing at night


def test_taxes_of_kwh_prices_come_from_the_engine() -> None:
    # 2.3.0, prices incl. taxes: the 20 % VAT is taken off by the engine on both sides
    t = tariff(
        {
            "price_components": [
                {"type": "ENERGY", "price": D("0.36"), "vat": D(20), "step_size": 1}
            ],
            "restrictions": {"max_kwh": D(20)},
        },
        {
            "price_components": [
                {"type": "ENERGY", "price": D("0.30"), "vat": D(20), "step_size": 1}
            ]
        },
        tax_included="YES",
    )
    now = price_now(t, BERLIN, AT)
    segment = now.energy[1]
    assert segment.dimension is TariffDimensionType.ENERGY
    assert (segment.after_kwh, segment.excl, segment.incl) == (D(20), D("0.25"), D("0.3"))
    assert now.text == "€0.36/kWh, €0.30/kWh after 20 kWh, incl. 20% VAT"


def test_power_restrictions_apply_to_kwh_probes() -> None:
    t = tariff(
        el(("ENERGY", "0.60"), min_power=D(50), min_kwh=D(40)),
        el(("ENERGY", "0.50")),
    )
    fast = price_now(t, BERLIN, AT, max_power_kw=D(150))
    assert [(u.after_kwh, u.excl) for u in fast.energy] == [(None, D("0.5")), (D(40), D("0.6"))]
    slow = price_now(t, BERLIN, AT, max_power_kw=D(22))
    assert [(u.after_kwh, u.excl) for u in slow.energy] == [(None, D("0.5"))]
