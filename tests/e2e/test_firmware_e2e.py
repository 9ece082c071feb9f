"""Firmware end to end: the ``ocpp`` package's ChargePoints (1.6 and 2.0.1) over real sockets,
the operator API over HTTP.

- One station per version: UpdateFirmware, then the station's FirmwareStatusNotifications seen
  per station in ``/stations/{id}/firmware``; the 1.6 Security whitepaper's SignedUpdateFirmware
  with SignedFirmwareStatusNotification; a signed 2.0.1 UpdateFirmware.
- A campaign over 20 stations (10 of each version): most install, some fail to download or
  install, one refuses, one never connects; progress, reasons and the concurrency limit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from helpers import (
    BorneServer,
    Station16,
    Station201,
    create_station,
    get_json,
    open_ws,
    start_server,
    stop_server,
    unique_id,
)
from ocpp.routing import after, on
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

INSTALLED = ["Downloading", "Downloaded", "Installing", "Installed"]
CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"
SIGNATURE = "c2lnbmF0dXJl"


class InFlight:
    """Stations that received an update and have not yet reported an outcome."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0

    def begin(self) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)

    def end(self) -> None:
        self.now -= 1


class _Firmware:
    """Answers firmware updates with ``self.reply`` and then reports ``self.plan``."""

    plan: list[str]
    reply: str
    in_flight: InFlight | None
    tasks: set[asyncio.Task[None]]

    def _init_firmware(self, plan: list[str], reply: str, in_flight: InFlight | None) -> None:
        self.plan, self.reply, self.in_flight, self.tasks = plan, reply, in_flight, set()

    def _start_progress(self, request_id: int | None, signed: bool) -> None:
        if self.reply != "Accepted":
            return
        if self.in_flight is not None:
            self.in_flight.begin()
        task = asyncio.get_running_loop().create_task(self._progress(request_id, signed))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _progress(self, request_id: int | None, signed: bool) -> None:
        try:
            for status in self.plan:
                await asyncio.sleep(0.05)
                if status == self.plan[-1] and self.in_flight is not None:
                    self.in_flight.end()  # before the last report: Borne may free the slot now
                await self._report(status, request_id, signed)
        except Exception:  # the test ended and the socket closed
            pass

    async def _report(self, status: str, request_id: int | None, signed: bool) -> None:
        raise NotImplementedError


class FwStation16(Station16, _Firmware):
    @on("UpdateFirmware")
    def on_update_firmware(self, **kw: Any) -> Any:
        self._record("UpdateFirmware", kw)
        return result16.UpdateFirmware()

    @after("UpdateFirmware")
    def after_update_firmware(self, **kw: Any) -> None:
        self._start_progress(None, signed=False)

    @on("SignedUpdateFirmware")
    def on_signed_update_firmware(self, **kw: Any) -> Any:
        self._record("SignedUpdateFirmware", kw)
        return result16.SignedUpdateFirmware(status=self.reply)

    @after("SignedUpdateFirmware")
    def after_signed_update_firmware(self, **kw: Any) -> None:
        self._start_progress(kw["request_id"], signed=True)

    async def _report(self, status: str, request_id: int | None, signed: bool) -> None:
        if signed:
            await self.call(
                call16.SignedFirmwareStatusNotification(status=status, request_id=request_id)
            )
        else:
            await self.call(call16.FirmwareStatusNotification(status=status))


class FwStation201(Station201, _Firmware):
    @on("UpdateFirmware")
    def on_update_firmware(self, **kw: Any) -> Any:
        self._record("UpdateFirmware", kw)
        return result201.UpdateFirmware(status=self.reply)

    @after("UpdateFirmware")
    def after_update_firmware(self, **kw: Any) -> None:
        self._start_progress(kw["request_id"], signed=False)

    async def _report(self, status: str, request_id: int | None, signed: bool) -> None:
        await self.call(call201.FirmwareStatusNotification(status=status, request_id=request_id))


@contextlib.asynccontextmanager
async def station(
    server: BorneServer,
    station_id: str,
    version: str,
    *,
    plan: list[str] = INSTALLED,
    reply: str = "Accepted",
    in_flight: InFlight | None = None,
) -> AsyncIterator[FwStation16 | FwStation201]:
    """A booted station of ``version`` that handles firmware updates as scripted."""
    ws = await open_ws(server, station_id, "ocpp1.6" if version == "1.6" else "ocpp2.0.1")
    cp = (FwStation16 if version == "1.6" else FwStation201)(station_id, ws)
    cp._init_firmware(plan, reply, in_flight)
    task = asyncio.get_running_loop().create_task(cp.start())
    try:
        await cp.boot()
        yield cp
    finally:
        task.cancel()
        for t in list(cp.tasks):
            t.cancel()
        await ws.close()
        await asyncio.gather(task, *cp.tasks, return_exceptions=True)


