"""Operator API of smart charging, under ``/api/v1/stations/{station_id}``.

- ``POST   /charging-profiles``: validate (422 before anything is sent), send
  SetChargingProfile, keep it if the station accepted it.
- ``GET    /charging-profiles``: the profiles Borne set and the station accepted.
- ``DELETE /charging-profiles``: ClearChargingProfile by id or criteria (query parameters).
- ``POST   /charging-profiles/report``: GetChargingProfiles (2.0.1); the station's
  ReportChargingProfiles parts are read with ``GET /charging-profiles/reported``.
- ``GET    /composite-schedule``: GetCompositeSchedule, the station's answer (nothing stored).
- ``GET    /charging-limits``, ``/ev-charging-needs``, ``/ev-charging-schedules``: what 2.0.1
  stations reported on their own, newest first.

Station commands answer 409 (not connected), 422, 502, 503, 504 as the other commands do.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from borne.api_context import ApiContext, get_context
from borne.api_errors import error_responses
from borne.core.errors import NotFound
from borne.core.uow import UnitOfWork
from borne.smart_charging import models, service, store
from borne.smart_charging.schemas import (
    ChargingProfileIn,
    CommandOut,
    CompositeScheduleOut,
    GetChargingProfilesIn,
    NoticeOut,
    NoticesOut,
    ReportedProfileOut,
    ReportedProfilesOut,
    ReportOut,
    SetChargingProfileIn,
    SetChargingProfileOut,
    StoredProfileOut,
    StoredProfilesOut,
)
from borne.smart_charging.validation import Purpose, RateUnit
from borne.stations.models import Station

StationId = Annotated[
    str, Path(min_length=1, max_length=48, pattern=r"^[^:]+$", description="station identity")
]
Context = Annotated[ApiContext, Depends(get_context)]
Limit = Annotated[int, Query(ge=1, le=1000, description="newest first, at most this many")]

router = APIRouter(prefix="/stations/{station_id}", tags=["smart charging"])
_COMMAND_ERRORS = error_responses(401, 409, 422, 502, 503, 504)
_READ_ERRORS = error_responses(401, 404, 422)


async def _known(uow: UnitOfWork, station_id: str) -> None:
    if await uow.session.get(Station, station_id) is None:
        raise NotFound(f"station {station_id} not found", details={"station_id": station_id})


@router.post(
    "/charging-profiles",
    summary="Set a charging profile on the station",
    responses=_COMMAND_ERRORS,
)
async def set_charging_profile(
    station_id: StationId, body: SetChargingProfileIn, ctx: Context
) -> SetChargingProfileOut:
    outcome = await service.set_charging_profile(
        ctx.deps,
        ctx.outbound,
        station_id,
        evse_id=body.evse_id,
        profile=body.charging_profile.profile(),
    )
    out = CommandOut.of(outcome.result)
    return SetChargingProfileOut(
        **out.model_dump(),
        profile_id=int(
            outcome.result.profile.get("id", outcome.result.profile.get("chargingProfileId", 0))
        ),
        stored=None if outcome.stored is None else StoredProfileOut.model_validate(outcome.stored),
    )


@router.get(
    "/charging-profiles",
    summary="The charging profiles Borne set and the station accepted",
    responses=_READ_ERRORS,
)
async def list_charging_profiles(
    station_id: StationId,
    ctx: Context,
    evse_id: Annotated[int | None, Query(ge=0)] = None,
) -> StoredProfilesOut:
    async with ctx.deps.db.unit_of_work() as uow:
        await _known(uow, station_id)
        rows = await store.list_profiles(uow.session, station_id, evse_id)
        return StoredProfilesOut(items=[StoredProfileOut.model_validate(r) for r in rows])


@router.delete(
    "/charging-profiles",
    summary="Clear charging profiles by id or criteria (ClearChargingProfile)",
    responses=_COMMAND_ERRORS,
)
async def clear_charging_profiles(
    station_id: StationId,
    ctx: Context,
    *,
    profile_id: Annotated[int | None, Query()] = None,
    evse_id: Annotated[int | None, Query(ge=0)] = None,
    purpose: Annotated[Purpose | None, Query()] = None,
    stack_level: Annotated[int | None, Query(ge=0)] = None,
) -> CommandOut:
    result = await service.clear_charging_profile(
        ctx.deps,
        ctx.outbound,
        station_id,
        profile_id=profile_id,
        evse_id=evse_id,
        purpose=purpose,
        stack_level=stack_level,
    )
    return CommandOut.of(result)


@router.post(
    "/charging-profiles/report",
    summary="Ask the station for its charging profiles (GetChargingProfiles, OCPP 2.0.1)",
    responses=_COMMAND_ERRORS,
)
async def get_charging_profiles(
    station_id: StationId, body: GetChargingProfilesIn, ctx: Context
) -> ReportOut:
    result = await service.get_charging_profiles(
        ctx.outbound,
        station_id,
        request_id=body.request_id,
        evse_id=body.evse_id,
        purpose=body.purpose,
        stack_level=body.stack_level,
        profile_ids=body.profile_ids,
        limit_sources=body.limit_sources,
    )
    return ReportOut.of(result)


@router.get(
    "/charging-profiles/reported",
    summary="The profiles the station reported (ReportChargingProfiles)",
    responses=_READ_ERRORS,
)
async def list_reported_profiles(
    station_id: StationId,
    ctx: Context,
    request_id: Annotated[int | None, Query(description="none: the latest request")] = None,
) -> ReportedProfilesOut:
    async with ctx.deps.db.unit_of_work() as uow:
        await _known(uow, station_id)
        rows = await store.list_reported(uow.session, station_id, request_id)
        return ReportedProfilesOut(items=[ReportedProfileOut.model_validate(r) for r in rows])


@router.get(
    "/composite-schedule",
    summary="The schedule the station will follow (GetCompositeSchedule)",
    responses=_COMMAND_ERRORS,
)
async def composite_schedule(
    station_id: StationId,
    ctx: Context,
    duration: Annotated[int, Query(ge=1, le=7 * 24 * 3600, description="seconds from now")],
    evse_id: Annotated[int, Query(ge=0, description="0: the whole station")] = 0,
    charging_rate_unit: Annotated[RateUnit | None, Query()] = None,
) -> CompositeScheduleOut:
    result = await service.get_composite_schedule(
        ctx.outbound,
        station_id,
        evse_id=evse_id,
        duration=duration,
        charging_rate_unit=charging_rate_unit,
    )
    return CompositeScheduleOut.of_schedule(result)


async def _notices(
    ctx: ApiContext, station_id: str, kinds: tuple[str, ...], limit: int
) -> NoticesOut:
    async with ctx.deps.db.unit_of_work() as uow:
        await _known(uow, station_id)
        rows = await store.list_notices(uow.session, station_id, kinds, limit)
        return NoticesOut(items=[NoticeOut.model_validate(r) for r in rows])


@router.get(
    "/charging-limits",
    summary="External charging limits set and cleared (NotifyChargingLimit, ClearedChargingLimit)",
    responses=_READ_ERRORS,
)
async def charging_limits(station_id: StationId, ctx: Context, limit: Limit = 100) -> NoticesOut:
    kinds = (models.CHARGING_LIMIT, models.CLEARED_CHARGING_LIMIT)
    return await _notices(ctx, station_id, kinds, limit)


@router.get(
    "/ev-charging-needs",
    summary="What EVs said they need (NotifyEVChargingNeeds)",
    responses=_READ_ERRORS,
)
async def ev_charging_needs(station_id: StationId, ctx: Context, limit: Limit = 100) -> NoticesOut:
    return await _notices(ctx, station_id, (models.EV_CHARGING_NEEDS,), limit)


@router.get(
    "/ev-charging-schedules",
    summary="The schedules EVs chose (NotifyEVChargingSchedule)",
    responses=_READ_ERRORS,
)
async def ev_charging_schedules(
    station_id: StationId, ctx: Context, limit: Limit = 100
) -> NoticesOut:
    return await _notices(ctx, station_id, (models.EV_CHARGING_SCHEDULE,), limit)


__all__ = ["ChargingProfileIn", "router"]
