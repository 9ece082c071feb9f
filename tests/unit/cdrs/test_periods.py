"""Segmentation rules of ``borne.cdrs.periods`` (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from borne.cdrs.periods import (
    Instant,
    MeterData,
    Reading,
    StateChange,
    Thresholds,
    segment,
)

T0 = datetime(2025, 1, 15, 16, 0, tzinfo=UTC)


def m(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def kinds(data: MeterData, thresholds: Thresholds | None = None) -> list[tuple[str, str, D]]:
    seg = segment(data, thresholds)
    return [(s.start.strftime("%H:%M"), s.kind, s.energy_wh) for s in seg.segments]


def test_readings_are_ordered_by_timestamp_not_arrival() -> None:
    late_first = [Reading(m(60), D(6000)), Reading(m(30), D(3000))]
    data = MeterData(m(0), m(60), D(0), D(6000), readings=late_first)
    # 6 kW average in both halves: one period without a power threshold to tell them apart
    assert kinds(data) == [("16:00", "charging", D(6000))]
    # a late first reading is still the first by time: 3 kWh in each half
    data = MeterData(
        m(0), m(60), D(0), D(7000),
        readings=late_first, power_w=[Instant(m(30), D(6000)), Instant(m(60), D(8000))],
    )  # fmt: skip
    assert kinds(data, Thresholds(max_power=frozenset({D(7)}))) == [
        ("16:00", "charging", D(3000)),
        ("16:30", "charging", D(4000)),
    ]


def test_energy_stops_flowing_means_parking() -> None:
    data = MeterData(
        m(0), m(60), D(100), D(4100),
        readings=[Reading(m(20), D(4100)), Reading(m(40), D(4100))],
    )  # fmt: skip
    assert kinds(data) == [("16:00", "charging", D(4000)), ("16:20", "parking", D(0))]
    seg = segment(data)
    usage = seg.usage()
    assert round(usage.periods[1].parking_h * 60, 20) == 40 and usage.periods[1].time_h == 0
    assert round(usage.periods[0].time_h * 60, 20) == 20


def test_energy_between_readings_goes_to_the_charging_part_only() -> None:
    # one reading stretch 16:00-17:00 with 6 kWh, the EV suspended from 16:30
    data = MeterData(m(0), m(60), D(0), D(6000), states=[StateChange(m(30), charging=False)])
    assert kinds(data) == [("16:00", "charging", D(6000)), ("16:30", "parking", D(0))]


def test_the_meter_wins_over_a_suspended_state() -> None:
    data = MeterData(m(0), m(60), D(0), D(6000), states=[StateChange(m(-5), charging=False)])
    assert kinds(data) == [("16:00", "charging", D(6000))]


def test_a_lower_reading_is_clamped_never_negative() -> None:
    data = MeterData(
        m(0), m(30), D(0), D(3000),
        readings=[Reading(m(10), D(2000)), Reading(m(20), D(1500))],
    )  # fmt: skip
    seg = segment(data)
    assert all(s.energy_wh >= 0 for s in seg.segments)
    assert seg.energy_wh == D(3000)
    assert any("clamped" in n for n in seg.notes)


def test_without_readings_states_decide() -> None:
    data = MeterData(m(0), m(60), states=[StateChange(m(45), charging=False)])
    assert kinds(data) == [("16:00", "charging", D(0)), ("16:45", "parking", D(0))]
    assert any("no energy reading" in n for n in segment(data).notes)


def test_power_restriction_thresholds_keep_periods_apart() -> None:
    data = MeterData(
        m(0), m(20), D(0), D(3000),
        readings=[Reading(m(10), D(1000))],
        power_w=[Instant(m(10), D(6000)), Instant(m(20), D(12000))],
    )  # fmt: skip
    merged = segment(data)
    assert len(merged.segments) == 1 and merged.segments[0].max_power == D(12)
    split = segment(data, Thresholds(max_power=frozenset({D(11)})))
    assert [(s.min_power, s.max_power) for s in split.segments] == [(D(6), D(6)), (D(12), D(12))]


def test_average_power_without_samples_and_phase_free_current() -> None:
    data = MeterData(
        m(0), m(30), D(0), D(5500), current_a=[Instant(m(15), D(24)), Instant(m(30), D(16))]
    )
    [s] = segment(data).segments
    assert s.max_power == D(11) and s.min_power == D(11)  # 5.5 kWh in 0.5 h
    assert (s.min_current, s.max_current) == (D(16), D(24))


def test_readings_outside_the_window_are_clipped() -> None:
    data = MeterData(
        m(0), m(30), None, None, readings=[Reading(m(-1), D(10)), Reading(m(31), D(510))]
    )
    seg = segment(data)
    assert seg.energy_wh == D(500)
    assert seg.segments[0].start == m(0) and seg.end == m(30)
