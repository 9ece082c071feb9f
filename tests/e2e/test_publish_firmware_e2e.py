"""Firmware publishing end to end (OCPP 2.0.1 L03/L04): the ``ocpp`` package's 2.0.1
ChargePoint plays a Local Controller over a real socket, the operator API is driven over HTTP.

- PublishFirmware with every field; the controller's PublishFirmwareStatusNotifications up to
  ``Published`` with its URIs, seen in ``/stations/{id}/firmware/publications``; then
  UnpublishFirmware marks the publication ``Unpublished`` and a late status does not revive it.
- A refused publish, a failed download (``InvalidChecksum``), an unpublish that finds nothing.
- A status carrying another station's requestId moves nothing; refusals: 1.6 (422), offline
  (409), malformed checksum (422), unknown station (404).
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
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

import borne.firmware.models  # noqa: F401  (its tables, for the schema the fixtures create)

CHECKSUM = "0123456789ABCDEF0123456789abcdef"
URIS = ["http://lc.local/fw.bin", "ftp://lc.local/fw.bin"]
PUBLISHED = ["DownloadScheduled", "Downloading", "Downloaded", "ChecksumVerified", "Published"]


class LocalController(Station201):
    """Answers PublishFirmware with ``reply`` and then reports ``plan`` (``Published`` with
    ``URIS``); answers UnpublishFirmware with ``unpublish_reply``."""

    reply = "Accepted"
    plan: list[str] = PUBLISHED
    unpublish_reply = "Unpublished"

    def _init_controller(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()

    @on("PublishFirmware")
    def on_publish_firmware(self, **kw: Any) -> Any:
        self._record("PublishFirmware", kw)
        return result201.PublishFirmware(status=self.reply)

    @after("PublishFirmware")
    def after_publish_firmware(self, **kw: Any) -> None:
        if self.reply == "Accepted":
            task = asyncio.get_running_loop().create_task(self._progress(kw["request_id"]))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _progress(self, request_id: int) -> None:
        with contextlib.suppress(Exception):  # the test ended and the socket closed
            for status in self.plan:
                await asyncio.sleep(0.02)
                await self.report(status, request_id)

    async def report(self, status: str, request_id: int | None) -> None:
        await self.call(
            call201.PublishFirmwareStatusNotification(
                status=status,
                request_id=request_id,
                location=URIS if status == "Published" else None,
            )
        )

    @on("UnpublishFirmware")
    def on_unpublish_firmware(self, **kw: Any) -> Any:
        self._record("UnpublishFirmware", kw)
        return result201.UnpublishFirmware(status=self.unpublish_reply)


@contextlib.asynccontextmanager
async def controller(server: BorneServer, station_id: str) -> AsyncIterator[LocalController]:
    ws = await open_ws(server, station_id, "ocpp2.0.1")
    cp = LocalController(station_id, ws)
    cp._init_controller()
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
    borne = await start_server(db_url)
    try:
        yield borne
    finally:
        await stop_server(borne)


async def _created(server: BorneServer) -> str:
    station_id = unique_id("LC")
    async with server.api() as api:
        await create_station(api, station_id)
    return station_id


async def _publications(server: BorneServer, station_id: str) -> list[dict[str, Any]]:
    async with server.api() as api:
        out: list[dict[str, Any]] = await get_json(
            api, f"/stations/{station_id}/firmware/publications"
        )
    return out


async def _until_status(server: BorneServer, station_id: str, status: str) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        rows = await _publications(server, station_id)
        if rows and rows[0]["status"] == status:
            return rows[0]
        assert asyncio.get_running_loop().time() < deadline, f"never {status}: {rows}"
        await asyncio.sleep(0.05)


async def test_publish_then_unpublish(server: BorneServer) -> None:
    station_id = await _created(server)
    async with controller(server, station_id) as cp, server.api() as api:
        r = await api.post(
            f"/stations/{station_id}/firmware/publish",
            json={
                "location": "https://fw.example.com/v2.bin",
                "checksum": CHECKSUM,
                "retries": 3,
                "retry_interval_s": 30,
            },
        )
        assert r.status_code == 200, r.text
        sent = r.json()
        assert sent["raw"] == {"status": "Accepted"}
        request_id = sent["publication"]["request_id"]
        asked = await cp.received("PublishFirmware")
        assert asked == {
            "request_id": request_id,
            "location": "https://fw.example.com/v2.bin",
            "checksum": CHECKSUM.lower(),
            "retries": 3,
            "retry_interval": 30,
        }
        published = await _until_status(server, station_id, "Published")
        assert published["request_id"] == request_id
        assert published["published_locations"] == URIS
        assert published["reason"] is None

        # L04: the controller removes the file; Borne marks the publication.
        r = await api.post(
            f"/stations/{station_id}/firmware/unpublish", json={"checksum": CHECKSUM}
        )
        assert r.status_code == 200, r.text
        assert r.json() == {
            "status": "Unpublished",
            "unpublished": [request_id],
            "raw": {"status": "Unpublished"},
        }
        assert (await cp.received("UnpublishFirmware"))["checksum"] == CHECKSUM
        [row] = await _publications(server, station_id)
        assert row["status"] == "Unpublished" and row["unpublished_at"] is not None
        assert row["published_locations"] == URIS  # where it was served, kept for the record

        # A late status of the removed file does not bring it back.
        await cp.report("Published", request_id)
        [row] = await _publications(server, station_id)
        assert row["status"] == "Unpublished"


async def test_refused_and_failed_publications(server: BorneServer) -> None:
    station_id = await _created(server)
    async with controller(server, station_id) as cp, server.api() as api:
        cp.reply = "Rejected"
        body = {"location": "https://fw.example.com/a.bin", "checksum": CHECKSUM}
        r = await api.post(f"/stations/{station_id}/firmware/publish", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["publication"]["status"] == "Rejected"

        cp.reply, cp.plan = "Accepted", ["Downloading", "Downloaded", "InvalidChecksum"]
        r = await api.post(f"/stations/{station_id}/firmware/publish", json=body)
        failed = await _until_status(server, station_id, "InvalidChecksum")
        assert failed["request_id"] == r.json()["publication"]["request_id"]
        assert failed["reason"] == "InvalidChecksum"
        assert failed["published_locations"] is None

        # Nothing published under that checksum on the controller: nothing is marked.
        cp.unpublish_reply = "NoFirmware"
        r = await api.post(
            f"/stations/{station_id}/firmware/unpublish", json={"checksum": "f" * 32}
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "NoFirmware" and r.json()["unpublished"] == []
        statuses = [p["status"] for p in await _publications(server, station_id)]
        assert statuses == ["InvalidChecksum", "Rejected"]  # newest first


async def test_status_of_another_station_moves_nothing(server: BorneServer) -> None:
    owner, other = await _created(server), await _created(server)
    async with controller(server, owner) as cp, controller(server, other) as intruder:
        cp.plan = ["Downloading"]
        async with server.api() as api:
            r = await api.post(
                f"/stations/{owner}/firmware/publish",
                json={"location": "https://fw.example.com/b.bin", "checksum": CHECKSUM},
            )
        request_id = r.json()["publication"]["request_id"]
        await _until_status(server, owner, "Downloading")
        await intruder.report("PublishFailed", request_id)  # answered {}, attributed to nothing
        [row] = await _publications(server, owner)
        assert row["status"] == "Downloading"
        assert await _publications(server, other) == []


async def test_refusals(server: BorneServer) -> None:
    body = {"location": "https://fw.example.com/c.bin", "checksum": CHECKSUM}
    v16_id, offline_id = await _created(server), await _created(server)
    ws = await open_ws(server, v16_id, "ocpp1.6")
    cp16 = Station16(v16_id, ws)
    task = asyncio.get_running_loop().create_task(cp16.start())
    try:
        await cp16.boot()
        async with server.api() as api:
            r = await api.post(f"/stations/{v16_id}/firmware/publish", json=body)
            assert r.status_code == 422, r.text
            r = await api.post(
                f"/stations/{v16_id}/firmware/unpublish", json={"checksum": CHECKSUM}
            )
            assert r.status_code == 422, r.text
            assert await _publications(server, v16_id) == []  # nothing stored
            r = await api.post(f"/stations/{offline_id}/firmware/publish", json=body)
            assert r.status_code == 409, r.text
            bad = {"location": "https://fw.example.com/c.bin", "checksum": "not-md5"}
            r = await api.post(f"/stations/{offline_id}/firmware/publish", json=bad)
            assert r.status_code == 422, r.text
            r = await api.get(f"/stations/{unique_id('NONE')}/firmware/publications")
            assert r.status_code == 404, r.text
    finally:
        task.cancel()
        await ws.close()
        await asyncio.gather(task, return_exceptions=True)
