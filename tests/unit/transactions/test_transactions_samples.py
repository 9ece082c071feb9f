"""Pure rules on sampled values: parsing, units, picking start/stop, plausibility flags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from borne.transactions.cache import TxCache, TxInfo
from borne.transactions.samples import (
    SampleIn,
    Window,
    as_utc,
    assess,
    energy_wh,
    number_text,
    parse_decimal,
    pick_start_wh,
    pick_stop_wh,
)

T = datetime(2024, 1, 1, tzinfo=UTC)


def s(value: str, *, minutes: int = 0, **kw: object) -> SampleIn:
    return SampleIn(T + timedelta(minutes=minutes), value, parse_decimal(value), **kw)  # type: ignore[arg-type]


def test_parse_decimal_is_exact_and_rejects_non_numbers() -> None:
    assert parse_decimal(" 0.1 ") == Decimal("0.1")
    assert parse_decimal("1e3") == Decimal(1000)
    assert parse_decimal("abc") is None
    assert parse_decimal("NaN") is None
    assert parse_decimal("Infinity") is None


def test_energy_normalised_to_wh() -> None:
    assert energy_wh(s("1.5", unit="kWh")) == Decimal(1500)
    assert energy_wh(s("1500")) == Decimal(1500)
    assert energy_wh(s("15", unit="Wh", multiplier=2)) == Decimal(1500)
    assert energy_wh(s("230", measurand="Voltage")) is None
    assert energy_wh(s("10", unit="varh")) is None
    assert energy_wh(s("10", phase="L1")) is None


def test_pick_start_and_stop_prefer_context_then_timestamp() -> None:
    samples = [
        s("5", minutes=5),
        s("2", minutes=1),
        s("9", minutes=9),
        s("1", minutes=3, context="Transaction.Begin"),
    ]
    assert pick_start_wh(samples) == Decimal(1)
    assert pick_stop_wh(samples) == Decimal(9)
    assert pick_stop_wh([*samples, s("7", minutes=2, context="Transaction.End")]) == Decimal(7)
    assert pick_stop_wh([s("1", measurand="SoC")]) is None


def test_assess_flags_by_timestamp_not_arrival() -> None:
    now = T + timedelta(hours=1)
    window = Window(started_at=T, meter_start_wh=Decimal(100))
    result = assess(
        [
            s("200", minutes=10),
            s("150", minutes=5),
            s("180", minutes=20),
            s("50", minutes=30),
            s("x", minutes=31),
            s("1", minutes=60 * 24),
        ],
        now,
        window,
    )
    assert result.flags == [
        [],
        [],
        ["meter_backwards"],
        ["meter_backwards"],
        ["value_not_a_number"],
        ["timestamp_in_future", "meter_backwards"],
    ]
    outside = assess([s("1", minutes=-10)], now, Window(started_at=T))
    assert outside.flags == [["timestamp_outside_transaction"]]


def test_time_helpers() -> None:
    assert as_utc(datetime(2024, 1, 1)) == T
    assert number_text(12.0) == "12" and number_text(0.1) == "0.1"


def test_cache_is_bounded_lru() -> None:
    cache = TxCache(max_entries=2)
    info = TxInfo(pk=1, ended=False, started_at=None, stopped_at=None, meter_start_wh=None)
    cache.put(("a", "1"), info)
    cache.put(("a", "2"), info)
    assert cache.get(("a", "1")) is info
    cache.put(("a", "3"), info)
    assert cache.get(("a", "2")) is None and cache.get(("a", "1")) is info and len(cache) == 2
