"""Engine behaviour beyond the spec examples: splitting, time zones, restrictions, taxes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from tariff_testkit import D, charge, park, session

from borne.core.errors import InvalidInput
from borne.tariffs import (
    ChargingPeriod,
    CostCategory,
    SessionUsage,
    TariffDimensionType,
    compile_tariff,
    parse_tariff,
    price_session,
)

PARIS = ZoneInfo("Europe/Paris")


def tariff(*elements: dict[str, Any], **extra: Any) -> Any:
    data: dict[str, Any] = {
        "country_code": "FR",
        "party_id": "BRN",
        "id": "T",
        "currency": "EUR",
        "elements": list(elements),
    }
    data.update(extra)
    return parse_tariff(data)


def el(*components: tuple[str, str, int], **restrictions: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "price_components": [{"type": t, "price": D(p), "step_size": s} for t, p, s in components]
    }
    if restrictions:
        out["restrictions"] = restrictions
    return out


def test_time_of_day_boundary_inside_one_period_is_split() -> None:
    t = tariff(el(("TIME", "6", 1), start_time="18:00", end_time="20:00"), el(("TIME", "2", 1)))
    usage = session(datetime(2024, 3, 5, 17, 30, tzinfo=PARIS), charge(60))
    priced = price_session(t, usage, "Europe/Paris")
    # 30 min at 2/h + 30 min at 6/h
    assert priced.total.excl == D("4.00")
    assert [ln.element_index for ln in priced.lines] == [1, 0]
    assert priced.lines[1].start == datetime(2024, 3, 5, 18, 0, tzinfo=PARIS)


def test_end_time_wraps_past_midnight_in_local_time() -> None:
    night = el(("ENERGY", "0.10", 1), start_time="22:00", end_time="06:00")
    t = tariff(night, el(("ENERGY", "0.40", 1)))
    # 21:00-23:00 local, 2 kWh spread linearly: 1 kWh day, 1 kWh night
    start = datetime(2024, 3, 5, 21, 0, tzinfo=PARIS)
    priced = price_session(t, session(start, charge(120, 2)), "Europe/Paris")
    assert priced.total.excl == D("0.50")
    # 05:00-07:00: 1 kWh night, 1 kWh day
    priced = price_session(
        t, session(datetime(2024, 3, 6, 5, tzinfo=PARIS), charge(120, 2)), "Europe/Paris"
    )
    assert priced.total.excl == D("0.50")
    # the same instants read in UTC (one hour behind Paris in March) price differently
    in_utc = price_session(t, session(start, charge(120, 2)), "UTC")
    assert in_utc.total.excl == D("0.80")


def test_end_time_0000_means_end_of_day() -> None:
    t = tariff(el(("TIME", "3", 1), start_time="20:00", end_time="00:00"), el(("TIME", "1", 1)))
    start = datetime(2024, 3, 5, 23, 0, tzinfo=PARIS)
    priced = price_session(t, session(start, charge(120)), "Europe/Paris")
    assert priced.total.excl == D("4.00")  # 1 h at 3 until midnight, 1 h at 1 after


def test_day_of_week_and_dates_switch_at_local_midnight() -> None:
    weekend = el(("TIME", "1", 1), day_of_week=["SATURDAY", "SUNDAY"])
    promo = el(("TIME", "0", 1), start_date="2024-03-11", end_date="2024-03-12")
    t = tariff(promo, weekend, el(("TIME", "4", 1)))
    # Sunday 23:00 -> Monday 01:00: 1 h weekend + 1 h weekday
    sunday = datetime(2024, 3, 10, 23, tzinfo=PARIS)
    priced = price_session(t, session(sunday, charge(120)), "Europe/Paris")
    assert priced.total.excl == D("0.00") + D("1") + D("0")  # Monday 11 March is the promo day
    monday = datetime(2024, 3, 11, 23, tzinfo=PARIS)
    priced = price_session(t, session(monday, charge(120)), "Europe/Paris")
    assert priced.total.excl == D("4.00")  # promo until 24:00, then Tuesday at 4/h


def test_dst_change_inside_a_period() -> None:
    """31 March 2024: Paris jumps from 02:00 to 03:00. A 02:30 start_time is reached at the
    jump; 01:00-04:00 local lasts two real hours."""
    t = tariff(el(("TIME", "10", 1), start_time="02:30"), el(("TIME", "1", 1)))
    start = datetime(2024, 3, 31, 0, 0, tzinfo=UTC)  # 01:00 CET
    usage = session(start, charge(120))  # ends 02:00 UTC = 04:00 CEST
    priced = price_session(t, usage, "Europe/Paris")
    # 01:00-02:00 CET at 1/h (1 h), then 03:00-04:00 CEST at 10/h (1 h)
    assert priced.total.excl == D("11.00")


def test_kwh_threshold_is_cut_at_exactly_that_energy() -> None:
    t = tariff(el(("ENERGY", "0", 1), max_kwh=D(1)), el(("ENERGY", "0.2", 1), min_kwh=D(1)))
    start = datetime(2024, 3, 5, 10, tzinfo=PARIS)
    priced = price_session(t, session(start, charge(60, D("10"))), "Europe/Paris")
    assert priced.total.excl == D("1.80")
    energy = [ln for ln in priced.lines if ln.dimension is TariffDimensionType.ENERGY]
    assert [ln.quantity for ln in energy] == [D(1), D(9)]
    assert energy[1].start == start + timedelta(minutes=6)


def test_duration_threshold_splits_a_single_meter_period_linearly() -> None:
    t = tariff(
        el(("ENERGY", "0", 1), max_duration=1800),
        el(("ENERGY", "0.25", 1), max_duration=3600),
        el(("ENERGY", "0.40", 1)),
    )
    # one 40-minute period of 6.2 kWh: 30/40 of it (4.65 kWh) is free, 1.55 kWh at 0.25
    start = datetime(2024, 3, 5, 10, tzinfo=PARIS)
    priced = price_session(t, session(start, charge(40, D("6.2"))), "Europe/Paris")
    assert priced.total_exact.excl == D("0.3875")
    assert priced.total.excl == D("0.39")


def test_current_restrictions_need_a_measurement() -> None:
    t = tariff(el(("TIME", "5", 1), min_current=D(32)), el(("TIME", "1", 1)))
    start = datetime(2024, 3, 5, 10, tzinfo=PARIS)
    assert price_session(t, session(start, charge(60, current=40)), PARIS).total.excl == 5
    assert price_session(t, session(start, charge(60, current=16)), PARIS).total.excl == 1
    # no current measured: the restriction does not hold, the fallback applies
    assert price_session(t, session(start, charge(60)), PARIS).total.excl == 1


def test_dimension_without_any_element_is_free_and_explained() -> None:
    t = tariff(el(("ENERGY", "0.3", 1)))
    start = datetime(2024, 3, 5, 10, tzinfo=PARIS)
    priced = price_session(t, session(start, charge(60, 10), park(30)), PARIS)
    assert priced.total.excl == D("3.00")
    free = [ln for ln in priced.lines if ln.element_index is None]
    assert {ln.dimension for ln in free} == {
        TariffDimensionType.TIME,
        TariffDimensionType.PARKING_TIME,
    }
    assert "free, no tariff element prices PARKING_TIME" in priced.explain()


def test_flat_once_per_session_from_the_first_matching_element() -> None:
    t = tariff(
        el(("FLAT", "1", 0), start_time="18:00", end_time="20:00"),
        el(("FLAT", "3", 0), start_time="20:00", end_time="22:00"),
        el(("TIME", "0", 1)),
    )
    start = datetime(2024, 3, 5, 17, 0, tzinfo=PARIS)
    priced = price_session(t, session(start, charge(60), charge(120), charge(60)), PARIS)
    flats = [ln for ln in priced.lines if ln.dimension is TariffDimensionType.FLAT]
    assert len(flats) == 1 and flats[0].element_index == 0
    assert priced.total.excl == D("1.00")


def test_explanation_names_period_quantity_element_and_rounding() -> None:
    t = tariff(el(("FLAT", "0.5", 0), ("ENERGY", "0.25", 500)), max_price={"excl_vat": D("1.5")})
    start = datetime(2024, 3, 5, 10, tzinfo=PARIS)
    priced = price_session(t, session(start, charge(30, D("4.3")), charge(30, D("1.1"))), PARIS)
    text = priced.explain()
    assert "Period 1" in text and "Period 2" in text
    assert "element #0" in text
    assert "5.4 kWh -> 5.5 kWh" in text  # the CDR module's step_size example
    assert "max_price applied before_taxes" in text
    assert "ROUND_HALF_UP" in text
    assert priced.total.excl == D("1.50")
    assert priced.total_before_limits.excl == D("1.88")  # 0.5 + 5.5 x 0.25 = 1.875


def test_2_3_0_tax_models() -> None:
    base: dict[str, Any] = {"type": "TIME", "price": D("2.40"), "vat": D(20), "step_size": 1}
    start = datetime(2024, 3, 5, 10, tzinfo=PARIS)
    usage = session(start, charge(60))
    included = tariff({"price_components": [base]}, tax_included="YES")
    priced = price_session(included, usage, PARIS)
    assert (priced.total.excl, priced.total.incl) == (D("2.00"), D("2.40"))
    assert priced.to_ocpi_costs("2.3.0")["total_cost"] == {
        "before_taxes": D("2.00"),
        "taxes": [{"name": "VAT", "amount": D("0.40")}],
    }
    none = tariff({"price_components": [{**base, "vat": None}]}, tax_included="N/A")
    priced = price_session(none, usage, PARIS)
    assert (priced.total.excl, priced.total.incl) == (D("2.40"), D("2.40"))
    assert priced.to_ocpi_costs("2.3.0")["total_cost"] == {"before_taxes": D("2.40"), "taxes": []}


def test_price_limits_apply_to_each_side_independently() -> None:
    t = tariff(
        {
            "price_components": [
                {"type": "ENERGY", "price": D("0.25"), "vat": D(10), "step_size": 1}
            ]
        },
        tax_included="NO",
        min_price={"before_taxes": D("0.50")},
    )
    start = datetime(2024, 3, 5, 10, tzinfo=PARIS)
    priced = price_session(t, session(start, charge(10, 1)), PARIS)
    # only before_taxes is limited; after taxes stays what the energy costs (no after_taxes)
    assert (priced.total.excl, priced.total.incl) == (D("0.50"), D("0.28"))
    assert [(a.limit, a.side) for a in priced.limits] == [("min_price", "before_taxes")]


def test_currency_minor_unit() -> None:
    t = tariff(el(("ENERGY", "33.5", 1)), currency="JPY")
    start = datetime(2024, 3, 5, 10, tzinfo=PARIS)
    assert price_session(t, session(start, charge(60, 1)), PARIS).total.excl == D("34")


def test_refusals_at_pricing_time() -> None:
    t = tariff(el(("ENERGY", "0.3", 1)), end_date_time="2024-01-01T00:00:00Z")
    start = datetime(2024, 3, 5, 10, tzinfo=PARIS)
    with pytest.raises(InvalidInput, match="not valid at the session start"):
        price_session(t, session(start, charge(60, 1)), PARIS)
    ok = tariff(el(("ENERGY", "0.3", 1)))
    with pytest.raises(InvalidInput, match="unknown time zone"):
        price_session(ok, session(start, charge(60, 1)), "Mars/Olympus")
    bad = tariff(el(("ENERGY", "0.3", -1)))
    with pytest.raises(InvalidInput):
        compile_tariff(bad)


@pytest.mark.parametrize(
    "build",
    [
        lambda s: SessionUsage((ChargingPeriod(s.replace(tzinfo=None)),), s),
        lambda s: SessionUsage((ChargingPeriod(s, energy_kwh=D(-1)),), s + timedelta(hours=1)),
        lambda s: SessionUsage(
            (ChargingPeriod(s + timedelta(hours=1)), ChargingPeriod(s)), s + timedelta(hours=2)
        ),
        lambda s: SessionUsage((ChargingPeriod(s, reservation_h=D(1), energy_kwh=D(1)),), s),
        lambda s: SessionUsage((ChargingPeriod(s, time_h=D(1)),), s, reservation_expired=True),
        lambda s: SessionUsage((ChargingPeriod(s),), s - timedelta(seconds=1)),
    ],
)
def test_invalid_usage_is_refused(build: Any) -> None:
    with pytest.raises(InvalidInput):
        build(datetime(2024, 3, 5, 10, tzinfo=PARIS))


def test_empty_session_costs_nothing_but_min_price() -> None:
    t = tariff(el(("FLAT", "1", 0)), min_price={"excl_vat": D("0.5")})
    usage = SessionUsage((), datetime(2024, 3, 5, 10, tzinfo=PARIS))
    priced = price_session(t, usage, PARIS)
    assert priced.lines == ()
    assert priced.total.excl == D("0.50")
    assert priced.category_totals[CostCategory.FIXED].excl == 0
