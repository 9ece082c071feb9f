"""Firmware publishing use cases (OCPP 2.0.1 Local Controllers, L03/L04).

``send_publish`` stores the publication before sending it (its id is the OCPP ``requestId``, so
a PublishFirmwareStatusNotification arriving before the answer is stored still finds it), then
the answer. ``send_unpublish`` asks the controller to remove a file and, when it did, marks its
publications of that checksum ``Unpublished``. OCPP 1.6 has neither: 422 before anything is
stored or sent.
"""

from __future__ import annotations

from borne.commands.results import CommandResult
from borne.core.clock import Clock
from borne.core.errors import BorneError, InvalidInput, StationNotConnected
from borne.core.uow import Database
from borne.firmware import models as fm
from borne.firmware import ocpp_v201, publications
from borne.firmware.service import error_reason
from borne.firmware.spec import FirmwareResult, PublishSpec
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.versions import OcppVersion


def _require_v201(outbound: OcppOutbound, station_id: str, action: str) -> None:
    version = outbound.version_of(station_id)
    if version is None:
        raise StationNotConnected(f"station {station_id} is not connected")
    if version is not OcppVersion.V201:
        raise InvalidInput(f"{action} is an OCPP 2.0.1 command; the station speaks {version}")


async def send_publish(
    db: Database,
    outbound: OcppOutbound,
    clock: Clock,
    station_id: str,
    spec: PublishSpec,
    *,
    call_timeout: float | None = None,
) -> tuple[fm.FirmwarePublication, FirmwareResult | None, BorneError | None]:
    """Store, send, store the answer. The station's own failure (offline, timeout, CALLERROR)
    comes back as the third item, recorded as ``NotSent`` with the error code as reason."""
    _require_v201(outbound, station_id, "PublishFirmware")
    now = clock.now()
    async with db.unit_of_work() as uow:
        row = fm.FirmwarePublication(
            station_id=station_id,
            location=spec.location,
            checksum=spec.checksum.lower(),
            retries=spec.retries,
            retry_interval_s=spec.retry_interval_s,
            status="Sending",
            created_at=now,
            updated_at=now,
        )
        uow.session.add(row)
        await uow.session.flush()
        publication_id = row.id
        await uow.commit()
    result: FirmwareResult | None = None
    error: BorneError | None = None
    try:
        result = await ocpp_v201.publish_firmware(
            outbound,
            station_id,
            request_id=publication_id,
            spec=spec,
            call_timeout=call_timeout,
        )
    except InvalidInput:
        raise
    except BorneError as exc:
        error = exc
    async with db.unit_of_work() as uow:
        stored = await uow.session.get(fm.FirmwarePublication, publication_id)
        assert stored is not None
        if error is not None:
            stored.status, stored.reason = "NotSent", error_reason(error)
        elif stored.status == "Sending":  # a status notification may already have moved it on
            assert result is not None
            stored.status, stored.reason = result.status, result.reason
        stored.updated_at = clock.now()
        await uow.commit()
    return stored, result, error


async def send_unpublish(
    db: Database,
    outbound: OcppOutbound,
    clock: Clock,
    station_id: str,
    checksum: str,
    *,
    call_timeout: float | None = None,
) -> tuple[CommandResult, list[int]]:
    """Ask the controller to stop serving the file; errors raise (nothing was stored before)."""
    _require_v201(outbound, station_id, "UnpublishFirmware")
    result = await ocpp_v201.unpublish_firmware(
        outbound, station_id, checksum=checksum, call_timeout=call_timeout
    )
    if result.status != publications.UNPUBLISHED:
        return result, []  # NoFirmware, DownloadOngoing: nothing changed on the controller
    async with db.unit_of_work() as uow:
        ids = await publications.mark_unpublished(
            uow, station_id=station_id, checksum=checksum, now=clock.now()
        )
        await uow.commit()
    return result, ids
