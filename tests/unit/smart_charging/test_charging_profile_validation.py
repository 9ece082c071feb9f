"""The OCPP rules a charging profile must follow before Borne sends it."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from borne.core.errors import InvalidInput
from borne.ocpp.versions import OcppVersion
from borne.smart_charging.validation import (
    ChargingProfile,
    Period,
    Schedule,
    purpose_for,
    validate,
)

V16, V201 = OcppVersion.V16, OcppVersion.V201
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def schedule(**kw: Any) -> Schedule:
    fields: dict[str, Any] = {
        "charging_rate_unit": "A",
        "periods": [Period(0, 32.0), Period(3600, 16.0)],
        "start_schedule": T0,
    }
    fields.update(kw)
    return Schedule(**fields)


def profile(**kw: Any) -> ChargingProfile:
    fields: dict[str, Any] = {
        "id": 1,
        "stack_level": 0,
        "purpose": "TxDefaultProfile",
        "kind": "Absolute",
        "schedules": [schedule()],
    }
    fields.update(kw)
    return ChargingProfile(**fields)


def errors(p: ChargingProfile, evse_id: int = 1, version: OcppVersion = V201) -> list[str]:
    with pytest.raises(InvalidInput) as info:
        validate(p, evse_id=evse_id, version=version)
    return [e["message"] for e in info.value.details["errors"]]


@pytest.mark.parametrize("version", [V16, V201])
def test_valid_profiles_pass(version: OcppVersion) -> None:
    validate(profile(), evse_id=1, version=version)
    validate(
        profile(kind="Recurring", recurrency_kind="Daily", schedules=[schedule(duration=86400)]),
        evse_id=0,
        version=version,
    )
    validate(
        profile(kind="Relative", schedules=[schedule(start_schedule=None)]),
        evse_id=2,
        version=version,
    )
    validate(profile(purpose="TxProfile", transaction_id="42"), evse_id=1, version=version)
    validate(profile(purpose="ChargePointMaxProfile"), evse_id=0, version=version)
    validate(profile(purpose="ChargingStationMaxProfile"), evse_id=0, version=version)


def test_max_profile_names_follow_the_station_version() -> None:
    assert purpose_for("ChargingStationMaxProfile", V16) == "ChargePointMaxProfile"
    assert purpose_for("ChargePointMaxProfile", V201) == "ChargingStationMaxProfile"
    assert purpose_for("TxProfile", V16) == "TxProfile"


def test_recurring_needs_recurrency_kind_and_only_it_has_one() -> None:
    assert any("recurrencyKind" in m for m in errors(profile(kind="Recurring")))
    assert any("only goes with" in m for m in errors(profile(recurrency_kind="Weekly")))


def test_relative_has_no_start_schedule_and_absolute_needs_one() -> None:
    assert any("Relative" in m for m in errors(profile(kind="Relative")))
    no_start = profile(schedules=[schedule(start_schedule=None)])
    assert any("needs startSchedule" in m for m in errors(no_start))


def test_recurring_schedule_fits_its_recurrence() -> None:
    p = profile(kind="Recurring", recurrency_kind="Daily", schedules=[schedule(duration=90000)])
    assert any("at most 86400" in m for m in errors(p))


def test_periods_start_at_zero_and_increase() -> None:
    late = profile(schedules=[schedule(periods=[Period(10, 1.0)])])
    back = profile(schedules=[schedule(periods=[Period(0, 1.0), Period(60, 1.0), Period(60, 2)])])
    empty = profile(schedules=[schedule(periods=[])])
    assert errors(late) == ["the first period starts at 0"]
    assert errors(back) == ["periods start in strictly increasing order"]
    assert errors(empty) == ["a schedule has at least one period"]


def test_period_values() -> None:
    p = profile(schedules=[schedule(periods=[Period(0, -1.0, 4, 2)])])
    msgs = errors(p)
    assert "a limit is 0 or more" in msgs
    assert "numberPhases is 1, 2 or 3" in msgs
    assert any("phaseToUse" in m for m in msgs)
    assert any("does not exist in OCPP 1.6" in m for m in errors(p, version=V16))


def test_tx_profile_needs_a_transaction_on_one_evse() -> None:
    msgs = errors(profile(purpose="TxProfile"), evse_id=0)
    assert any("needs the transaction" in m for m in msgs)
    assert any("evse_id must be > 0" in m for m in msgs)
    assert any("only a TxProfile" in m for m in errors(profile(transaction_id="7")))
    on_16 = profile(purpose="TxProfile", transaction_id="abc")
    assert any("integer" in m for m in errors(on_16, version=V16))


def test_station_max_profile_is_for_the_whole_station() -> None:
    assert any("evse_id must be 0" in m for m in errors(profile(purpose="ChargePointMaxProfile")))


def test_external_constraints_are_never_set_by_the_csms() -> None:
    p = profile(purpose="ChargingStationExternalConstraints")
    assert any("K01.FR.22" in m for m in errors(p))
    assert any("not an OCPP 1.6 purpose" in m for m in errors(p, version=V16))


def test_schedule_count_per_version() -> None:
    two = profile(schedules=[schedule(id=1), schedule(id=2)])
    validate(two, evse_id=1, version=V201)
    assert any("1 to 1" in m for m in errors(two, version=V16))
    four = profile(schedules=[schedule(id=i) for i in range(4)])
    assert any("1 to 3" in m for m in errors(four))
    same = profile(schedules=[schedule(id=1), schedule(id=1)])
    assert "schedule ids must differ" in errors(same)


def test_validity_and_numbers() -> None:
    p = dataclasses.replace(profile(), id=0, stack_level=-1, valid_from=T0, valid_to=T0)
    msgs = errors(p, evse_id=-1)
    assert len(msgs) == 4


def test_every_broken_rule_is_reported_with_its_location() -> None:
    p = profile(kind="Relative", schedules=[schedule(periods=[Period(5, 1.0)])])
    with pytest.raises(InvalidInput) as info:
        validate(p, evse_id=1, version=V201)
    locs = [e["loc"] for e in info.value.details["errors"]]
    assert ["charging_profile", "schedules", 0, "start_schedule"] in locs
    assert ["charging_profile", "schedules", 0, "periods", 0, "start_period"] in locs
