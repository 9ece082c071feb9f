"""OCPP 2.0.1 translator of smart charging (K01 SetChargingProfile, K10 ClearChargingProfile,
K09 GetChargingProfiles, K08 GetCompositeSchedule) and the handlers of what the station sends
on its own (K07 ReportChargingProfiles, K12 NotifyChargingLimit, K13 ClearedChargingLimit,
K15/K17 NotifyEVChargingNeeds, NotifyEVChargingSchedule)."""

from __future__ import annotations

from typing import Any

from borne.commands.ocpp_v201 import new_request_id
from borne.commands.results import CommandResult, ReportResult, base, build, send
from borne.core.deps import Deps
from borne.ocpp.context import CallContext
from borne.ocpp.model_base import OcppModel
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.router import Router
from borne.ocpp.v201 import models as v201
from borne.ocpp.versions import OcppVersion
from borne.smart_charging import models, store
from borne.smart_charging.results import CompositeScheduleResult, SetProfileResult
from borne.smart_charging.validation import ChargingProfile, Period, purpose_for

VERSION = OcppVersion.V201


def _info(answer: Any) -> dict[str, str | None]:
    info: v201.StatusInfoType | None = answer.status_info
    return {
        "reason": None if info is None else info.reason_code,
        "reason_info": None if info is None else info.additional_info,
    }


