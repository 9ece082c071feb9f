"""OCPP 2.0.1 translators of firmware: UpdateFirmware, signed or not, with a requestId that
every FirmwareStatusNotification of this update carries back; PublishFirmware (L03) and
UnpublishFirmware (L04) to a Local Controller, whose PublishFirmwareStatusNotification the
handler registered by ``register`` records on the publication."""

from __future__ import annotations

from borne.commands.results import CommandResult, base, build, send
from borne.core.deps import Deps
from borne.firmware import publications
from borne.firmware.spec import FirmwareResult, FirmwareSpec, PublishSpec
from borne.ocpp.context import CallContext
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.router import Router
from borne.ocpp.v201 import models as v201
from borne.ocpp.versions import OcppVersion

VERSION = OcppVersion.V201


def action_for(spec: FirmwareSpec) -> str:
    return "UpdateFirmware"


async def update_firmware(
    outbound: OcppOutbound,
    station_id: str,
    *,
    request_id: int,
    spec: FirmwareSpec,
    call_timeout: float | None,
) -> FirmwareResult:
    request = build(
        v201.UpdateFirmwareRequest,
        request_id=request_id,
        retries=spec.retries,
        retry_interval=spec.retry_interval_s,
        firmware=build(
            v201.FirmwareType,
            location=spec.location,
            retrieve_date_time=spec.retrieve_at,
            install_date_time=spec.install_at,
            signing_certificate=spec.signing_certificate,
            signature=spec.signature,
        ),
    )
    answer = await send(outbound, station_id, request, v201.UpdateFirmwareResponse, call_timeout)
    info = answer.status_info
    return FirmwareResult(
        **base(
            station_id,
            VERSION,
            "UpdateFirmware",
            answer,
            answer.status,
            reason=None if info is None else info.reason_code,
            reason_info=None if info is None else info.additional_info,
        ),
        request_id=request_id,
    )


async def publish_firmware(
    outbound: OcppOutbound,
    station_id: str,
    *,
    request_id: int,
    spec: PublishSpec,
    call_timeout: float | None,
) -> FirmwareResult:
    request = build(
        v201.PublishFirmwareRequest,
        request_id=request_id,
        location=spec.location,
        checksum=spec.checksum,
        retries=spec.retries,
        retry_interval=spec.retry_interval_s,
    )
    answer = await send(outbound, station_id, request, v201.PublishFirmwareResponse, call_timeout)
    info = answer.status_info
    return FirmwareResult(
        **base(
            station_id,
            VERSION,
            "PublishFirmware",
            answer,
            answer.status,
            reason=None if info is None else info.reason_code,
            reason_info=None if info is None else info.additional_info,
        ),
        request_id=request_id,
    )


async def unpublish_firmware(
    outbound: OcppOutbound, station_id: str, *, checksum: str, call_timeout: float | None
) -> CommandResult:
    request = build(v201.UnpublishFirmwareRequest, checksum=checksum)
    answer = await send(outbound, station_id, request, v201.UnpublishFirmwareResponse, call_timeout)
    return CommandResult(**base(station_id, VERSION, "UnpublishFirmware", answer, answer.status))


class _Handlers:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def publish_firmware_status_notification(
        self, ctx: CallContext, req: v201.PublishFirmwareStatusNotificationRequest
    ) -> v201.PublishFirmwareStatusNotificationResponse:
        async with self.deps.db.unit_of_work() as uow:
            await publications.record_status(
                uow,
                station_id=ctx.station_id,
                status=req.status,
                locations=req.location,
                request_id=req.request_id,
                now=ctx.received_at,
            )
            await uow.commit()
        return v201.PublishFirmwareStatusNotificationResponse()


def register(router: Router, deps: Deps) -> None:
    """Incoming 2.0.1 firmware messages handled by this domain (FirmwareStatusNotification
    itself is the stations domain's: it reaches firmware as an event)."""
    h = _Handlers(deps)
    router.register("PublishFirmwareStatusNotification", h.publish_firmware_status_notification)
