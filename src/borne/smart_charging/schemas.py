"""Operator API models of smart charging. Field names follow OCPP in snake_case; the addressing
is the 2.0.1 one (``evse_id``; on a 1.6 station it is the connector, 0 the whole station)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from borne.commands.schemas import CommandOut, ReportOut
from borne.smart_charging.results import CompositeScheduleResult
from borne.smart_charging.validation import (
    ChargingProfile,
    Kind,
    Period,
    Purpose,
    RateUnit,
    RecurrencyKind,
    Schedule,
)

LimitSource = Literal["EMS", "Other", "SO", "CSO"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PeriodIn(Body):
    start_period: int = Field(ge=0, description="seconds from the schedule's start")
    limit: float = Field(ge=0, description="in the schedule's charging_rate_unit (W or A)")
    number_phases: int | None = Field(None, ge=1, le=3)
    phase_to_use: int | None = Field(None, ge=1, le=3, description="2.0.1, numberPhases 1 only")


class ScheduleIn(Body):
    id: int | None = Field(None, ge=0, description="2.0.1; numbered 1.. when absent")
    charging_rate_unit: RateUnit
    periods: list[PeriodIn] = Field(min_length=1, max_length=1024)
    start_schedule: datetime | None = Field(None, description="none for a Relative profile")
    duration: int | None = Field(None, ge=0, description="seconds")
    min_charging_rate: float | None = Field(None, ge=0)


class ChargingProfileIn(Body):
    id: int = Field(0, ge=0, description="0 or absent: the next free id of the station")
    stack_level: int = Field(ge=0)
    purpose: Purpose = Field(description="ChargePointMaxProfile = ChargingStationMaxProfile")
    kind: Kind
    recurrency_kind: RecurrencyKind | None = Field(None, description="Recurring profiles only")
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: str | None = Field(
        None, min_length=1, max_length=36, description="TxProfile only (1.6: an integer)"
    )
    schedules: list[ScheduleIn] = Field(min_length=1, max_length=3, description="1.6: one")

    def profile(self) -> ChargingProfile:
        return ChargingProfile(
            id=self.id,
            stack_level=self.stack_level,
            purpose=self.purpose,
            kind=self.kind,
            recurrency_kind=self.recurrency_kind,
            valid_from=self.valid_from,
            valid_to=self.valid_to,
            transaction_id=self.transaction_id,
            schedules=[
                Schedule(
                    id=s.id,
                    charging_rate_unit=s.charging_rate_unit,
                    start_schedule=s.start_schedule,
                    duration=s.duration,
                    min_charging_rate=s.min_charging_rate,
                    periods=[
                        Period(p.start_period, p.limit, p.number_phases, p.phase_to_use)
                        for p in s.periods
                    ],
                )
                for s in self.schedules
            ],
        )


class SetChargingProfileIn(Body):
    evse_id: int = Field(ge=0, description="0: the whole station; 1.6: the connector")
    charging_profile: ChargingProfileIn


class ClearChargingProfilesIn(Body):
    """By ``profile_id``, or by criteria; nothing at all clears every profile the CSMS may."""

    profile_id: int | None = None
    evse_id: int | None = Field(None, ge=0)
    purpose: Purpose | None = None
    stack_level: int | None = Field(None, ge=0)


class GetChargingProfilesIn(Body):
    request_id: int | None = Field(None, description="generated when absent")
    evse_id: int | None = Field(None, ge=0, description="none: every EVSE")
    purpose: Purpose | None = None
    stack_level: int | None = Field(None, ge=0)
    profile_ids: list[int] | None = None
    limit_sources: list[LimitSource] | None = None


class CompositeScheduleIn(Body):
    evse_id: int = Field(0, ge=0, description="0: the whole station's grid connection")
    duration: int = Field(ge=1, le=7 * 24 * 3600, description="seconds from now")
    charging_rate_unit: RateUnit | None = None


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class StoredProfileOut(Out):
    station_id: str
    evse_id: int
    profile_id: int
    stack_level: int
    purpose: str
    kind: str
    transaction_id: str | None
    valid_from: datetime | None
    valid_to: datetime | None
    ocpp_version: str
    profile: dict[str, Any] = Field(description="as sent to the station (OCPP wire form)")
    set_at: datetime


class SetChargingProfileOut(CommandOut):
    profile_id: int
    stored: StoredProfileOut | None = Field(description="kept only when the station accepted")


class StoredProfilesOut(BaseModel):
    items: list[StoredProfileOut]


class ReportedProfileOut(Out):
    request_id: int
    evse_id: int
    charging_limit_source: str
    profile_id: int
    stack_level: int
    purpose: str
    profile: dict[str, Any]
    received_at: datetime


class ReportedProfilesOut(BaseModel):
    items: list[ReportedProfileOut]


class PeriodOut(Out):
    start_period: int
    limit: float
    number_phases: int | None = None
    phase_to_use: int | None = None


class CompositeScheduleOut(CommandOut):
    evse_id: int | None = None
    schedule_start: datetime | None = None
    duration: int | None = None
    charging_rate_unit: str | None = None
    periods: list[PeriodOut] = Field(default_factory=list)

    @classmethod
    def of_schedule(cls, result: CompositeScheduleResult) -> Self:
        return cls.model_validate(result)


class NoticeOut(Out):
    id: int
    kind: str
    evse_id: int | None
    limit_source: str | None
    payload: dict[str, Any] = Field(description="the station's message as received")
    received_at: datetime


class NoticesOut(BaseModel):
    items: list[NoticeOut]


__all__ = ["CommandOut", "ReportOut"]
