"""Display messages end to end (OCPP 2.0.1): the ``ocpp`` package's ChargePoint over a real
socket against the real server, driven through the operator API. SetDisplayMessage reaches the
station and is stored once accepted; GetDisplayMessages is answered by NotifyDisplayMessages
parts, stored as they come; ClearDisplayMessage removes it; a 1.6 station is refused with 422."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from helpers import (
    BorneServer,
    Station16,
    Station201,
    create_station,
    open_ws,
    start_server,
    stop_server,
    unique_id,
)
from ocpp.routing import on
from ocpp.v201 import call as call201


@pytest.fixture
async def borne(db_url: str) -> AsyncIterator[BorneServer]:
    server = await start_server(db_url)
    try:
        yield server
    finally:
        await stop_server(server)


class Display201(Station201):
    @on("SetDisplayMessage")
    def on_set(self, **kw: Any) -> Any:
        return self._reply("SetDisplayMessage", kw, {"status": "Accepted"})

    @on("GetDisplayMessages")
    def on_get(self, **kw: Any) -> Any:
        return self._reply("GetDisplayMessages", kw, {"status": "Accepted"})

    @on("ClearDisplayMessage")
    def on_clear(self, **kw: Any) -> Any:
        return self._reply("ClearDisplayMessage", kw, {"status": "Accepted"})


@contextlib.asynccontextmanager
async def online(
    borne: BorneServer, ocpp: str = "2.0.1"
) -> AsyncIterator[tuple[Display201 | Station16, str]]:
    station_id = unique_id("DM")
    async with borne.api() as api:
        await create_station(api, station_id)
    ws = await open_ws(borne, station_id, "ocpp1.6" if ocpp == "1.6" else "ocpp2.0.1")
    cp: Display201 | Station16 = (Station16 if ocpp == "1.6" else Display201)(station_id, ws)
    task = asyncio.get_running_loop().create_task(cp.start())
    try:
        await cp.boot()
        yield cp, station_id
    finally:
        task.cancel()
        await ws.close()
        await asyncio.gather(task, return_exceptions=True)


async def listed(api: httpx.AsyncClient, sid: str) -> list[dict[str, Any]]:
    r = await api.get(f"/stations/{sid}/display-messages")
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def test_set_get_notify_and_clear_display_messages(borne: BorneServer) -> None:
    async with online(borne) as (cp, sid), borne.api() as api:
        r = await api.post(
            f"/stations/{sid}/display-messages",
            json={
                "content": "Free charging until 18:00",
                "language": "en",
                "priority": "InFront",
                "end_date_time": "2030-01-01T18:00:00Z",
            },
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "Accepted" and r.json()["message_id"] == 1
        got = await cp.received("SetDisplayMessage")
        assert got["message"]["id"] == 1 and got["message"]["priority"] == "InFront"
        assert got["message"]["message"] == {
            "format": "UTF8",
            "language": "en",
            "content": "Free charging until 18:00",
        }
        [row] = await listed(api, sid)
        assert row["origin"] == "set" and row["end_date_time"].startswith("2030-01-01T18:00")

        r = await api.post(f"/stations/{sid}/display-messages/report", json={"state": "Idle"})
        assert r.status_code == 200, r.text
        request_id = r.json()["request_id"]
        got = await cp.received("GetDisplayMessages")
        assert got == {"request_id": request_id, "state": "Idle"}
        for ids, tbc in [([1, 2], True), ([3], False)]:
            await cp.call(
                call201.NotifyDisplayMessages(
                    request_id=request_id,
                    tbc=tbc,
                    message_info=[
                        {
                            "id": i,
                            "priority": "NormalCycle",
                            "state": "Idle",
                            "message": {"format": "ASCII", "content": f"station message {i}"},
                        }
                        for i in ids
                    ],
                )
            )
        rows = await listed(api, sid)
        assert [(m["message_id"], m["origin"], m["content"]) for m in rows] == [
            (1, "reported", "station message 1"),
            (2, "reported", "station message 2"),
            (3, "reported", "station message 3"),
        ]

        r = await api.delete(f"/stations/{sid}/display-messages/2")
        assert r.status_code == 200 and r.json()["status"] == "Accepted"
        assert await cp.received("ClearDisplayMessage") == {"id": 2}
        assert [m["message_id"] for m in await listed(api, sid)] == [1, 3]


async def test_a_refused_message_is_not_stored(borne: BorneServer) -> None:
    async with online(borne) as (cp, sid), borne.api() as api:
        cp.answers["SetDisplayMessage"] = {"status": "NotSupportedMessageFormat"}
        r = await api.post(
            f"/stations/{sid}/display-messages", json={"content": "<b>hi</b>", "format": "HTML"}
        )
        assert r.json()["status"] == "NotSupportedMessageFormat"
        assert await listed(api, sid) == []


async def test_display_messages_on_16_are_refused(borne: BorneServer) -> None:
    async with online(borne, "1.6") as (_, sid), borne.api() as api:
        r = await api.post(f"/stations/{sid}/display-messages", json={"content": "x"})
        assert r.status_code == 422
        assert "2.0.1 only" in r.json()["error"]["message"]