@pytest.fixture
async def server(db_url: str) -> AsyncIterator[BorneServer]:
    """Borne as bootstrap builds it; the campaign runner polls fast so campaigns finish soon."""
    borne = await start_server(db_url, firmware_poll_interval_s=0.2)
    try:
        yield borne
    finally:
        await stop_server(borne)


async def _created(server: BorneServer, prefix: str) -> str:
    station_id = unique_id(prefix)
    async with server.api() as api:
        await create_station(api, station_id)
    return station_id


async def _firmware_of(server: BorneServer, station_id: str) -> dict[str, Any]:
    async with server.api() as api:
        out: dict[str, Any] = await get_json(api, f"/stations/{station_id}/firmware")
    return out


async def _until(check: Any, timeout: float = 20.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


async def _installed(server: BorneServer, station_id: str, final: str = "Installed") -> Any:
    async def done() -> Any:
        fw = await _firmware_of(server, station_id)
        current = fw["current"]
        return fw if current and current["status"] == final else None

    return await _until(done)


# ------------------------------------------------------------------ one station


async def test_update_firmware_v16(server: BorneServer) -> None:
    station_id = await _created(server, "FW16")
    async with station(server, station_id, "1.6") as cp, server.api() as api:
        r = await api.post(
            f"/stations/{station_id}/firmware",
            json={"location": "https://fw.example/16.bin", "retries": 3, "retry_interval_s": 60},
        )
        assert r.status_code == 200, r.text
        assert r.json()["update"]["action"] == "UpdateFirmware"
        got = await cp.received("UpdateFirmware")
        assert got["location"] == "https://fw.example/16.bin"
        assert (got["retries"], got["retry_interval"]) == (3, 60) and got["retrieve_date"]
        fw = await _installed(server, station_id)
    assert [h["status"] for h in reversed(fw["history"])] == INSTALLED
    assert all(h["update_id"] == fw["current"]["request_id"] for h in fw["history"])


async def test_signed_update_firmware_v16_security(server: BorneServer) -> None:
    station_id = await _created(server, "FW16S")
    plan = ["Downloading", "Downloaded", "SignatureVerified", "Installing", "Installed"]
    async with station(server, station_id, "1.6", plan=plan) as cp, server.api() as api:
        r = await api.post(
            f"/stations/{station_id}/firmware",
            json={
                "location": "https://fw.example/16s.bin",
                "signing_certificate": CERT,
                "signature": SIGNATURE,
            },
        )
        assert r.status_code == 200, r.text
        update = r.json()["update"]
        assert (update["action"], update["signed"]) == ("SignedUpdateFirmware", True)
        got = await cp.received("SignedUpdateFirmware")
        assert got["request_id"] == update["request_id"]
        assert got["firmware"]["signature"] == SIGNATURE
        assert got["firmware"]["signing_certificate"] == CERT
        fw = await _installed(server, station_id)
    assert {h["kind"] for h in fw["history"]} == {"signed_firmware"}
    assert [h["request_id"] for h in fw["history"]] == [update["request_id"]] * len(plan)


async def test_signed_update_firmware_v201(server: BorneServer) -> None:
    station_id = await _created(server, "FW201")
    plan = ["Downloading", "Downloaded", "InvalidSignature"]
    async with station(server, station_id, "2.0.1", plan=plan) as cp, server.api() as api:
        r = await api.post(
            f"/stations/{station_id}/firmware",
            json={
                "location": "https://fw.example/201.bin",
                "install_at": "2030-01-01T00:00:00Z",
                "signing_certificate": CERT,
                "signature": SIGNATURE,
            },
        )
        assert r.status_code == 200, r.text
        update = r.json()["update"]
        got = await cp.received("UpdateFirmware")
        assert got["request_id"] == update["request_id"]
        assert got["firmware"]["install_date_time"].startswith("2030-01-01T00:00:00")
        fw = await _installed(server, station_id, final="InvalidSignature")
    assert fw["current"]["reason"] == "InvalidSignature"


async def test_update_firmware_refused_and_offline(server: BorneServer) -> None:
    station_id = await _created(server, "FWX")
    async with station(server, station_id, "2.0.1", reply="Rejected"), server.api() as api:
        r = await api.post(f"/stations/{station_id}/firmware", json={"location": "ftp://x/y"})
        assert r.status_code == 200, r.text
        assert r.json()["update"]["status"] == "Rejected"
    async with server.api() as api:
        r = await api.post(f"/stations/{station_id}/firmware", json={"location": "ftp://x/y"})
        assert r.status_code == 409, r.text


# ------------------------------------------------------------------ a campaign


async def test_campaign_over_20_stations_reports_progress_and_reasons(
    server: BorneServer,
) -> None:
    download_failed = ["Downloading", "DownloadFailed"]
    install_failed = ["Downloading", "Downloaded", "Installing", "InstallationFailed"]
    # (version, plan, answer, expected state, expected reason)
    script: list[tuple[str, list[str], str, str, str | None]] = []
    for version in ("1.6", "2.0.1"):
        script += [(version, INSTALLED, "Accepted", "installed", None)] * 6
        script += [(version, download_failed, "Accepted", "failed", "DownloadFailed")]
        script += [(version, install_failed, "Accepted", "failed", "InstallationFailed")]
    script += [("1.6", download_failed, "Accepted", "failed", "DownloadFailed")]
    script += [("2.0.1", install_failed, "Accepted", "failed", "InstallationFailed")]
    script += [("2.0.1", INSTALLED, "Rejected", "failed", "Rejected")]
    ids = [await _created(server, f"CAMP{i:02d}") for i in range(len(script))]
    offline = await _created(server, "CAMPOFF")
    assert len(ids) + 1 == 20
    in_flight = InFlight()
    async with contextlib.AsyncExitStack() as stack:
        for sid, (version, plan, reply, _, _) in zip(ids, script, strict=True):
            await stack.enter_async_context(
                station(server, sid, version, plan=plan, reply=reply, in_flight=in_flight)
            )
        async with server.api() as api:
            r = await api.post(
                "/firmware/campaigns",
                json={
                    "name": "v2.5 rollout",
                    "location": "https://fw.example/v2.5.bin",
                    "station_ids": [*ids, offline],
                    "concurrency": 5,
                    "offline_deadline_s": 1,
                    "retry_interval_s": 1,
                },
            )
            assert r.status_code == 201, r.text
            campaign = r.json()
            assert campaign["total"] == 20 and campaign["counts"]["pending"] == 20

            async def completed() -> Any:
                out = await get_json(api, f"/firmware/campaigns/{campaign['id']}")
                return out if out["status"] == "completed" else None

            summary = await _until(completed, timeout=60)
            page = await get_json(api, f"/firmware/campaigns/{campaign['id']}/stations")
            failed = await get_json(
                api, f"/firmware/campaigns/{campaign['id']}/stations", state="failed"
            )
            listed = await get_json(api, "/firmware/campaigns")
            per_station = await get_json(api, f"/stations/{ids[0]}/firmware")
    assert summary["counts"]["installed"] == 12 and summary["counts"]["failed"] == 8
    assert summary["total"] == 20 and summary["finished_at"] is not None
    rows = {row["station_id"]: row for row in page["items"]}
    for sid, (_, _, _, state, reason) in zip(ids, script, strict=True):
        assert (rows[sid]["state"], rows[sid]["reason"]) == (state, reason), sid
    assert (rows[offline]["state"], rows[offline]["reason"]) == ("failed", "Offline")
    assert failed["total"] == 8 and {r["station_id"] for r in failed["items"]} >= {offline}
    assert 1 <= in_flight.peak <= 5  # the concurrency limit held
    assert listed["items"][0]["id"] == campaign["id"]
    assert per_station["current"]["campaign_id"] == campaign["id"]
    assert per_station["current"]["status"] == "Installed"


async def test_campaign_cancel_and_bad_input(server: BorneServer) -> None:
    station_id = await _created(server, "CANC")
    async with server.api() as api:
        r = await api.post(
            "/firmware/campaigns",
            json={
                "location": "https://fw.example/x.bin",
                "station_ids": [station_id],
                "start_at": "2999-01-01T00:00:00Z",
            },
        )
        assert r.status_code == 201, r.text
        cid = r.json()["id"]
        r = await api.post(f"/firmware/campaigns/{cid}/cancel")
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["counts"]["cancelled"]) == ("cancelled", 1)
        assert (await api.post(f"/firmware/campaigns/{cid}/cancel")).status_code == 409
        assert (await api.get("/firmware/campaigns/999999")).status_code == 404
        r = await api.post(
            "/firmware/campaigns",
            json={"location": "https://fw.example/x.bin", "station_ids": ["NO-SUCH"]},
        )
        assert r.status_code == 422 and r.json()["error"]["details"]["station_ids"] == ["NO-SUCH"]
        r = await api.post(
            "/firmware/campaigns",
            json={
                "location": "https://fw.example/x.bin",
                "station_ids": [station_id],
                "signature": SIGNATURE,
            },
        )
        assert r.status_code == 422
