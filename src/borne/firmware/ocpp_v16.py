"""OCPP 1.6 translator of firmware updates.

A signed image (signature or signing certificate given) goes as the Security whitepaper's
SignedUpdateFirmware, which needs both and carries the requestId that the station's
SignedFirmwareStatusNotification echoes. Otherwise the core UpdateFirmware: it has no requestId
and no install time (the station installs once downloaded) and its answer has no status, so an
answer at all counts as ``Accepted``.
"""

from __future__ import annotations

from borne.commands.results import base, build, send
from borne.core.errors import InvalidInput
from borne.firmware.spec import FirmwareResult, FirmwareSpec
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.v16 import models as v16
from borne.ocpp.versions import OcppVersion

VERSION = OcppVersion.V16


def action_for(spec: FirmwareSpec) -> str:
    return "SignedUpdateFirmware" if spec.signed else "UpdateFirmware"


async def update_firmware(
    outbound: OcppOutbound,
    station_id: str,
    *,
    request_id: int,
    spec: FirmwareSpec,
    call_timeout: float | None,
) -> FirmwareResult:
    if spec.signed:
        if not (spec.signature and spec.signing_certificate):
            raise InvalidInput(
                "OCPP 1.6 SignedUpdateFirmware needs both signature and signing_certificate"
            )
        signed = build(
            v16.SignedUpdateFirmwareRequest,
            request_id=request_id,
            retries=spec.retries,
            retry_interval=spec.retry_interval_s,
            firmware=build(
                v16.FirmwareType,
                location=spec.location,
                retrieve_date_time=spec.retrieve_at,
                install_date_time=spec.install_at,
                signing_certificate=spec.signing_certificate,
                signature=spec.signature,
            ),
        )
        answer = await send(
            outbound, station_id, signed, v16.SignedUpdateFirmwareResponse, call_timeout
        )
        return FirmwareResult(
            **base(station_id, VERSION, "SignedUpdateFirmware", answer, answer.status),
            request_id=request_id,
        )
    plain = build(
        v16.UpdateFirmwareRequest,
        location=spec.location,
        retrieve_date=spec.retrieve_at,
        retries=spec.retries,
        retry_interval=spec.retry_interval_s,
    )
    reply = await send(outbound, station_id, plain, v16.UpdateFirmwareResponse, call_timeout)
    return FirmwareResult(
        **base(station_id, VERSION, "UpdateFirmware", reply, "Accepted"), request_id=request_id
    )
