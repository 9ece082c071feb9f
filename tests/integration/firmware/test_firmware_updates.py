"""Single-station firmware updates: what is sent per version, the answer, the status history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fw_helpers import add_station, connect, eventually, report
from sqlalchemy import func, select

from borne.core.deps import Deps
from borne.core.errors import InvalidInput, StationCallError, StationNotConnected
from borne.firmware import models as fm
from borne.firmware import service
from borne.firmware.schemas import StationFirmwareOut
from borne.firmware.spec import FirmwareSpec
from borne.firmware.wiring import Firmware
from borne.ocpp.outbound import OcppOutbound

AT = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def spec(**kw: object) -> FirmwareSpec:
    fields: dict[str, object] = {"location": "https://fw.example/img.bin", "retrieve_at": AT}
    fields.update(kw)
    return FirmwareSpec(**fields)  # type: ignore[arg-type]


async def send(deps: Deps, station_id: str, s: FirmwareSpec) -> fm.FirmwareUpdate:
    row, _, _ = await service.send_update(
        deps.db, OcppOutbound(deps.registry), deps.clock, station_id, s
    )
    return row


async def view(deps: Deps, station_id: str) -> StationFirmwareOut:
    """What the operator API shows (read while the session is open)."""
    async with deps.db.unit_of_work() as uow:
        return StationFirmwareOut.of(await service.station_firmware(uow, station_id))


async def test_v16_update_and_statuses_attributed_to_latest_update(
    deps: Deps, firmware: Firmware
) -> None:
    await add_station(deps, "FW16")
    cp = connect(deps, "FW16", "ocpp1.6")
    first = await send(deps, "FW16", spec(retries=2, retry_interval_s=30))
    action, payload = cp.calls[-1]
    assert action == "UpdateFirmware"
    assert payload == {
        "location": "https://fw.example/img.bin",
        "retrieveDate": "2030-01-02T03:04:05Z",
        "retries": 2,
        "retryInterval": 30,
    }
    assert first.status == "Accepted" and first.action == "UpdateFirmware"
    second = await send(deps, "FW16", spec(location="https://fw.example/v2.bin"))
    await report(deps, "FW16", "Downloading", None)
    await report(deps, "FW16", "Downloaded", None)

    async def attributed() -> bool:
        v = await view(deps, "FW16")
        return [e.status for e in v.history] == ["Downloaded", "Downloading"]

    await eventually(attributed)
    v = await view(deps, "FW16")
    assert [u.request_id for u in v.updates] == [second.id, first.id]
    assert all(e.update_id == second.id for e in v.history)  # 1.6: no requestId, latest update
    assert v.updates[0].status == "Downloaded" and v.updates[1].status == "Accepted"


async def test_v16_signed_update_carries_request_id(deps: Deps, firmware: Firmware) -> None:
    await add_station(deps, "FW16S")
    cp = connect(deps, "FW16S", "ocpp1.6")
    signed = spec(signing_certificate="-----BEGIN CERTIFICATE-----x", signature="c2ln", retries=1)
    row = await send(deps, "FW16S", signed)
    action, payload = cp.calls[-1]
    assert action == "SignedUpdateFirmware" and row.action == "SignedUpdateFirmware"
    assert payload["requestId"] == row.id
    assert payload["firmware"] == {
        "location": "https://fw.example/img.bin",
        "retrieveDateTime": "2030-01-02T03:04:05Z",
        "signingCertificate": "-----BEGIN CERTIFICATE-----x",
        "signature": "c2ln",
    }
    await report(deps, "FW16S", "InvalidSignature", row.id, kind="signed_firmware")

    async def failed() -> bool:
        return (await view(deps, "FW16S")).updates[0].status == "InvalidSignature"

    await eventually(failed)
    assert (await view(deps, "FW16S")).updates[0].reason == "InvalidSignature"


async def test_v16_signed_update_needs_both_parts(deps: Deps) -> None:
    await add_station(deps, "FW16H")
    cp = connect(deps, "FW16H", "ocpp1.6")
    with pytest.raises(InvalidInput):
        await send(deps, "FW16H", spec(signature="c2ln"))
    assert cp.calls == []
    async with deps.db.unit_of_work() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(fm.FirmwareUpdate)) == 0


async def test_v201_update_statuses_by_request_id(deps: Deps, firmware: Firmware) -> None:
    await add_station(deps, "FW2A")
    await add_station(deps, "FW2B")
    cp = connect(deps, "FW2A")
    connect(deps, "FW2B")
    install = AT + timedelta(hours=1)
    older = await send(deps, "FW2A", spec(install_at=install))
    newer = await send(deps, "FW2A", spec())
    other = await send(deps, "FW2B", spec())
    action, payload = cp.calls[0]
    assert action == "UpdateFirmware" and payload["requestId"] == older.id
    assert payload["firmware"]["installDateTime"] == "2030-01-02T04:04:05Z"
    # Statuses of the older request move it, not the latest; another station's id moves nothing.
    await report(deps, "FW2A", "Installed", older.id)
    await report(deps, "FW2A", "Downloading", other.id)

    async def recorded() -> bool:
        return len((await view(deps, "FW2A")).history) == 2

    await eventually(recorded)
    v = await view(deps, "FW2A")
    by_id = {u.request_id: u for u in v.updates}
    assert by_id[older.id].status == "Installed" and by_id[newer.id].status == "Accepted"
    assert {e.status: e.update_id for e in v.history} == {
        "Installed": older.id,
        "Downloading": None,
    }
    assert (await view(deps, "FW2B")).updates[0].status == "Accepted"


async def test_refusals_and_errors_are_recorded(deps: Deps) -> None:
    await add_station(deps, "FW2R")
    cp = connect(deps, "FW2R")
    cp.answers = ["InvalidCertificate", StationCallError("NotSupported", "no firmware")]
    refused = await send(deps, "FW2R", spec(signature="c2ln", signing_certificate="pem"))
    assert refused.status == "InvalidCertificate"
    row, result, error = await service.send_update(
        deps.db, OcppOutbound(deps.registry), deps.clock, "FW2R", spec()
    )
    assert result is None and isinstance(error, StationCallError)
    assert (row.status, row.reason) == ("NotSent", "NotSupported")
    with pytest.raises(StationNotConnected):
        await send(deps, "NOT-CONNECTED", spec())
