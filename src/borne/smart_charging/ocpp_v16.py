"""OCPP 1.6 translator of smart charging: SetChargingProfile, ClearChargingProfile,
GetCompositeSchedule (1.6 has no GetChargingProfiles). A 2.0.1 EVSE is a 1.6 connector."""

from __future__ import annotations

from borne.commands.results import CommandResult, ReportResult, base, build, send
from borne.core.errors import InvalidInput
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.v16 import models as v16
from borne.ocpp.versions import OcppVersion
from borne.smart_charging.results import CompositeScheduleResult, SetProfileResult
from borne.smart_charging.validation import ChargingProfile, Period, purpose_for

VERSION = OcppVersion.V16


def _profile(profile: ChargingProfile) -> v16.CsChargingProfiles:
    s = profile.schedules[0]
    schedule = build(
        v16.ChargingSchedule,
        duration=s.duration,
        start_schedule=s.start_schedule,
        charging_rate_unit=s.charging_rate_unit,
        charging_schedule_period=[
            build(
                v16.ChargingSchedulePeriod,
                start_period=p.start_period,
                limit=p.limit,
                number_phases=p.number_phases,
            )
            for p in s.periods
        ],
        min_charging_rate=s.min_charging_rate,
    )
    return build(
        v16.CsChargingProfiles,
        charging_profile_id=profile.id,
        transaction_id=None if profile.transaction_id is None else int(profile.transaction_id),
        stack_level=profile.stack_level,
        charging_profile_purpose=purpose_for(profile.purpose, VERSION),
        charging_profile_kind=profile.kind,
        recurrency_kind=profile.recurrency_kind,
        valid_from=profile.valid_from,
        valid_to=profile.valid_to,
        charging_schedule=schedule,
    )


async def set_charging_profile(
    outbound: OcppOutbound,
    station_id: str,
    *,
    evse_id: int,
    profile: ChargingProfile,
    call_timeout: float | None,
) -> SetProfileResult:
    wire = _profile(profile)
    request = build(v16.SetChargingProfileRequest, connector_id=evse_id, cs_charging_profiles=wire)
    answer = await send(outbound, station_id, request, v16.SetChargingProfileResponse, call_timeout)
    return SetProfileResult(
        **base(station_id, VERSION, "SetChargingProfile", answer, answer.status),
        profile=wire.to_payload(),
    )


async def clear_charging_profile(
    outbound: OcppOutbound,
    station_id: str,
    *,
    profile_id: int | None,
    evse_id: int | None,
    purpose: str | None,
    stack_level: int | None,
    call_timeout: float | None,
) -> CommandResult:
    if purpose == "ChargingStationExternalConstraints":
        raise InvalidInput("ChargingStationExternalConstraints is not an OCPP 1.6 purpose")
    request = build(
        v16.ClearChargingProfileRequest,
        id=profile_id,
        connector_id=evse_id,
        charging_profile_purpose=None if purpose is None else purpose_for(purpose, VERSION),
        stack_level=stack_level,
    )
    answer = await send(
        outbound, station_id, request, v16.ClearChargingProfileResponse, call_timeout
    )
    return CommandResult(**base(station_id, VERSION, "ClearChargingProfile", answer, answer.status))


async def get_composite_schedule(
    outbound: OcppOutbound,
    station_id: str,
    *,
    evse_id: int,
    duration: int,
    charging_rate_unit: str | None,
    call_timeout: float | None,
) -> CompositeScheduleResult:
    request = build(
        v16.GetCompositeScheduleRequest,
        connector_id=evse_id,
        duration=duration,
        charging_rate_unit=charging_rate_unit,
    )
    answer = await send(
        outbound, station_id, request, v16.GetCompositeScheduleResponse, call_timeout
    )
    s = answer.charging_schedule
    return CompositeScheduleResult(
        **base(station_id, VERSION, "GetCompositeSchedule", answer, answer.status),
        evse_id=answer.connector_id,
        schedule_start=answer.schedule_start or (None if s is None else s.start_schedule),
        duration=None if s is None else s.duration,
        charging_rate_unit=None if s is None else s.charging_rate_unit,
        periods=[]
        if s is None
        else [Period(p.start_period, p.limit, p.number_phases) for p in s.charging_schedule_period],
    )


async def get_charging_profiles(
    outbound: OcppOutbound,
    station_id: str,
    *,
    request_id: int | None,
    evse_id: int | None,
    purpose: str | None,
    stack_level: int | None,
    profile_ids: list[int] | None,
    limit_sources: list[str] | None,
    call_timeout: float | None,
) -> ReportResult:
    raise InvalidInput(
        "GetChargingProfiles does not exist in OCPP 1.6: the profiles Borne set are listed by "
        "GET /stations/{id}/charging-profiles"
    )
