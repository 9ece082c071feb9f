"""Reliability behaviours of /work/shared/RELIABILITY.md, over real sockets (R1, R3, R8, R9,
R16, R18, R23). Frames are written by hand (``RawStation``) where message ids matter."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import pytest
from helpers import (
    BOOT16,
    BOOT201,
    PASSWORD,
    BorneServer,
    RawStation,
    basic_auth,
    command,
    connect16,
    create_id_token,
    create_station,
    get_json,
    items,
    meter_values_of,
    now_iso,
    open_ws,
    raw_connect,
    start_server,
    station_detail,
    stop_server,
    transactions_of,
    unique_id,
)
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol


async def _station(server: BorneServer, **kw: Any) -> str:
    station_id = unique_id("R")
    async with server.api() as api:
        await create_station(api, station_id, **kw)
    return station_id


def _register(wh: int, context: str | None = None) -> dict[str, Any]:
    sv: dict[str, Any] = {"value": str(wh), "measurand": "Energy.Active.Import.Register"}
    if context:
        sv["context"] = context
    return sv


def _start16(tag: str, meter: int = 1000, connector: int = 1) -> dict[str, Any]:
    return {
        "connectorId": connector,
        "idTag": tag,
        "meterStart": meter,
        "timestamp": now_iso(-120),
    }


def _stop16(tx_id: int, meter: int = 4000) -> dict[str, Any]:
    at = now_iso(-5)
    return {
        "transactionId": tx_id,
        "meterStop": meter,
        "timestamp": at,
        "reason": "Local",
        "transactionData": [
            {"timestamp": now_iso(-60), "sampledValue": [_register(2500)]},
            {"timestamp": at, "sampledValue": [_register(meter, "Transaction.End")]},
        ],
    }


def _tx201(
    event_type: str, seq_no: int, tx_id: str, wh: int, at: float, **extra: Any
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "eventType": event_type,
        "timestamp": now_iso(at),
        "triggerReason": "Authorized" if event_type == "Started" else "EVCommunicationLost",
        "seqNo": seq_no,
        "transactionInfo": {"transactionId": tx_id},
        "meterValue": [
            {
                "timestamp": now_iso(at),
                "sampledValue": [{"value": wh, "measurand": "Energy.Active.Import.Register"}],
            }
        ],
    }
    payload.update(extra)
    return payload


async def _booted(raw: RawStation, version: str) -> None:
    boot = await raw.result("BootNotification", BOOT16 if version == "1.6" else BOOT201)
    assert boot["status"] == "Accepted"


# --------------------------------------------------------------------------------------- R8


async def test_r8_stop_transaction_retried_with_new_message_id(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server)
    async with borne_server.api() as api:
        await create_id_token(api, "R8-TAG")
    async with raw_connect(borne_server, station_id, "ocpp1.6") as raw:
        await _booted(raw, "1.6")
        tx_id = (await raw.result("StartTransaction", _start16("R8-TAG")))["transactionId"]
        stop = _stop16(tx_id)
        first = await raw.call("StopTransaction", stop, message_id="stop-1")
        retry = await raw.call("StopTransaction", stop, message_id="stop-2")
        assert first[0] == 3 and retry[0] == 3
        assert first[2] == retry[2]  # the same idTagInfo, twice
    async with borne_server.api() as api:
        [tx] = await transactions_of(api, station_id)
        assert tx["state"] == "ended"
        assert "repeated_stop" not in tx["flags"]
        values = await meter_values_of(api, tx["id"])
        assert [Decimal(v["value"]) for v in values] == [2500, 4000]
        detail = await get_json(api, f"/transactions/{tx['id']}")
        assert Decimal(detail["energy_wh"]) == 3000


async def test_r8_transaction_ended_retried_with_new_message_id(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server)
    tx_id = str(uuid.uuid4())
    async with raw_connect(borne_server, station_id, "ocpp2.0.1") as raw:
        await _booted(raw, "2.0.1")
        await raw.result("TransactionEvent", _tx201("Started", 0, tx_id, 100, -60))
        ended = _tx201("Ended", 1, tx_id, 900, -1)
        ended["transactionInfo"]["stoppedReason"] = "Local"
        first = await raw.call("TransactionEvent", ended, message_id="end-1")
        retry = await raw.call("TransactionEvent", ended, message_id="end-2")
        assert first[0] == 3 and retry[0] == 3
    async with borne_server.api() as api:
        [tx] = await transactions_of(api, station_id)
        assert (tx["state"], tx["stop_reason"]) == ("ended", "Local")
        values = await meter_values_of(api, tx["id"])
        assert [Decimal(v["value"]) for v in values] == [100, 900]
        detail = await get_json(api, f"/transactions/{tx['id']}")
        assert Decimal(detail["energy_wh"]) == 800


# --------------------------------------------------------------------------------------- R9


async def test_r9_start_transaction_retried_returns_the_same_id(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server)
    async with borne_server.api() as api:
        await create_id_token(api, "R9-TAG")
    async with raw_connect(borne_server, station_id, "ocpp1.6") as raw:
        await _booted(raw, "1.6")
        start = _start16("R9-TAG")
        first = await raw.result("StartTransaction", start, message_id="start-1")
        # the reply was "lost": the station sends the same start again with a new message id
        retry = await raw.result("StartTransaction", start, message_id="start-2")
        assert retry["transactionId"] == first["transactionId"]
        assert retry["idTagInfo"]["status"] == first["idTagInfo"]["status"] == "Accepted"
    async with borne_server.api() as api:
        [tx] = await transactions_of(api, station_id)
        assert tx["transaction_id"] == str(first["transactionId"])
        assert "concurrent_tx" not in tx["flags"]


# --------------------------------------------------------------------------------------- R3


async def test_r3_repeated_call_gets_the_same_reply_and_is_applied_once_16(
    borne_server: BorneServer,
) -> None:
    station_id = await _station(borne_server)
    async with raw_connect(borne_server, station_id, "ocpp1.6") as raw:
        await _booted(raw, "1.6")
        status = {"connectorId": 1, "errorCode": "NoError", "status": "Faulted"}
        first = await raw.call("StatusNotification", status, message_id="same-id")
        again = await raw.call("StatusNotification", status, message_id="same-id")
        assert first == again == [3, "same-id", {}]
        beat = await raw.call("Heartbeat", {}, message_id="beat-1")
        await asyncio.sleep(0.01)
        beat_again = await raw.call("Heartbeat", {}, message_id="beat-1")
        assert beat_again == beat  # the cached reply, currentTime included
    async with borne_server.api() as api:
        history = await items(api, f"/stations/{station_id}/status-history")
        assert [h["status"] for h in history] == ["Faulted"]


async def test_r3_repeated_call_is_applied_once_201(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server)
    tx_id = str(uuid.uuid4())
    async with raw_connect(borne_server, station_id, "ocpp2.0.1") as raw:
        await _booted(raw, "2.0.1")
        await raw.result("TransactionEvent", _tx201("Started", 0, tx_id, 0, -30))
        updated = _tx201("Updated", 1, tx_id, 250, -10)
        status = {
            "timestamp": now_iso(-5),
            "connectorStatus": "Faulted",
            "evseId": 1,
            "connectorId": 1,
        }
        replies = [
            await raw.call("TransactionEvent", updated, message_id="upd-1"),
            await raw.call("TransactionEvent", updated, message_id="upd-1"),
            await raw.call("StatusNotification", status, message_id="status-1"),
            await raw.call("StatusNotification", status, message_id="status-1"),
        ]
        assert [r[0] for r in replies] == [3, 3, 3, 3]
        assert replies[0] == replies[1]
        assert replies[2] == replies[3] == [3, "status-1", {}]
    async with borne_server.api() as api:
        [tx] = await transactions_of(api, station_id)
        values = await meter_values_of(api, tx["id"])
        assert [Decimal(v["value"]) for v in values] == [0, 250]
        history = await items(api, f"/stations/{station_id}/status-history")
        assert [h["status"] for h in history] == ["Faulted"]


# --------------------------------------------------------------------------------------- R1


async def test_r1_garbage_frame_on_201(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server)
    other_id = await _station(borne_server)
    async with (
        raw_connect(borne_server, station_id, "ocpp2.0.1") as raw,
        raw_connect(borne_server, other_id, "ocpp2.0.1") as other,
    ):
        await _booted(raw, "2.0.1")
        await _booted(other, "2.0.1")
        for garbage in ("this is not json {", '{"an": "object"}', '[2, "only-two"]', "[]"):
            await raw.send_text(garbage)
            error = await raw.recv()
            assert error[:3] == [4, "-1", "RpcFrameworkError"], (garbage, error)
        # the socket is still open and served, and the other station never noticed
        beat = await raw.result("Heartbeat", {})
        assert "currentTime" in beat
        assert "currentTime" in await other.result("Heartbeat", {})


# -------------------------------------------------------------------------------------- R18


async def test_r18_second_authenticated_connection_replaces_the_first(
    borne_server: BorneServer,
) -> None:
    station_id = await _station(borne_server, profile=1, password=PASSWORD)
    first_ws = await open_ws(borne_server, station_id, "ocpp1.6", PASSWORD)
    first = RawStation(first_ws)
    try:
        await _booted(first, "1.6")
        # a newcomer with a wrong password displaces nobody
        with pytest.raises(InvalidStatus) as refused:
            await open_ws(borne_server, station_id, "ocpp1.6", "wrong-password-123456")
        assert refused.value.response.status_code == 401
        assert await first.result("Heartbeat", {})

        async with connect16(borne_server, station_id, PASSWORD) as second:
            # the old socket is closed by the server
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(first_ws.recv(), 10)
            assert first_ws.close_code == 1000
            assert (await second.boot()).status == "Accepted"
            # commands go to the new connection
            async with borne_server.api() as api:
                r = await command(api, station_id, "clear-cache")
                assert (r.status_code, r.json()["status"]) == (200, "Accepted")
                assert await second.received("ClearCache") == {}
                # the old connection's cleanup did not mark the station disconnected
                await asyncio.sleep(0.2)
                assert (await station_detail(api, station_id))["connected"] is True
    finally:
        await first_ws.close()


# -------------------------------------------------------------------------------------- R23


@pytest.mark.parametrize("subprotocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_r23_bad_credentials_refuse_the_upgrade(
    borne_server: BorneServer, subprotocol: str
) -> None:
    station_id = await _station(borne_server, profile=1, password=PASSWORD)
    async with borne_server.api() as api:
        before = await station_detail(api, station_id)

    attempts: list[dict[str, str] | None] = [
        basic_auth(station_id, "not-the-password-xyz"),  # wrong password
        basic_auth("someone-else", PASSWORD),  # user ≠ station id
        None,  # no credentials at all
    ]
    for headers in attempts:
        with pytest.raises(InvalidStatus) as refused:
            await connect(
                f"{borne_server.ocpp_url}/{station_id}",
                subprotocols=[Subprotocol(subprotocol)],
                additional_headers=headers,
                open_timeout=10,
            )
        assert refused.value.response.status_code == 401

    async with borne_server.api() as api:
        after = await station_detail(api, station_id)
        assert after["connected"] is False
        for field in ("connected_at", "last_boot_at", "boot_count", "last_ocpp_version"):
            assert after[field] == before[field], field
        events = await items(api, f"/stations/{station_id}/security-events", source="csms")
        assert len(events) == 3
        assert all(e["type"] == "InvalidCsmsLogin" for e in events)
        assert all(PASSWORD not in (e["tech_info"] or "") for e in events)
        r = await command(api, station_id, "clear-cache")
        assert r.status_code == 409


# -------------------------------------------------------------------------------------- R16


async def test_r16_acknowledged_stop_survives_a_restart(db_url: str) -> None:
    server = await start_server(db_url)
    running = True
    station16, station201 = unique_id("R16"), unique_id("R16")
    tx201 = str(uuid.uuid4())
    try:
        async with server.api() as api:
            await create_station(api, station16)
            await create_station(api, station201)
            await create_id_token(api, "R16-TAG")
        async with (
            raw_connect(server, station16, "ocpp1.6") as raw16,
            raw_connect(server, station201, "ocpp2.0.1") as raw201,
        ):
            await _booted(raw16, "1.6")
            await _booted(raw201, "2.0.1")
            tx16 = (await raw16.result("StartTransaction", _start16("R16-TAG")))["transactionId"]
            await raw201.result("TransactionEvent", _tx201("Started", 0, tx201, 10, -30))
            await raw16.result("StopTransaction", _stop16(tx16, meter=5000))
            await raw201.result("TransactionEvent", _tx201("Ended", 1, tx201, 710, -1))
            # acknowledged: the server goes away at once, the stations still connected
            running = False
            await stop_server(server)
    finally:
        if running:
            await stop_server(server)

    fresh = await start_server(db_url)
    try:
        async with fresh.api() as api:
            [tx] = await transactions_of(api, station16)
            assert (tx["transaction_id"], tx["state"]) == (str(tx16), "ended")
            assert Decimal(tx["meter_stop_wh"]) == 5000
            [tx] = await transactions_of(api, station201)
            assert (tx["transaction_id"], tx["state"]) == (tx201, "ended")
            detail = await get_json(api, f"/transactions/{tx['id']}")
            assert Decimal(detail["energy_wh"]) == 700
    finally:
        await stop_server(fresh)