def _profile(profile: ChargingProfile) -> v201.ChargingProfileType:
    schedules = [
        build(
            v201.ChargingScheduleType,
            id=s.id if s.id is not None else i + 1,
            start_schedule=s.start_schedule,
            duration=s.duration,
            charging_rate_unit=s.charging_rate_unit,
            charging_schedule_period=[
                build(
                    v201.ChargingSchedulePeriodType,
                    start_period=p.start_period,
                    limit=p.limit,
                    number_phases=p.number_phases,
                    phase_to_use=p.phase_to_use,
                )
                for p in s.periods
            ],
            min_charging_rate=s.min_charging_rate,
        )
        for i, s in enumerate(profile.schedules)
    ]
    return build(
        v201.ChargingProfileType,
        id=profile.id,
        stack_level=profile.stack_level,
        charging_profile_purpose=purpose_for(profile.purpose, VERSION),
        charging_profile_kind=profile.kind,
        recurrency_kind=profile.recurrency_kind,
        valid_from=profile.valid_from,
        valid_to=profile.valid_to,
        charging_schedule=schedules,
        transaction_id=profile.transaction_id,
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
    request = build(v201.SetChargingProfileRequest, evse_id=evse_id, charging_profile=wire)
    answer = await send(
        outbound, station_id, request, v201.SetChargingProfileResponse, call_timeout
    )
    return SetProfileResult(
        **base(station_id, VERSION, "SetChargingProfile", answer, answer.status, **_info(answer)),
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
    criteria = None
    if evse_id is not None or purpose is not None or stack_level is not None:
        criteria = build(
            v201.ClearChargingProfileType,
            evse_id=evse_id,
            charging_profile_purpose=None if purpose is None else purpose_for(purpose, VERSION),
            stack_level=stack_level,
        )
    request = build(
        v201.ClearChargingProfileRequest,
        charging_profile_id=profile_id,
        charging_profile_criteria=criteria,
    )
    answer = await send(
        outbound, station_id, request, v201.ClearChargingProfileResponse, call_timeout
    )
    return CommandResult(
        **base(station_id, VERSION, "ClearChargingProfile", answer, answer.status, **_info(answer))
    )


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
        v201.GetCompositeScheduleRequest,
        evse_id=evse_id,
        duration=duration,
        charging_rate_unit=charging_rate_unit,
    )
    answer = await send(
        outbound, station_id, request, v201.GetCompositeScheduleResponse, call_timeout
    )
    s = answer.schedule
    return CompositeScheduleResult(
        **base(station_id, VERSION, "GetCompositeSchedule", answer, answer.status, **_info(answer)),
        evse_id=None if s is None else s.evse_id,
        schedule_start=None if s is None else s.schedule_start,
        duration=None if s is None else s.duration,
        charging_rate_unit=None if s is None else s.charging_rate_unit,
        periods=[]
        if s is None
        else [
            Period(p.start_period, p.limit, p.number_phases, p.phase_to_use)
            for p in s.charging_schedule_period
        ],
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
    rid = request_id if request_id is not None else new_request_id()
    criterion = build(
        v201.ChargingProfileCriterionType,
        charging_profile_purpose=None if purpose is None else purpose_for(purpose, VERSION),
        stack_level=stack_level,
        charging_profile_id=profile_ids or None,
        charging_limit_source=limit_sources or None,
    )
    request = build(
        v201.GetChargingProfilesRequest,
        request_id=rid,
        evse_id=evse_id,
        charging_profile=criterion,
    )
    answer = await send(
        outbound, station_id, request, v201.GetChargingProfilesResponse, call_timeout
    )
    return ReportResult(
        **base(station_id, VERSION, "GetChargingProfiles", answer, answer.status, **_info(answer)),
        request_id=rid,
    )


# ----------------------------------------------------------------- station-initiated messages


class _Handlers:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def _notice(
        self,
        ctx: CallContext,
        kind: str,
        req: OcppModel,
        evse_id: int | None,
        source: str | None = None,
    ) -> None:
        async with self.deps.db.unit_of_work() as uow:
            await store.record_notice(
                uow,
                station_id=ctx.station_id,
                kind=kind,
                evse_id=evse_id,
                limit_source=source,
                payload=req.to_payload(),
                received_at=ctx.received_at,
            )
            await uow.commit()

    async def report_charging_profiles(
        self, ctx: CallContext, req: v201.ReportChargingProfilesRequest
    ) -> v201.ReportChargingProfilesResponse:
        async with self.deps.db.unit_of_work() as uow:
            await store.store_reported_profiles(
                uow,
                station_id=ctx.station_id,
                request_id=req.request_id,
                evse_id=req.evse_id,
                limit_source=req.charging_limit_source,
                profiles=[p.to_payload() for p in req.charging_profile],
                received_at=ctx.received_at,
            )
            await uow.commit()
        return v201.ReportChargingProfilesResponse()

    async def notify_charging_limit(
        self, ctx: CallContext, req: v201.NotifyChargingLimitRequest
    ) -> v201.NotifyChargingLimitResponse:
        source = req.charging_limit.charging_limit_source
        await self._notice(ctx, models.CHARGING_LIMIT, req, req.evse_id, source)
        return v201.NotifyChargingLimitResponse()

    async def cleared_charging_limit(
        self, ctx: CallContext, req: v201.ClearedChargingLimitRequest
    ) -> v201.ClearedChargingLimitResponse:
        source = req.charging_limit_source
        await self._notice(ctx, models.CLEARED_CHARGING_LIMIT, req, req.evse_id, source)
        return v201.ClearedChargingLimitResponse()

    async def notify_ev_charging_needs(
        self, ctx: CallContext, req: v201.NotifyEVChargingNeedsRequest
    ) -> v201.NotifyEVChargingNeedsResponse:
        await self._notice(ctx, models.EV_CHARGING_NEEDS, req, req.evse_id)
        # Stored for the smart-charging decisions of a later issue; until then no schedule
        # follows, which K15 allows the CSMS to say with Accepted (the EV keeps its own plan).
        return v201.NotifyEVChargingNeedsResponse(status="Accepted")

    async def notify_ev_charging_schedule(
        self, ctx: CallContext, req: v201.NotifyEVChargingScheduleRequest
    ) -> v201.NotifyEVChargingScheduleResponse:
        await self._notice(ctx, models.EV_CHARGING_SCHEDULE, req, req.evse_id)
        return v201.NotifyEVChargingScheduleResponse(status="Accepted")


def register(router: Router, deps: Deps) -> None:
    """Serve the 2.0.1 smart-charging messages a station sends on its own."""
    h = _Handlers(deps)
    router.register("ReportChargingProfiles", h.report_charging_profiles)
    router.register("NotifyChargingLimit", h.notify_charging_limit)
    router.register("ClearedChargingLimit", h.cleared_charging_limit)
    router.register("NotifyEVChargingNeeds", h.notify_ev_charging_needs)
    router.register("NotifyEVChargingSchedule", h.notify_ev_charging_schedule)
