"""OCPP 1.6 translators of the stations domain: typed request → service → typed response.

1.6 ``connectorId`` N is addressed as EVSE N, connector 1; connector 0 (the whole station) as
``(0, 0)``. Security whitepaper messages (SecurityEventNotification, LogStatusNotification,
SignedFirmwareStatusNotification) are served too.
"""

from __future__ import annotations

import json

from borne.core.deps import Deps
from borne.core.group_commit import Batch
from borne.ocpp.context import CallContext
from borne.ocpp.router import Router
from borne.ocpp.v16 import models as m
from borne.stations import service
from borne.stations.config import StationsConfig


def evse_of(connector_id: int) -> tuple[int, int]:
    """The ``(evse_id, connector_id)`` of a 1.6 connector number."""
    return (0, 0) if connector_id == 0 else (connector_id, 1)


class _Handlers:
    def __init__(self, deps: Deps, config: StationsConfig) -> None:
        self.deps = deps
        self.config = config

    async def boot_notification(
        self, ctx: CallContext, req: m.BootNotificationRequest
    ) -> m.BootNotificationResponse:
        info = service.BootInfo(
            vendor=req.charge_point_vendor,
            model=req.charge_point_model,
            serial_number=req.charge_point_serial_number,
            charge_box_serial_number=req.charge_box_serial_number,
            firmware_version=req.firmware_version,
            iccid=req.iccid,
            imsi=req.imsi,
            meter_type=req.meter_type,
            meter_serial_number=req.meter_serial_number,
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
            status=result.status,
            current_time=self.deps.clock.now(),
            interval=result.interval,
        )

    async def heartbeat(self, ctx: CallContext, req: m.HeartbeatRequest) -> m.HeartbeatResponse:
        async def work(batch: Batch) -> None:
            await service.record_heartbeat(batch, station_id=ctx.station_id, now=ctx.received_at)

        await self.deps.committer.submit(work)
        return m.HeartbeatResponse(current_time=self.deps.clock.now())

    async def status_notification(
        self, ctx: CallContext, req: m.StatusNotificationRequest
    ) -> m.StatusNotificationResponse:
        evse_id, connector_id = evse_of(req.connector_id)

        async def work(batch: Batch) -> None:
            await service.record_connector_status(
                batch,
                station_id=ctx.station_id,
                evse_id=evse_id,
                connector_id=connector_id,
                ocpp_connector_id=req.connector_id,
                status=req.status,
                error_code=req.error_code,
                info=req.info,
                vendor_id=req.vendor_id,
                vendor_error_code=req.vendor_error_code,
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
        data = reply.data
        if data is not None and not isinstance(data, str):  # 1.6 data is a string
            data = json.dumps(data)
        return m.DataTransferResponse(status=reply.status, data=data)

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
        await self._notify(ctx, "firmware", req.status, None)
        return m.FirmwareStatusNotificationResponse()

    async def signed_firmware_status_notification(
        self, ctx: CallContext, req: m.SignedFirmwareStatusNotificationRequest
    ) -> m.SignedFirmwareStatusNotificationResponse:
        await self._notify(ctx, "signed_firmware", req.status, req.request_id)
        return m.SignedFirmwareStatusNotificationResponse()

    async def diagnostics_status_notification(
        self, ctx: CallContext, req: m.DiagnosticsStatusNotificationRequest
    ) -> m.DiagnosticsStatusNotificationResponse:
        await self._notify(ctx, "diagnostics", req.status, None)
        return m.DiagnosticsStatusNotificationResponse()

    async def log_status_notification(
        self, ctx: CallContext, req: m.LogStatusNotificationRequest
    ) -> m.LogStatusNotificationResponse:
        await self._notify(ctx, "log", req.status, req.request_id)
        return m.LogStatusNotificationResponse()


def register(router: Router, deps: Deps, config: StationsConfig) -> None:
    """Serve the 1.6 station-initiated calls of this domain (not Authorize: ``authorization``)."""
    h = _Handlers(deps, config)
    router.register("BootNotification", h.boot_notification)
    router.register("Heartbeat", h.heartbeat)
    router.register("StatusNotification", h.status_notification)
    router.register("DataTransfer", h.data_transfer)
    router.register("SecurityEventNotification", h.security_event_notification)
    router.register("FirmwareStatusNotification", h.firmware_status_notification)
    router.register("SignedFirmwareStatusNotification", h.signed_firmware_status_notification)
    router.register("DiagnosticsStatusNotification", h.diagnostics_status_notification)
    router.register("LogStatusNotification", h.log_status_notification)
