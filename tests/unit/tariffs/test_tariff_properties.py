"""Properties of the pricing engine over generated tariffs and sessions (hypothesis)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tariff_testkit import D, charge, park, session

from borne.tariffs import (
    ChargingPeriod,
    CostCategory,
    PricedSession,
    SessionUsage,
    TariffDimensionType,
    parse_tariff,
    price_session,
)
from borne.tariffs.rounding import CONTEXT

PARIS = ZoneInfo("Europe/Paris")
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STEPS = {
    "ENERGY": [1, 100, 500, 1000],
    "TIME": [1, 60, 300, 900],
    "PARKING_TIME": [1, 60, 300, 900],
    "FLAT": [0, 1],
}
DAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]

prices = st.decimals(min_value=0, max_value=5, places=2)
vats = st.one_of(st.none(), st.sampled_from([D(0), D("5.5"), D(10), D(20)]))


@st.composite
def components(draw: st.DrawFn) -> list[dict[str, Any]]:
    dims = draw(st.lists(st.sampled_from(list(STEPS)), min_size=1, max_size=4, unique=True))
    return [
        {
            "type": d,
            "price": draw(prices),
            "vat": draw(vats),
            "step_size": draw(st.sampled_from(STEPS[d])),
        }
        for d in dims
    ]


@st.composite
def restrictions(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        a, b = draw(st.lists(st.integers(0, 47), min_size=2, max_size=2, unique=True))
        out["start_time"] = f"{a // 2:02d}:{30 * (a % 2):02d}"
        out["end_time"] = f"{b // 2:02d}:{30 * (b % 2):02d}"
    if draw(st.booleans()):
        out["day_of_week"] = draw(st.lists(st.sampled_from(DAYS), min_size=1, unique=True))
    if draw(st.booleans()):
        low, high = sorted(draw(st.lists(st.integers(0, 60), min_size=2, max_size=2, unique=True)))
        out["min_kwh"], out["max_kwh"] = D(low), D(high)
    if draw(st.booleans()):
        out["max_duration"] = draw(st.integers(60, 4 * 3600))
    if draw(st.booleans()):
        out["min_power"] = D(draw(st.integers(1, 50)))
    return out


@st.composite
def tariffs(draw: st.DrawFn, restricted: bool = True) -> Any:
    count = draw(st.integers(1, 4)) if restricted else 1
    elements: list[dict[str, Any]] = []
    for _ in range(count):
        element: dict[str, Any] = {"price_components": draw(components())}
        if restricted and draw(st.booleans()):
            element["restrictions"] = draw(restrictions())
        elements.append(element)
    data: dict[str, Any] = {
        "country_code": "FR",
        "party_id": "BRN",
        "id": "P",
        "currency": "EUR",
        "elements": elements,
    }
    if restricted and draw(st.booleans()):
        data["min_price"] = {"excl_vat": draw(prices)}
    if restricted and draw(st.booleans()):
        data["max_price"] = {"excl_vat": draw(prices) + 5}
    return parse_tariff(data)


@st.composite
def periods(draw: st.DrawFn, kinds: tuple[str, ...] = ("charge", "park")) -> list[Any]:
    out = []
    for _ in range(draw(st.integers(1, 5))):
        minutes = draw(st.integers(1, 180))
        if draw(st.sampled_from(kinds)) == "charge":
            kwh = draw(st.decimals(min_value=0, max_value=40, places=3))
            out.append(charge(minutes, kwh, power=draw(st.integers(1, 150))))
        else:
            out.append(park(minutes))
    return out


starts = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2024, 12, 31)).map(
    lambda d: d.replace(second=0, microsecond=0, tzinfo=PARIS)
)


def _transfer(priced: PricedSession) -> Decimal:
    """Value (before taxes) of the step_size extras of ``priced``."""
    total = D(0)
    for line in priced.lines:
        if line.price is not None and line.billed_quantity != line.quantity:
            total += (line.billed_quantity - line.quantity) * line.price
    return total


@SETTINGS
@given(tariffs(), starts, periods(), periods())
def test_sum_of_lines_is_the_total_before_limits(t: Any, start: datetime, a: Any, b: Any) -> None:
    priced = price_session(t, session(start, *a, *b), PARIS)
    with localcontext(CONTEXT):  # the engine's precision (50 digits)
        excl = sum((ln.cost.excl for ln in priced.lines if ln.cost.excl is not None), D(0))
        assert priced.total_before_limits_exact.excl == excl
        if priced.total_before_limits_exact.incl is not None:
            incl = sum((ln.cost.incl for ln in priced.lines if ln.cost.incl is not None), D(0))
            assert priced.total_before_limits_exact.incl == incl
    # and the rounded CDR parts add up to the rounded total before limits
    parts = [priced.category_totals[c].excl for c in CostCategory]
    assert sum((p for p in parts if p is not None), D(0)) == priced.total_before_limits.excl


@SETTINGS
@given(tariffs(), starts, periods())
def test_step_rounding_happens_once_per_dimension_group(t: Any, start: datetime, a: Any) -> None:
    priced = price_session(t, session(start, *a), PARIS)
    groups = {
        "ENERGY": {CostCategory.ENERGY},
        "TIME+PARKING_TIME": {CostCategory.TIME, CostCategory.PARKING},
    }
    assert len({s.group for s in priced.steps}) == len(priced.steps)
    for name, categories in groups.items():
        stepped = [
            ln
            for ln in priced.lines
            if ln.category in categories and ln.billed_quantity != ln.quantity
        ]
        assert len(stepped) <= 1, name
        priced_lines = [
            ln
            for ln in priced.lines
            if ln.category in categories
            and ln.element_index is not None
            and ln.quantity > 0
            and ln.dimension is not TariffDimensionType.FLAT
        ]
        if stepped:
            assert stepped[0] is priced_lines[-1]  # the last priced line absorbs it
            (step,) = [s for s in priced.steps if s.group == name]
            unit = D(1000) if step.dimension is TariffDimensionType.ENERGY else D(3600)
            assert D("-1e-9") <= (step.billed - step.measured) * unit < step.step_size


@SETTINGS
@given(tariffs(), starts, periods(), periods())
def test_limits_bound_the_total(t: Any, start: datetime, a: Any, b: Any) -> None:
    priced = price_session(t, session(start, *a, *b), PARIS)
    assert priced.total.excl is not None
    if t.min_price is not None:
        assert priced.total.excl >= t.min_price.before_taxes
    if t.max_price is not None:
        assert priced.total.excl <= t.max_price.before_taxes


@SETTINGS
@given(tariffs(), starts, periods(), periods())
def test_a_longer_session_costs_no_less_except_for_the_step_transfer(
    t: Any, start: datetime, a: Any, b: Any
) -> None:
    """Appending periods never lowers the exact cost before taxes and limits by more than the
    value of the step_size extra billed on the shorter session's last line: the spec's rule
    ("step_size of the last relevant PriceComponent") can move that extra to a cheaper
    component, which is the only way a longer session can be cheaper (see
    test_spec_step_rule_can_make_a_longer_session_cheaper)."""
    short = price_session(t, session(start, *a), PARIS)
    long = price_session(t, session(start, *a, *b), PARIS)
    assert short.total_before_limits_exact.excl is not None
    assert long.total_before_limits_exact.excl is not None
    with localcontext(CONTEXT):
        slack = _transfer(short) + D("1e-19")
        floor = short.total_before_limits_exact.excl - slack
    assert long.total_before_limits_exact.excl >= floor
    assert long.total.excl is not None and short.total.excl is not None
    if not t.min_price and not t.max_price and _transfer(short) == 0:
        assert long.total.excl >= short.total.excl


@SETTINGS
@given(tariffs(restricted=False), starts, periods(("charge",)), periods(("charge",)))
def test_cost_never_decreases_as_energy_or_time_grows(
    t: Any, start: datetime, a: Any, b: Any
) -> None:
    """One price per dimension: more energy or more charging time never costs less, exactly,
    after taxes, and after rounding."""
    short = price_session(t, session(start, *a), PARIS)
    long = price_session(t, session(start, *a, *b), PARIS)
    for side in ("excl", "incl"):
        before, after = getattr(short.total, side), getattr(long.total, side)
        assert before is not None and after is not None
        assert after >= before


@SETTINGS
@given(
    tariffs(restricted=False),
    starts,
    st.decimals(min_value=0, max_value=50, places=3),
    st.decimals(min_value=0, max_value=50, places=3),
    st.integers(1, 300),
)
def test_more_energy_in_the_same_time_never_costs_less(
    t: Any, start: datetime, e1: Decimal, e2: Decimal, minutes: int
) -> None:
    low, high = sorted((e1, e2))
    cheap = price_session(t, session(start, charge(minutes, low)), PARIS)
    dear = price_session(t, session(start, charge(minutes, high)), PARIS)
    assert cheap.total.excl is not None and dear.total.excl is not None
    assert dear.total.excl >= cheap.total.excl


def test_spec_step_rule_can_make_a_longer_session_cheaper() -> None:
    """Not a bug of the engine: under the CDR module's step_size rule, 21 minutes of charging
    alone are billed as 25 (the last time-based line is charging), but followed by 7 minutes of
    parking they are billed as 21 (the parking is now last). With parking much cheaper than
    charging, the longer session costs less."""
    t = parse_tariff(
        {
            "country_code": "FR",
            "party_id": "BRN",
            "id": "S",
            "currency": "EUR",
            "elements": [
                {
                    "price_components": [
                        {"type": "TIME", "price": D(12), "step_size": 300},
                        {"type": "PARKING_TIME", "price": D("0.60"), "step_size": 300},
                    ]
                }
            ],
        }
    )
    start = datetime(2024, 3, 5, 10, tzinfo=PARIS)
    short = price_session(t, session(start, charge(21, 5)), PARIS)
    long = price_session(t, session(start, charge(21, 5), park(7)), PARIS)
    assert short.total.excl == D("5.00")  # 25 min x 12/h
    assert long.total.excl == D("4.30")  # 21 min x 12/h + 10 min x 0.60/h
    assert ChargingPeriod and SessionUsage and timedelta  # re-exported names stay importable
