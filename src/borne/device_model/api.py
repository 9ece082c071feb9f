"""Operator API of the device model (2.0.1) and the configuration (1.6).

- ``GET  /stations/{id}/device-model``: stored variables with characteristics and attributes,
  filterable by component, variable and EVSE, a page at a time.
- ``GET  /stations/{id}/device-model/reports``: the reports Borne asked for and their progress.
- ``POST /stations/{id}/device-model/refresh``: GetBaseReport or GetReport (parts arrive later
  as NotifyReport; poll ``reports``).
- ``POST /stations/{id}/device-model/variables/read``: GetVariables, values stored.
- ``PUT  /stations/{id}/device-model/variables``: SetVariables, Accepted values stored.
- ``GET  /stations/{id}/configuration``, ``POST .../configuration/refresh`` (GetConfiguration),
  ``PUT .../configuration/{key}`` (ChangeConfiguration, Accepted value stored).

Unknown station → 404; not connected → 409; wrong OCPP version or invalid input → 422; station
trouble → 502/503/504 (as the commands API).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from borne.api_context import ApiContext, get_context
from borne.api_errors import error_responses
from borne.commands.schemas import (
    CommandOut,
    ConfigurationOut,
    GetVariablesIn,
    ReportOut,
    SetVariablesIn,
    VariablesOut,
)
from borne.device_model import actions, service
from borne.device_model.schemas import (
    ConfigurationRefreshIn,
    ConfigurationSnapshotOut,
    ConfigurationValueIn,
    RefreshIn,
    ReportRequestOut,
    VariableOut,
)
from borne.stations.schemas import PRINTABLE, STATION_ID, PageOut
from borne.stations.unit import MAX_PAGE

StationId = Annotated[str, Path(min_length=1, max_length=48, pattern=STATION_ID)]
Name = Annotated[str | None, Query(min_length=1, max_length=50, pattern=PRINTABLE)]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
ConfigKey = Annotated[str, Path(min_length=1, max_length=50, pattern=PRINTABLE)]
Context = Annotated[ApiContext, Depends(get_context)]
_CALL_ERRORS = error_responses(404, 409, 422, 502, 503, 504)

router = APIRouter(prefix="/stations/{station_id}", tags=["device model"])


@router.get(
    "/device-model",
    summary="The station's 2.0.1 device model",
    responses=error_responses(404),
)
async def device_model(
    station_id: StationId,
    ctx: Context,
    *,
    component: Name = None,
    variable: Name = None,
    evse_id: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> PageOut[VariableOut]:
    async with ctx.deps.db.unit_of_work() as uow:
        page = await service.list_variables(
            uow,
            station_id=station_id,
            component=component,
            variable=variable,
            evse_id=evse_id,
            offset=offset,
            limit=limit,
        )
        items = [VariableOut.of(v) for v in page.items]
    return PageOut(items=items, total=page.total, offset=offset, limit=limit)


@router.get(
    "/device-model/reports",
    summary="Reports requested from the station, newest first",
    responses=error_responses(404),
)
async def reports(
    station_id: StationId, ctx: Context, offset: Offset = 0, limit: Limit = 100
) -> PageOut[ReportRequestOut]:
    async with ctx.deps.db.unit_of_work() as uow:
        page = await service.list_reports(uow, station_id=station_id, offset=offset, limit=limit)
        items = [ReportRequestOut.of(r) for r in page.items]
    return PageOut(items=items, total=page.total, offset=offset, limit=limit)


@router.post(
    "/device-model/refresh",
    summary="Ask for a report: GetBaseReport (report_base) or GetReport (criteria/components)",
    responses=_CALL_ERRORS,
)
async def refresh(station_id: StationId, body: RefreshIn, ctx: Context) -> ReportOut:
    result = await actions.request_report(
        ctx.deps,
        ctx.outbound,
        station_id,
        report_base=body.report_base,
        criteria=list(body.criteria) if body.criteria else None,
        components=[c.address() for c in body.components] if body.components else None,
        request_id=body.request_id,
    )
    return ReportOut.of(result)


@router.post(
    "/device-model/variables/read",
    summary="GetVariables; accepted values are stored",
    responses=_CALL_ERRORS,
)
async def read_variables(station_id: StationId, body: GetVariablesIn, ctx: Context) -> VariablesOut:
    items = [v.item() for v in body.variables]
    result = await actions.get_variables(ctx.deps, ctx.outbound, station_id, items)
    return VariablesOut.of_variables(result)


@router.put(
    "/device-model/variables",
    summary="SetVariables; accepted values are stored",
    responses=_CALL_ERRORS,
)
async def set_variables(station_id: StationId, body: SetVariablesIn, ctx: Context) -> VariablesOut:
    items = [v.item() for v in body.variables]
    result = await actions.set_variables(ctx.deps, ctx.outbound, station_id, items)
    return VariablesOut.of_variables(result)


@router.get(
    "/configuration",
    summary="The 1.6 station's configuration snapshot",
    responses=error_responses(404),
)
async def configuration(station_id: StationId, ctx: Context) -> ConfigurationSnapshotOut:
    async with ctx.deps.db.unit_of_work() as uow:
        snap, keys = await service.list_configuration(uow, station_id=station_id)
        return ConfigurationSnapshotOut.of(station_id, snap, keys)


@router.post(
    "/configuration/refresh",
    summary="GetConfiguration; the snapshot is replaced (or, with keys, merged)",
    responses=_CALL_ERRORS,
)
async def refresh_configuration(
    station_id: StationId, body: ConfigurationRefreshIn, ctx: Context
) -> ConfigurationOut:
    result = await actions.refresh_configuration(ctx.deps, ctx.outbound, station_id, body.keys)
    return ConfigurationOut.of(result)


@router.put(
    "/configuration/{key}",
    summary="ChangeConfiguration; an accepted value is stored",
    responses=_CALL_ERRORS,
)
async def change_configuration(
    station_id: StationId, key: ConfigKey, body: ConfigurationValueIn, ctx: Context
) -> CommandOut:
    result = await actions.change_configuration(ctx.deps, ctx.outbound, station_id, key, body.value)
    return CommandOut.of(result)
