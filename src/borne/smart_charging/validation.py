"""A charging profile as Borne understands it, and the OCPP rules checked before it is sent.

The schema of each version already bounds the types; these are the rules between fields that
the schemas cannot say (OCPP 1.6 §3.13 / 7.8, OCPP 2.0.1 K01). Every broken rule is reported at
once as ``InvalidInput`` (422) with ``details.errors`` ``[{"loc": [...], "message": ...}]``, so a
profile the station would refuse never leaves Borne.

Purposes: the 1.6 ``ChargePointMaxProfile`` and the 2.0.1 ``ChargingStationMaxProfile`` are the
same profile under two names; either name is taken and sent under the station's version's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from borne.core.errors import InvalidInput
from borne.ocpp.versions import OcppVersion

Purpose = Literal[
    "ChargePointMaxProfile",
    "ChargingStationMaxProfile",
    "TxDefaultProfile",
    "TxProfile",
    "ChargingStationExternalConstraints",
]
Kind = Literal["Absolute", "Recurring", "Relative"]
RecurrencyKind = Literal["Daily", "Weekly"]
RateUnit = Literal["W", "A"]

MAX_PURPOSES = frozenset({"ChargePointMaxProfile", "ChargingStationMaxProfile"})
_RECURRENCE_S = {"Daily": 24 * 3600, "Weekly": 7 * 24 * 3600}


@dataclass(frozen=True)
class Period:
    start_period: int  # seconds from the schedule's start
    limit: float  # in the schedule's unit
    number_phases: int | None = None
    phase_to_use: int | None = None  # 2.0.1 only


@dataclass(frozen=True)
class Schedule:
    charging_rate_unit: RateUnit
    periods: list[Period]
    id: int | None = None  # 2.0.1: numbered 1.. in order when absent
    start_schedule: datetime | None = None
    duration: int | None = None
    min_charging_rate: float | None = None


@dataclass(frozen=True)
class ChargingProfile:
    id: int
    stack_level: int
    purpose: Purpose
    kind: Kind
    schedules: list[Schedule] = field(default_factory=list)
    recurrency_kind: RecurrencyKind | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: str | None = None


def purpose_for(purpose: str, version: OcppVersion) -> str:
    """The name the station's version gives to ``purpose``."""
    if purpose in MAX_PURPOSES:
        return (
            "ChargePointMaxProfile" if version is OcppVersion.V16 else "ChargingStationMaxProfile"
        )
    return purpose


class _Errors:
    def __init__(self) -> None:
        self.items: list[dict[str, object]] = []

    def add(self, loc: list[str | int], message: str) -> None:
        self.items.append({"loc": loc, "message": message})


def validate(profile: ChargingProfile, *, evse_id: int, version: OcppVersion) -> None:
    """Raise ``InvalidInput`` listing every rule ``profile`` breaks for ``evse_id``."""
    e = _Errors()
    p = ["charging_profile"]
    purpose = purpose_for(profile.purpose, version)
    if profile.id < 1:
        e.add([*p, "id"], "a profile id is a positive integer")
    if profile.stack_level < 0:
        e.add([*p, "stack_level"], "stackLevel is 0 or more")
    if evse_id < 0:
        e.add(["evse_id"], "evse_id is 0 (the whole station) or an EVSE/connector number")
    if purpose == "ChargingStationExternalConstraints":
        e.add(
            [*p, "purpose"],
            "ChargingStationExternalConstraints profiles are set by external systems, never by "
            "the CSMS (OCPP 2.0.1 K01.FR.22)",
        )
    if version is OcppVersion.V16 and profile.purpose == "ChargingStationExternalConstraints":
        e.add([*p, "purpose"], "not an OCPP 1.6 purpose")
    if profile.purpose in MAX_PURPOSES and evse_id != 0:
        e.add(["evse_id"], f"a {purpose} applies to the whole station: evse_id must be 0")
    if purpose == "TxProfile":
        if not profile.transaction_id:
            e.add([*p, "transaction_id"], "a TxProfile needs the transaction it applies to")
        if evse_id == 0:
            e.add(["evse_id"], "a TxProfile applies to one EVSE/connector: evse_id must be > 0")
    elif profile.transaction_id is not None:
        e.add([*p, "transaction_id"], "only a TxProfile names a transaction")
    if (
        version is OcppVersion.V16
        and profile.transaction_id is not None
        and not profile.transaction_id.lstrip("-").isdigit()
    ):
        e.add([*p, "transaction_id"], "an OCPP 1.6 transactionId is an integer")
    _check_kind(profile, e, p)
    if profile.valid_from and profile.valid_to and profile.valid_from >= profile.valid_to:
        e.add([*p, "valid_to"], "validTo must be after validFrom")
    _check_schedules(profile, version, e, p)
    if e.items:
        raise InvalidInput("invalid charging profile", details={"errors": e.items})


