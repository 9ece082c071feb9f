"""Firmware campaigns: the runner sends to each station within the concurrency limit, retries,
gives up with a reason, follows the stations' statuses, and stops when cancelled."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fw_helpers import FakeStation, add_station, connect, eventually, report

from borne.core.deps import Deps
from borne.core.errors import Conflict, InvalidInput, StationCallError
from borne.firmware import service
from borne.firmware.schemas import CampaignOut, TargetOut
from borne.firmware.wiring import Firmware
from borne.stations.events import StationConnectionChanged


async def start(deps: Deps, fw: Firmware, station_ids: list[str], **kw: object) -> int:
    fields: dict[str, object] = {
        "location": "https://fw.example/campaign.bin",
        "station_ids": station_ids,
        "start_at": datetime.now(UTC),
    }
    fields.update(kw)
    async with deps.db.unit_of_work() as uow:
        view = await service.create_campaign(
            uow,
            service.CampaignSpec(**fields),  # type: ignore[arg-type]
            now=datetime.now(UTC),
        )
        await uow.commit()
    fw.runner.wake()
    return view.campaign.id


async def summary(deps: Deps, campaign_id: int) -> CampaignOut:
    async with deps.db.unit_of_work() as uow:
        return CampaignOut.of(await service.get_campaign(uow, campaign_id))


async def targets(deps: Deps, campaign_id: int) -> dict[str, TargetOut]:
    async with deps.db.unit_of_work() as uow:
        rows, _ = await service.list_targets(uow, campaign_id, state=None, offset=0, limit=500)
        return {r.station_id: TargetOut.model_validate(r) for r in rows}


async def until_state(deps: Deps, campaign_id: int, want: dict[str, str]) -> dict[str, TargetOut]:
    async def reached() -> bool:
        got = await targets(deps, campaign_id)
        return all(got[s].state == state for s, state in want.items())

    await eventually(reached)
    return await targets(deps, campaign_id)


def request_id(cp: FakeStation) -> int:
    payload = cp.calls[-1][1]
    rid: int = payload["requestId"]
    return rid


async def test_campaign_progress_failures_and_completion(deps: Deps, firmware: Firmware) -> None:
    ids = ["C-OK201", "C-OK16", "C-REJ", "C-ERR", "C-OFF"]
    for sid in ids:
        await add_station(deps, sid)
    ok201, ok16 = connect(deps, "C-OK201"), connect(deps, "C-OK16", "ocpp1.6")
    rej, err = connect(deps, "C-REJ"), connect(deps, "C-ERR")
    rej.answers = ["Rejected"]
    err.answers = [
        StationCallError("NotImplemented", "no"),
        StationCallError("NotImplemented", "no"),
    ]
    cid = await start(deps, firmware, ids, max_attempts=2, retry_interval_s=1, offline_deadline_s=0)
    got = await until_state(
        deps,
        cid,
        {"C-OK201": "sent", "C-OK16": "sent", "C-REJ": "failed", "C-OFF": "failed"},
    )
    assert (got["C-REJ"].reason, got["C-OFF"].reason) == ("Rejected", "Offline")
    assert ok16.calls[0][0] == "UpdateFirmware" and ok201.calls[0][0] == "UpdateFirmware"
    got = await until_state(deps, cid, {"C-ERR": "failed"})
    assert (got["C-ERR"].reason, got["C-ERR"].attempts, len(err.calls)) == ("NotImplemented", 2, 2)

    for status in ("Downloading", "Downloaded", "Installing"):
        await report(deps, "C-OK201", status, request_id(ok201))
        await report(deps, "C-OK16", status, None)  # 1.6: the station's latest update
    await until_state(deps, cid, {"C-OK201": "installing", "C-OK16": "installing"})
    assert (await summary(deps, cid)).status == "running"
    await report(deps, "C-OK201", "Installed", request_id(ok201))
    await report(deps, "C-OK16", "InstallationFailed", None)
    got = await until_state(deps, cid, {"C-OK201": "installed", "C-OK16": "failed"})
    assert got["C-OK16"].reason == "InstallationFailed"

    async def completed() -> bool:
        return (await summary(deps, cid)).status == "completed"

    await eventually(completed)
    out = await summary(deps, cid)
    assert out.total == 5 and out.counts["installed"] == 1 and out.counts["failed"] == 4


async def test_concurrency_limit_and_late_progress(deps: Deps, firmware: Firmware) -> None:
    ids = [f"CC-{i}" for i in range(5)]
    stations = {}
    for sid in ids:
        await add_station(deps, sid)
        stations[sid] = connect(deps, sid)
    cid = await start(deps, firmware, ids, concurrency=2)

    async def two_sent() -> bool:
        return (await summary(deps, cid)).counts["sent"] == 2

    await eventually(two_sent)
    await _settle()
    assert sum(len(s.calls) for s in stations.values()) == 2  # the limit holds
    first = next(s for s in stations.values() if s.calls)
    await report(deps, first.station_id, "Installed", request_id(first))

    async def three_called() -> bool:
        return sum(len(s.calls) for s in stations.values()) == 3

    await eventually(three_called)  # the freed slot went to the next station
    assert (await summary(deps, cid)).counts["pending"] == 2


async def test_offline_station_is_sent_when_it_connects(deps: Deps, firmware: Firmware) -> None:
    await add_station(deps, "C-LATE")
    cid = await start(deps, firmware, ["C-LATE"], retry_interval_s=3600)
    await until_state(deps, cid, {"C-LATE": "pending"})
    await _settle()
    late = connect(deps, "C-LATE")
    await deps.bus.publish([StationConnectionChanged("C-LATE", True, datetime.now(UTC))])
    await until_state(deps, cid, {"C-LATE": "sent"})
    assert late.calls and late.calls[0][0] == "UpdateFirmware"


async def test_no_progress_fails_after_timeout(deps: Deps, firmware: Firmware) -> None:
    await add_station(deps, "C-MUTE")
    connect(deps, "C-MUTE")
    cid = await start(deps, firmware, ["C-MUTE"], progress_timeout_s=1)
    got = await until_state(deps, cid, {"C-MUTE": "failed"})
    assert got["C-MUTE"].reason == "NoProgress"


async def test_cancel_stops_pending_stations(deps: Deps, firmware: Firmware) -> None:
    for sid in ("X-1", "X-2"):
        await add_station(deps, sid)
    future = datetime(2999, 1, 1, tzinfo=UTC)
    cid = await start(deps, firmware, ["X-1", "X-2"], start_at=future)
    async with deps.db.unit_of_work() as uow:
        view = await service.cancel_campaign(uow, cid, now=datetime.now(UTC))
        out = CampaignOut.of(view)
        await uow.commit()
    assert out.status == "cancelled" and out.counts["cancelled"] == 2
    async with deps.db.unit_of_work() as uow:
        with pytest.raises(Conflict):
            await service.cancel_campaign(uow, cid, now=datetime.now(UTC))


async def test_unknown_stations_are_refused(deps: Deps, firmware: Firmware) -> None:
    await add_station(deps, "K-1")
    with pytest.raises(InvalidInput) as exc:
        await start(deps, firmware, ["K-1", "NOPE"])
    assert exc.value.details == {"station_ids": ["NOPE"]}


async def _settle() -> None:
    """Give the runner a few polls to do what it should not."""
    import asyncio

    await asyncio.sleep(0.3)
