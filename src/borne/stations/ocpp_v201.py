"""OCPP 2.0.1 translators of the stations domain: typed request → service → typed response."""

from __future__ import annotations

from borne.core.deps import Deps
from borne.core.group_commit import Batch
from borne.ocpp.context import CallContext
from borne.ocpp.router import Router
from borne.ocpp.v201 import models as m
from borne.stations import service
from borne.stations.config import StationsConfig


def flatten_report(report_data: list[m.ReportDataType] | None) -> list[service.ReportedAttribute]:
    """One ``ReportedAttribute`` per variable attribute of the report part."""
    out: list[service.ReportedAttribute] = []
    for rd in report_data or ():
        evse = rd.component.evse
        chars = rd.variable_characteristics
        for va in rd.variable_attribute:
            out.append(
                service.ReportedAttribute(
                    component_name=rd.component.name,
                    component_instance=rd.component.instance,
                    evse_id=None if evse is None else evse.id,
                    connector_id=None if evse is None else evse.connector_id,
                    variable_name=rd.variable.name,
                    variable_instance=rd.variable.instance,
                    attribute_type=va.type,
                    value=va.value,
                    mutability=va.mutability,
                    data_type=None if chars is None else chars.data_type,
                    unit=None if chars is None else chars.unit,
                )
            )
    return out


class _Handlers:
    def __init__(self, deps: Deps, config: StationsConfig) -> None:
        self.deps = deps
        self.config = config

    async def boot_notification(
        self, ctx: CallContext, req: m.BootNotificationRequest
    ) -> m.BootNotificationResponse:
        cs = req.charging_station
        info = service.BootInfo(
            vendor=cs.vendor_name,
            model=cs.model,
            serial_number=cs.serial_number,
            firmware_version=cs.firmware_version,
            iccid=None if cs.modem is None else cs.modem.iccid,
            imsi=None if cs.modem is None else cs.modem.imsi,
            reason=req.reason,
        )

        # Through the group committer: a reconnect storm's boots share commits (R20).
        async def work(unit: Batch) -> service.BootResult:
            return await service.record_boot(
                unit,
                station_id=ctx.station_id,
                info=info,
                ocpp_version=str(ctx.version),
                now=ctx.received_at,
                heartbeat_interval=self.config.heartbeat_interval_s,
                pending_interval=self.config.pending_retry_interval_s,
            )

        result = await self.deps.committer.submit(work)
        ctx.state.registration_status = result.status
        return m.BootNotificationResponse(
            status=result.status, current_time=self.deps.clock.now(), interval=result.interval
        )

    async def heartbeat(self, ctx: CallContext, req: m.HeartbeatRequest) -> m.HeartbeatResponse:
        async def work(batch: Batch) -> None:
            await service.record_heartbeat(batch, station_id=ctx.station_id, now=ctx.received_at)

        await self.deps.committer.submit(work)
        return m.HeartbeatResponse(current_time=self.deps.clock.now())

    async def status_notification(
        self, ctx: CallContext, req: m.StatusNotificationRequest
    ) -> m.StatusNotificationResponse:
        async def work(batch: Batch) -> None:
            await service.record_connector_status(
                batch,
                station_id=ctx.station_id,
                evse_id=req.evse_id,
                connector_id=req.connector_id,
                status=req.connector_status,
                timestamp=req.timestamp,
                received_at=ctx.received_at,
            )

        await self.deps.committer.submit(work)
        return m.StatusNotificationResponse()

    async def data_transfer(
        self, ctx: CallContext, req: m.DataTransferRequest
    ) -> m.DataTransferResponse:
        async with self.deps.db.unit_of_work() as uow:
            reply = await service.handle_data_transfer(
                uow,
                self.config.vendors,
                station_id=ctx.station_id,
                ocpp_version=str(ctx.version),
                vendor_id=req.vendor_id,
                message_id=req.message_id,
                data=req.data,
                received_at=ctx.received_at,
            )
            await uow.commit()
        return m.DataTransferResponse(status=reply.status, data=reply.data)

    async def security_event_notification(
        self, ctx: CallContext, req: m.SecurityEventNotificationRequest
    ) -> m.SecurityEventNotificationResponse:
        async with self.deps.db.unit_of_work() as uow:
            await service.record_security_event(
                uow,
                station_id=ctx.station_id,
                type=req.type,
                timestamp=req.timestamp,
                tech_info=req.tech_info,
                received_at=ctx.received_at,
            )
            await uow.commit()
        return m.SecurityEventNotificationResponse()

    async def _notify(
        self, ctx: CallContext, kind: str, status: str, request_id: int | None
    ) -> None:
        async with self.deps.db.unit_of_work() as uow:
            await service.record_notification(
                uow,
                station_id=ctx.station_id,
                kind=kind,
                status=status,
                request_id=request_id,
                timestamp=ctx.received_at,
            )
            await uow.commit()

    async def firmware_status_notification(
        self, ctx: CallContext, req: m.FirmwareStatusNotificationRequest
    ) -> m.FirmwareStatusNotificationResponse:
        await self._notify(ctx, "firmware", req.status, req.request_id)
        return m.FirmwareStatusNotificationResponse()

    async def log_status_notification(
        self, ctx: CallContext, req: m.LogStatusNotificationRequest
    ) -> m.LogStatusNotificationResponse:
        await self._notify(ctx, "log", req.status, req.request_id)
        return m.LogStatusNotificationResponse()

    async def notify_report(
        self, ctx: CallContext, req: m.NotifyReportRequest
    ) -> m.NotifyReportResponse:
        attributes = flatten_report(req.report_data)
        async with self.deps.db.unit_of_work() as uow:
            await service.store_report(
                uow,
                station_id=ctx.station_id,
                request_id=req.request_id,
                seq_no=req.seq_no,
                tbc=bool(req.tbc),
                attributes=attributes,
                now=ctx.received_at,
            )
            await uow.commit()
        return m.NotifyReportResponse()


def register(
    router: Router, deps: Deps, config: StationsConfig, *, notify_report: bool = True
) -> None:
    """Serve the 2.0.1 station-initiated calls of this domain (not Authorize: ``authorization``).
    ``notify_report=False``: the device model domain serves NotifyReport (and stores the flat
    rows of this domain through ``service.store_report``)."""
    h = _Handlers(deps, config)
    router.register("BootNotification", h.boot_notification)
    router.register("Heartbeat", h.heartbeat)
    router.register("StatusNotification", h.status_notification)
    router.register("DataTransfer", h.data_transfer)
    router.register("SecurityEventNotification", h.security_event_notification)
    router.register("FirmwareStatusNotification", h.firmware_status_notification)
    router.register("LogStatusNotification", h.log_status_notification)
    if notify_report:
        router.register("NotifyReport", h.notify_report)
