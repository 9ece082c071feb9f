"""Webhooks end to end: a real HTTP receiver on a loopback port verifies each signature, fails
the first deliveries to prove retries, and the pending ones survive a restart of Borne."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from helpers import (
    BorneServer,
    connect16,
    create_id_token,
    create_station,
    now_iso,
    start_server,
    stop_server,
    unique_id,
)
from ocpp.v16 import call as call16

from borne.notifications.signing import verify

FAST = {
    "webhook_allow_http": True,
    "webhook_poll_interval_s": 0.1,
    "webhook_backoff_base_s": 0.2,
    "webhook_backoff_max_s": 0.5,
    "webhook_ended_grace_s": 0.5,
}


class HttpReceiver:
    """A minimal HTTP/1.1 server (``asyncio.start_server``): one request per connection,
    answered 503 while ``fail_next`` > 0, else 204. Keeps what it received."""

    def __init__(self) -> None:
        self.secret = ""
        self.fail_next = 0
        self.received: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()
        self.port = 0
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/borne"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in lines[1:] if line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            ok = verify(self.secret, headers.get("borne-signature", ""), body, now=int(time.time()))
            failing = self.fail_next > 0
            if failing:
                self.fail_next -= 1
            self.received.append(
                {
                    "request_line": lines[0],
                    "headers": headers,
                    "json": json.loads(body),
                    "verified": ok,
                    "answered": 503 if failing else 204,
                }
            )
            status = "503 Service Unavailable" if failing else "204 No Content"
            if not ok:
                status = "401 Unauthorized"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
            )
            await writer.drain()
            self.arrived.set()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def accepted(self, event_type: str) -> list[dict[str, Any]]:
        return [
            r["json"]
            for r in self.received
            if r["answered"] == 204 and r["json"]["type"] == event_type
        ]

    async def wait_for(self, event_type: str, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while not self.accepted(event_type):
            if time.monotonic() > deadline:
                raise AssertionError(f"no {event_type} delivered; got {self.received}")
            await asyncio.sleep(0.05)
        return self.accepted(event_type)[0]


@pytest.fixture
async def receiver() -> AsyncIterator[HttpReceiver]:
    r = HttpReceiver()
    await r.start()
    try:
        yield r
    finally:
        await r.stop()


async def subscribe(server: BorneServer, receiver: HttpReceiver, types: list[str]) -> int:
    async with server.api() as api:
        r = await api.post(
            "/webhooks/subscriptions",
            json={"url": receiver.url, "event_types": types, "soc_threshold": 80},
        )
        assert r.status_code == 201, r.text
        out = r.json()
        receiver.secret = out["secret"]
        assert out["secret"].startswith("whsec_")
        listed = (await api.get(f"/webhooks/subscriptions/{out['id']}")).json()
        assert "secret" not in listed  # shown once, never again (R27)
        sub_id: int = out["id"]
        return sub_id


def mv(tx_id: int, wh: int, soc: int) -> Any:
    return call16.MeterValues(
        connector_id=1,
        transaction_id=tx_id,
        meter_value=[
            {
                "timestamp": now_iso(),
                "sampled_value": [
                    {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                    {"value": str(soc), "measurand": "SoC", "unit": "Percent"},
                ],
            }
        ],
    )


async def test_session_webhooks_with_retries(db_url: str, receiver: HttpReceiver) -> None:
    server = await start_server(db_url, **FAST)
    try:
        sub = await subscribe(
            server, receiver, ["session.started", "session.soc_threshold", "session.ended"]
        )
        receiver.fail_next = 2
        station, tag = unique_id("WH"), unique_id("TAG")[:20]
        async with server.api() as api:
            await create_station(api, station)
            await create_id_token(api, tag)
        async with connect16(server, station) as cp:
            await cp.boot()
            start = await cp.call(
                call16.StartTransaction(
                    connector_id=1, id_tag=tag, meter_start=0, timestamp=now_iso()
                )
            )
            tx_id = start.transaction_id
            started = await receiver.wait_for("session.started")
            for wh, soc in ((1000, 70), (2000, 79), (3000, 82), (4000, 90)):
                await cp.call(mv(tx_id, wh, soc))
            soc_event = await receiver.wait_for("session.soc_threshold")
            await cp.call(
                call16.StopTransaction(
                    transaction_id=tx_id, meter_stop=4500, timestamp=now_iso(), reason="Local"
                )
            )
            ended = await receiver.wait_for("session.ended")

        assert all(r["verified"] for r in receiver.received)
        assert all(r["request_line"] == "POST /hooks/borne HTTP/1.1" for r in receiver.received)
        firsts = [r for r in receiver.received if r["json"]["type"] == "session.started"]
        assert [r["answered"] for r in firsts] == [503, 503, 204]  # retried, same event id
        assert len({r["json"]["id"] for r in firsts}) == 1
        assert [r["headers"]["borne-delivery-attempt"] for r in firsts] == ["1", "2", "3"]
        assert started["data"]["id_token"] == tag
        assert (soc_event["data"]["soc"], soc_event["data"]["previous_soc"]) == ("82", "79")
        assert ended["data"]["energy_wh"] == "4500" and ended["data"]["stop_reason"] == "Local"
        assert len(receiver.accepted("session.soc_threshold")) == 1

        async with server.api() as api:
            log = (await api.get(f"/webhooks/subscriptions/{sub}/deliveries")).json()
        by_type = {d["event_type"]: d for d in log["items"]}
        assert by_type["session.started"]["status"] == "delivered"
        assert [a["status_code"] for a in by_type["session.started"]["log"]] == [503, 503, 204]
        assert log["total"] == 3
    finally:
        await stop_server(server)


async def test_pending_deliveries_are_sent_after_a_restart(
    db_url: str, receiver: HttpReceiver
) -> None:
    server = await start_server(db_url, **{**FAST, "webhook_backoff_base_s": 60})
    try:
        sub = await subscribe(server, receiver, ["session.started"])
        receiver.fail_next = 1
        station, tag = unique_id("WH"), unique_id("TAG")[:20]
        async with server.api() as api:
            await create_station(api, station)
            await create_id_token(api, tag)
        async with connect16(server, station) as cp:
            await cp.boot()
            await cp.call(
                call16.StartTransaction(
                    connector_id=1, id_tag=tag, meter_start=0, timestamp=now_iso()
                )
            )
            await asyncio.wait_for(receiver.arrived.wait(), 10)  # the first attempt failed
    finally:
        await stop_server(server)
    assert [r["answered"] for r in receiver.received] == [503]

    # Next attempt is a minute away: make it due now, as if the restart came later.
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(db_url)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE webhook_deliveries SET next_attempt_at = created_at"))
    await engine.dispose()

    server = await start_server(db_url, **FAST)
    try:
        event = await receiver.wait_for("session.started")
        async with server.api() as api:
            log = (await api.get(f"/webhooks/subscriptions/{sub}/deliveries")).json()
        (delivery,) = log["items"]
        assert delivery["status"] == "delivered" and delivery["event_id"] == event["id"]
        assert [a["status_code"] for a in delivery["log"]] == [503, 204]
    finally:
        await stop_server(server)


async def test_plain_http_needs_the_setting(borne_server: BorneServer) -> None:
    async with borne_server.api() as api:
        r = await api.post(
            "/webhooks/subscriptions",
            json={"url": "http://127.0.0.1:1/x", "event_types": ["session.started"]},
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input"
        r = await api.post(
            "/webhooks/subscriptions",
            json={"url": "https://example.test/x", "event_types": ["session.nope"]},
        )
        assert r.status_code == 422
