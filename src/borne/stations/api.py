"""Operator API of the stations: ``/api/v1/stations`` and what each station reported.

Create (201), list, read, change and delete stations; read a station's status history, security
events, boots, firmware/diagnostics notifications, DataTransfers and reported device-model
variables, newest first, a page at a time. Each station answer says whether it is connected now
(``connected`` and the live ``ocpp_version``). Unknown station → 404, a station id that already
exists → 409, invalid input → 422; every write is one unit of work, committed only when it has
fully succeeded (R35). Passwords are write-only (R27).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from borne.api_context import ApiContext, get_context
from borne.api_errors import error_responses
from borne.stations import admin, rotation
from borne.stations.admin import StationView
from borne.stations.schemas import (
    PRINTABLE,
    STATION_ID,
    BootOut,
    NotificationKind,
    NotificationOut,
    PageOut,
    PasswordRotationIn,
    PasswordRotationOut,
    RegistrationStatus,
    ReportedVariableOut,
    SecurityEventOut,
    SecurityEventSource,
    StationDataTransferOut,
    StationDetailOut,
    StationIn,
    StationOut,
    StationPatch,
    StatusHistoryOut,
    page_out,
)
from borne.stations.unit import MAX_PAGE

StationId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=48,
        pattern=STATION_ID,
        description="the station's identity (1 to 48 printable ASCII characters, no space or ':')",
    ),
]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1, description="items to skip")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="items per page")]
# Bounded to what an INTEGER column holds, so a huge number is a 422, not a database error.
SmallId = Annotated[int | None, Query(ge=0, le=2**31 - 1)]
Name = Annotated[str | None, Query(min_length=1, max_length=50, pattern=PRINTABLE)]
Context = Annotated[ApiContext, Depends(get_context)]

router = APIRouter(prefix="/stations", tags=["stations"], responses=error_responses(401, 422))


def _live_version(ctx: ApiContext, station_id: str) -> str | None:
    conn = ctx.deps.registry.get(station_id)
    return None if conn is None else conn.ocpp_version


def _out(ctx: ApiContext, view: StationView) -> StationOut:
    return StationOut.of(view, live_version=_live_version(ctx, view.station_id))


def _location(request: Request, key: str) -> str:
    """The path of the resource just created under the collection that was posted to."""
    return f"{request.url.path.rstrip('/')}/{quote(key, safe='')}"


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Register a station",
    responses=error_responses(409),
)
async def create_station(
    body: StationIn, ctx: Context, request: Request, response: Response
) -> StationOut:
    async with ctx.deps.db.unit_of_work() as uow:
        view = await admin.create_station(
            uow,
            station_id=body.station_id,
            now=ctx.deps.clock.now(),
            security_profile=body.security_profile,
            password=None if body.password is None else body.password.get_secret_value(),
            registration_status=body.registration_status,
            leniency=body.leniency,
        )
        await uow.commit()
    response.headers["Location"] = _location(request, view.station_id)
    return _out(ctx, view)


@router.get("", summary="List stations, by station id")
async def list_stations(
    ctx: Context,
    offset: Offset = 0,
    limit: Limit = 50,
    registration_status: RegistrationStatus | None = None,
) -> PageOut[StationOut]:
    async with ctx.deps.db.unit_of_work() as uow:
        page = await admin.list_stations(
            uow, offset=offset, limit=limit, registration_status=registration_status
        )
    return PageOut(
        items=[_out(ctx, v) for v in page.items], total=page.total, offset=offset, limit=limit
    )


@router.get(
    "/{station_id}",
    summary="A station, its connectors' status and its connection",
    responses=error_responses(404),
)
async def get_station(station_id: StationId, ctx: Context) -> StationDetailOut:
    async with ctx.deps.db.unit_of_work() as uow:
        view = await admin.get_station(uow, station_id=station_id)
        connectors = await admin.list_connector_statuses(uow, station_id=station_id)
    return StationDetailOut.of_detail(view, connectors, live_version=_live_version(ctx, station_id))


@router.patch(
    "/{station_id}",
    summary="Change a station's registration, security profile, password or leniency",
    responses=error_responses(404),
)
async def update_station(station_id: StationId, body: StationPatch, ctx: Context) -> StationOut:
    async with ctx.deps.db.unit_of_work() as uow:
        view = await admin.update_station(
            uow,
            station_id=station_id,
            now=ctx.deps.clock.now(),
            registration_status=body.registration_status,
            security_profile=body.security_profile,
            password=None if body.password is None else body.password.get_secret_value(),
            leniency=body.leniency,
        )
        await uow.commit()
    return _out(ctx, view)


@router.delete(
    "/{station_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a station with its statuses, notifications and reports",
    description="Security events stay. A live connection is not closed by this call; the "
    "station is refused at its next connection.",
    responses=error_responses(404, 409),
)
async def delete_station(station_id: StationId, ctx: Context) -> None:
    async with ctx.deps.db.unit_of_work() as uow:
        await admin.delete_station(uow, station_id=station_id)
        await uow.commit()


@router.post(
    "/{station_id}/password-rotation",
    summary="Send a new HTTP Basic password to the connected station",
    description="The new password is stored as pending, then sent to the station (1.6 "
    "ChangeConfiguration AuthorizationKey, 2.0.1 SetVariables SecurityCtrlr.BasicAuthPassword). "
    "If the station accepts, the current password stays valid until the station logs in with "
    "the new one, which then replaces it; if it refuses, the new password is dropped (R24). "
    "Not connected → 409; the station's CALLERROR → 502; no answer in time → 504, the new "
    "password then stays pending beside the current one.",
    responses=error_responses(404, 409, 502, 503, 504),
)
async def rotate_password(
    station_id: StationId, body: PasswordRotationIn, ctx: Context
) -> PasswordRotationOut:
    result = await rotation.rotate_password(
        ctx.deps.db,
        ctx.outbound,
        station_id=station_id,
        new_password=body.new_password.get_secret_value(),
        now=ctx.deps.clock.now(),
    )
    return PasswordRotationOut.of(result)


@router.get(
    "/{station_id}/status-history",
    summary="Connector status changes, newest first",
    responses=error_responses(404),
)
async def status_history(
    station_id: StationId,
    ctx: Context,
    *,
    offset: Offset = 0,
    limit: Limit = 100,
    evse_id: SmallId = None,
    connector_id: SmallId = None,
) -> PageOut[StatusHistoryOut]:
    async with ctx.deps.db.unit_of_work() as uow:
        page = await admin.list_status_history(
            uow,
            station_id=station_id,
            evse_id=evse_id,
            connector_id=connector_id,
            offset=offset,
            limit=limit,
        )
    return page_out(StatusHistoryOut, page)


@router.get(
    "/{station_id}/security-events",
    summary="Security events of a station id, newest first",
    description="Not limited to registered stations: failed logins of unknown or deleted "
    "station ids are recorded too (R25), so an unknown id answers its events (often none) "
    "rather than 404.",
)
async def security_events(
    station_id: StationId,
    ctx: Context,
    offset: Offset = 0,
    limit: Limit = 100,
    source: SecurityEventSource | None = None,
) -> PageOut[SecurityEventOut]:
    async with ctx.deps.db.unit_of_work() as uow:
        page = await admin.list_security_events(
            uow, station_id=station_id, source=source, offset=offset, limit=limit
        )
    return page_out(SecurityEventOut, page)


@router.get(
    "/{station_id}/boots",
    summary="BootNotifications, newest first",
    responses=error_responses(404),
)
async def boots(
    station_id: StationId, ctx: Context, offset: Offset = 0, limit: Limit = 100
) -> PageOut[BootOut]:
    async with ctx.deps.db.unit_of_work() as uow:
        page = await admin.list_boots(uow, station_id=station_id, offset=offset, limit=limit)
    return page_out(BootOut, page)


@router.get(
    "/{station_id}/notifications",
    summary="Firmware, diagnostics and log upload progress, newest first",
    responses=error_responses(404),
)
async def notifications(
    station_id: StationId,
    ctx: Context,
    offset: Offset = 0,
    limit: Limit = 100,
    kind: NotificationKind | None = None,
) -> PageOut[NotificationOut]:
    async with ctx.deps.db.unit_of_work() as uow:
        page = await admin.list_notifications(
            uow, station_id=station_id, kind=kind, offset=offset, limit=limit
        )
    return page_out(NotificationOut, page)


@router.get(
    "/{station_id}/data-transfers",
    summary="DataTransfers the station sent, with Borne's answer, newest first",
    responses=error_responses(404),
)
async def data_transfers(
    station_id: StationId, ctx: Context, offset: Offset = 0, limit: Limit = 100
) -> PageOut[StationDataTransferOut]:
    async with ctx.deps.db.unit_of_work() as uow:
        page = await admin.list_data_transfers(
            uow, station_id=station_id, offset=offset, limit=limit
        )
    return page_out(StationDataTransferOut, page)


@router.get(
    "/{station_id}/reported-variables",
    summary="Device-model variables from 2.0.1 NotifyReport, latest value of each",
    description="Values of write-only variables (such as BasicAuthPassword) are never shown.",
    responses=error_responses(404),
)
async def reported_variables(
    station_id: StationId,
    ctx: Context,
    *,
    offset: Offset = 0,
    limit: Limit = 100,
    component: Name = None,
    variable: Name = None,
) -> PageOut[ReportedVariableOut]:
    async with ctx.deps.db.unit_of_work() as uow:
        page = await admin.list_reported_variables(
            uow,
            station_id=station_id,
            component_name=component,
            variable_name=variable,
            offset=offset,
            limit=limit,
        )
    return PageOut(
        items=[ReportedVariableOut.of(r) for r in page.items],
        total=page.total,
        offset=offset,
        limit=limit,
    )
