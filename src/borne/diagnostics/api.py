"""Operator API of diagnostics, under ``/api/v1``.

- ``/stations/{id}/logs``: request a log (GetDiagnostics / GetLog), follow it, download its file.
- ``/stations/{id}/customer-information``: CustomerInformation and the reports received.
- ``/stations/{id}/monitoring``: 2.0.1 variable monitors, monitoring base and level.
- ``/stations/{id}/events`` and ``/station-events``: NotifyEvent data, with filters.

Commands answer as ``borne.commands.api`` does: 409 not connected, 422 invalid input or a
command the station's version lacks, 502 CALLERROR, 503 busy, 504 no answer.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.responses import FileResponse
from pydantic import AwareDatetime

from borne.api_context import ApiContext, get_context
from borne.api_errors import error_responses
from borne.commands.schemas import CommandOut, ReportOut
from borne.core.errors import NotFound
from borne.diagnostics import store
from borne.diagnostics.config import DiagnosticsConfig
from borne.diagnostics.schemas import (
    ClearMonitoringIn,
    ClearMonitoringOut,
    CustomerInformationCommandOut,
    CustomerInformationIn,
    CustomerInformationOut,
    LogCommandOut,
    LogRequestIn,
    LogRequestOut,
    MonitoringBaseIn,
    MonitoringLevelIn,
    MonitoringOut,
    MonitoringReportIn,
    MonitorOut,
    PageOut,
    SetMonitoringIn,
    SetMonitoringOut,
    StationEventOut,
)
from borne.diagnostics.service import Diagnostics

StationId = Annotated[
    str, Path(min_length=1, max_length=48, pattern=r"^[^:]+$", description="the station's id")
]
Context = Annotated[ApiContext, Depends(get_context)]
Offset = Annotated[int, Query(ge=0)]
Limit = Annotated[int, Query(ge=1, le=store.MAX_LIMIT)]
Since = Annotated[AwareDatetime | None, Query(description="timestamp ≥ since")]
Until = Annotated[AwareDatetime | None, Query(description="timestamp < until")]
_NOTIFICATION_TYPES = (
    "HardWiredNotification | HardWiredMonitor | PreconfiguredMonitor | CustomMonitor"
)
_COMMAND_ERRORS = error_responses(401, 409, 422, 502, 503, 504)


def build_router(config: DiagnosticsConfig) -> APIRouter:
    router = APIRouter(tags=["diagnostics"], responses=error_responses(401, 404, 422))

    def use_cases(ctx: ApiContext) -> Diagnostics:
        return Diagnostics(ctx.deps, ctx.outbound, config)

    # ------------------------------------------------------------------------------ logs

    @router.post(
        "/stations/{station_id}/logs",
        status_code=201,
        summary="Ask the station to upload a log to Borne (GetDiagnostics / GetLog)",
        responses=_COMMAND_ERRORS,
    )
    async def request_log(station_id: StationId, body: LogRequestIn, ctx: Context) -> LogCommandOut:
        pk, result = await use_cases(ctx).request_log(
            station_id,
            log_type=body.log_type,
            action=body.action,
            oldest=body.oldest_timestamp,
            latest=body.latest_timestamp,
            retries=body.retries,
            retry_interval=body.retry_interval,
        )
        async with ctx.deps.db.unit_of_work() as uow:
            row = await store.get_log_request(uow, station_id, pk)
            return LogCommandOut(command=CommandOut.of(result), log=LogRequestOut.of(row))

    @router.get("/stations/{station_id}/logs", summary="The station's log requests, newest first")
    async def list_logs(
        station_id: StationId, ctx: Context, offset: Offset = 0, limit: Limit = 50
    ) -> PageOut[LogRequestOut]:
        async with ctx.deps.db.unit_of_work() as uow:
            page = await store.list_log_requests(uow, station_id, offset, limit)
            return PageOut[LogRequestOut](
                items=[LogRequestOut.of(r) for r in page.items],
                total=page.total,
                offset=page.offset,
                limit=page.limit,
            )

    @router.get("/stations/{station_id}/logs/{log_id}", summary="One log request")
    async def get_log(station_id: StationId, log_id: int, ctx: Context) -> LogRequestOut:
        async with ctx.deps.db.unit_of_work() as uow:
            return LogRequestOut.of(await store.get_log_request(uow, station_id, log_id))

    @router.get(
        "/stations/{station_id}/logs/{log_id}/file",
        summary="Download the file the station uploaded",
        response_class=FileResponse,
        responses={200: {"content": {"application/octet-stream": {}}}},
    )
    async def download(station_id: StationId, log_id: int, ctx: Context) -> FileResponse:
        async with ctx.deps.db.unit_of_work() as uow:
            row = await store.get_log_request(uow, station_id, log_id)
            stored, name = row.stored_name, row.upload_filename
        if stored is None:
            raise NotFound(f"log request {log_id} has no uploaded file yet")
        path = config.uploads_dir / stored
        if not await asyncio.to_thread(path.is_file):
            raise NotFound(f"the file of log request {log_id} is missing from the uploads dir")
        return FileResponse(
            path,
            filename=name or f"log-{log_id}",
            media_type="application/octet-stream",
        )

    @router.delete(
        "/stations/{station_id}/logs/{log_id}/file",
        status_code=204,
        summary="Delete the uploaded file (the log request stays)",
    )
    async def delete_file(station_id: StationId, log_id: int, ctx: Context) -> Response:
        async with ctx.deps.db.unit_of_work() as uow:
            stored = await store.forget_upload(uow, station_id, log_id)
            await uow.commit()
        if stored is None:
            raise NotFound(f"log request {log_id} has no uploaded file")
        await asyncio.to_thread((config.uploads_dir / stored).unlink, missing_ok=True)
        return Response(status_code=204)

    # --------------------------------------------------------------- customer information

    @router.post(
        "/stations/{station_id}/customer-information",
        status_code=201,
        summary="Ask a 2.0.1 station to report and/or clear a customer's data",
        responses=_COMMAND_ERRORS,
    )
    async def customer_information(
        station_id: StationId, body: CustomerInformationIn, ctx: Context
    ) -> CustomerInformationCommandOut:
        cert = body.customer_certificate
        pk, result = await use_cases(ctx).customer_information(
            station_id,
            report=body.report,
            clear=body.clear,
            customer_identifier=body.customer_identifier,
            id_token=body.id_token,
            id_token_type=body.id_token_type,
            certificate=None if cert is None else cert.model_dump(),
        )
        async with ctx.deps.db.unit_of_work() as uow:
            row, parts = await store.get_customer_information(uow, station_id, pk)
            return CustomerInformationCommandOut(
                command=CommandOut.of(result),
                customer_information=CustomerInformationOut.of(row, parts),
            )

    @router.get(
        "/stations/{station_id}/customer-information",
        summary="The station's customer information requests, newest first, with their data",
    )
    async def list_customer_information(
        station_id: StationId, ctx: Context, offset: Offset = 0, limit: Limit = 50
    ) -> PageOut[CustomerInformationOut]:
        async with ctx.deps.db.unit_of_work() as uow:
            page = await store.list_customer_information(uow, station_id, offset, limit)
            items = []
            for r in page.items:
                row, parts = await store.get_customer_information(uow, station_id, r.id)
                items.append(CustomerInformationOut.of(row, parts))
            return PageOut[CustomerInformationOut](
                items=items, total=page.total, offset=page.offset, limit=page.limit
            )

    @router.get(
        "/stations/{station_id}/customer-information/{request_pk}",
        summary="One customer information request and the data received",
    )
    async def get_customer_information(
        station_id: StationId, request_pk: int, ctx: Context
    ) -> CustomerInformationOut:
        async with ctx.deps.db.unit_of_work() as uow:
            row, parts = await store.get_customer_information(uow, station_id, request_pk)
            return CustomerInformationOut.of(row, parts)

    # ------------------------------------------------------------------------ monitoring

    @router.get(
        "/stations/{station_id}/monitoring",
        summary="The station's variable monitors, monitoring base and level, as Borne knows them",
    )
    async def monitoring(station_id: StationId, ctx: Context) -> MonitoringOut:
        async with ctx.deps.db.unit_of_work() as uow:
            settings, monitors = await store.monitoring_of(uow, station_id)
            return MonitoringOut(
                station_id=station_id,
                monitoring_base=None if settings is None else settings.monitoring_base,
                monitoring_level=None if settings is None else settings.monitoring_level,
                monitors=[MonitorOut.model_validate(m) for m in monitors],
            )

    @router.post(
        "/stations/{station_id}/monitoring/monitors",
        summary="Set variable monitors (SetVariableMonitoring)",
        responses=_COMMAND_ERRORS,
    )
    async def set_monitors(
        station_id: StationId, body: SetMonitoringIn, ctx: Context
    ) -> SetMonitoringOut:
        items = [m.item() for m in body.monitors]
        result = await use_cases(ctx).set_variable_monitoring(station_id, items)
        return SetMonitoringOut.of_result(result)

    @router.post(
        "/stations/{station_id}/monitoring/clear",
        summary="Clear variable monitors by id (ClearVariableMonitoring)",
        responses=_COMMAND_ERRORS,
    )
    async def clear_monitors(
        station_id: StationId, body: ClearMonitoringIn, ctx: Context
    ) -> ClearMonitoringOut:
        result = await use_cases(ctx).clear_variable_monitoring(station_id, body.ids)
        return ClearMonitoringOut.of_result(result)

    @router.post(
        "/stations/{station_id}/monitoring/base",
        summary="Set the monitoring base (SetMonitoringBase)",
        responses=_COMMAND_ERRORS,
    )
    async def set_base(station_id: StationId, body: MonitoringBaseIn, ctx: Context) -> CommandOut:
        result = await use_cases(ctx).set_monitoring_base(station_id, body.monitoring_base)
        return CommandOut.of(result)

    @router.post(
        "/stations/{station_id}/monitoring/level",
        summary="Set the monitoring level (SetMonitoringLevel)",
        responses=_COMMAND_ERRORS,
    )
    async def set_level(station_id: StationId, body: MonitoringLevelIn, ctx: Context) -> CommandOut:
        result = await use_cases(ctx).set_monitoring_level(station_id, body.severity)
        return CommandOut.of(result)

    @router.post(
        "/stations/{station_id}/monitoring/report",
        summary="Ask for the monitors (GetMonitoringReport); they arrive in NotifyMonitoringReport",
        responses=_COMMAND_ERRORS,
    )
    async def monitoring_report(
        station_id: StationId, body: MonitoringReportIn, ctx: Context
    ) -> ReportOut:
        refs = (
            None
            if body.component_variables is None
            else [c.ref() for c in body.component_variables]
        )
        result = await use_cases(ctx).get_monitoring_report(
            station_id, criteria=body.criteria, refs=refs, request_id=body.request_id
        )
        return ReportOut.model_validate(result)

    # ---------------------------------------------------------------------------- events

    async def _events(
        ctx: ApiContext, f: store.EventFilter, offset: int, limit: int
    ) -> PageOut[StationEventOut]:
        async with ctx.deps.db.unit_of_work() as uow:
            page = await store.list_events(uow, f, offset, limit)
            return PageOut[StationEventOut](
                items=[StationEventOut.model_validate(e) for e in page.items],
                total=page.total,
                offset=page.offset,
                limit=page.limit,
            )

    @router.get("/station-events", summary="Events stations notified (NotifyEvent), newest first")
    async def list_events(
        ctx: Context,
        *,
        station_id: str | None = None,
        component: str | None = None,
        variable: str | None = None,
        trigger: Annotated[str | None, Query(description="Alerting | Delta | Periodic")] = None,
        event_notification_type: str | None = Query(
            None,
            description="HardWiredNotification | HardWiredMonitor | PreconfiguredMonitor"
            " | CustomMonitor",
        ),
        cleared: bool | None = None,
        tech_code: str | None = None,
        from_monitor: Annotated[bool | None, Query(description="only events of a monitor")] = None,
        since: Since = None,
        until: Until = None,
        offset: Offset = 0,
        limit: Limit = 50,
    ) -> PageOut[StationEventOut]:
        f = store.EventFilter(
            station_id=station_id,
            component=component,
            variable=variable,
            trigger=trigger,
            event_notification_type=event_notification_type,
            cleared=cleared,
            tech_code=tech_code,
            since=since,
            until=until,
            from_monitor=from_monitor,
        )
        return await _events(ctx, f, offset, limit)

    @router.get("/stations/{station_id}/events", summary="The station's events (NotifyEvent)")
    async def station_events(
        station_id: StationId,
        ctx: Context,
        *,
        component: str | None = None,
        variable: str | None = None,
        trigger: str | None = None,
        cleared: bool | None = None,
        since: Since = None,
        until: Until = None,
        offset: Offset = 0,
        limit: Limit = 50,
    ) -> PageOut[StationEventOut]:
        f = store.EventFilter(
            station_id=station_id,
            component=component,
            variable=variable,
            trigger=trigger,
            cleared=cleared,
            since=since,
            until=until,
        )
        return await _events(ctx, f, offset, limit)

    return router