def _check_kind(profile: ChargingProfile, e: _Errors, p: list[str]) -> None:
    if profile.kind == "Recurring" and profile.recurrency_kind is None:
        e.add([*p, "recurrency_kind"], "a Recurring profile needs recurrencyKind (Daily/Weekly)")
    if profile.kind != "Recurring" and profile.recurrency_kind is not None:
        e.add([*p, "recurrency_kind"], "recurrencyKind only goes with a Recurring profile")
    for i, s in enumerate(profile.schedules):
        loc: list[str | int] = [*p, "schedules", i, "start_schedule"]
        if profile.kind == "Relative" and s.start_schedule is not None:
            e.add(loc, "a Relative profile has no startSchedule: it starts with the transaction")
        if profile.kind != "Relative" and s.start_schedule is None:
            e.add(loc, f"an {profile.kind} profile needs startSchedule")
        recurrence = _RECURRENCE_S.get(profile.recurrency_kind or "")
        if profile.kind == "Recurring" and recurrence and (s.duration or 0) > recurrence:
            e.add(
                [*p, "schedules", i, "duration"],
                f"a {profile.recurrency_kind} schedule lasts at most {recurrence} s",
            )


def _check_schedules(
    profile: ChargingProfile, version: OcppVersion, e: _Errors, p: list[str]
) -> None:
    most = 1 if version is OcppVersion.V16 else 3
    if not 1 <= len(profile.schedules) <= most:
        e.add([*p, "schedules"], f"{version} takes 1 to {most} charging schedule(s)")
    ids = [s.id for s in profile.schedules if s.id is not None]
    if len(ids) != len(set(ids)):
        e.add([*p, "schedules"], "schedule ids must differ")
    for i, s in enumerate(profile.schedules):
        loc: list[str | int] = [*p, "schedules", i]
        if s.duration is not None and s.duration < 0:
            e.add([*loc, "duration"], "duration is 0 or more seconds")
        if s.min_charging_rate is not None and s.min_charging_rate < 0:
            e.add([*loc, "min_charging_rate"], "minChargingRate is 0 or more")
        if not s.periods:
            e.add([*loc, "periods"], "a schedule has at least one period")
        elif s.periods[0].start_period != 0:
            e.add([*loc, "periods", 0, "start_period"], "the first period starts at 0")
        for j, (a, b) in enumerate(zip(s.periods, s.periods[1:], strict=False)):
            if b.start_period <= a.start_period:
                e.add(
                    [*loc, "periods", j + 1, "start_period"],
                    "periods start in strictly increasing order",
                )
        for j, period in enumerate(s.periods):
            _check_period(period, version, e, [*loc, "periods", j])


def _check_period(period: Period, version: OcppVersion, e: _Errors, loc: list[str | int]) -> None:
    if period.limit < 0:
        e.add([*loc, "limit"], "a limit is 0 or more")
    if period.number_phases is not None and not 1 <= period.number_phases <= 3:
        e.add([*loc, "number_phases"], "numberPhases is 1, 2 or 3")
    if period.phase_to_use is not None:
        if version is OcppVersion.V16:
            e.add([*loc, "phase_to_use"], "phaseToUse does not exist in OCPP 1.6")
        elif period.number_phases != 1 or not 1 <= period.phase_to_use <= 3:
            e.add([*loc, "phase_to_use"], "phaseToUse (1-3) only goes with numberPhases 1")
