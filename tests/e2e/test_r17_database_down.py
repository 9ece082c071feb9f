"""R17 end to end: a message whose commit fails (the database went away) is answered with
CALLERROR ``InternalError`` on the wire, never with a CALLRESULT; the station's retry (same
message id, as OCPP stations do) is processed and stored exactly once."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from helpers import (
    BOOT16,
    BOOT201,
    BorneServer,
    RawStation,
    create_id_token,
    create_station,
    meter_values_of,
    now_iso,
    raw_connect,
    transactions_of,
    unique_id,
)
from sqlalchemy.exc import OperationalError


class _CommitsFail:
    """A session factory whose next ``failures`` sessions fail at COMMIT."""

    def __init__(self, factory: Callable[[], Any], failures: int) -> None:
        self._factory = factory
        self.remaining = failures

    def __call__(self) -> Any:
        session = self._factory()
        if self.remaining > 0:
            self.remaining -= 1

            async def commit() -> None:
                raise OperationalError("COMMIT", {}, ConnectionError("database is down"))

            session.commit = commit
        return session


def _database_down_for_next_commit(server: BorneServer, monkeypatch: pytest.MonkeyPatch) -> None:
    committer = server.runtime.deps.committer
    monkeypatch.setattr(committer, "_factory", _CommitsFail(committer._factory, 1))


def _assert_internal_error(frame: list[Any], mid: str) -> None:
    assert frame[:3] == [4, mid, "InternalError"], frame
    assert "Traceback" not in frame[3] and "database is down" not in frame[3]


def _without_cost(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k != "totalCost"}


async def _retry_until_stored(raw: RawStation, action: str, payload: dict[str, Any]) -> Any:
    mid = str(uuid.uuid4())
    failed = await raw.call(action, payload, message_id=mid)
    _assert_internal_error(failed, mid)
    retried = await raw.call(action, payload, message_id=mid)  # the station retries
    assert retried[0] == 3, retried
    again = await raw.call(action, payload)  # and once more with a new id (R8)
    # the same answer, except that 2.0.1 totalCost may have become known in between
    assert again[0] == 3
    assert _without_cost(again[2]) == _without_cost(retried[2])
    return retried[2]


async def test_r17_stop_16_database_down_then_retry_stored_once(
    borne_server: BorneServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    station_id = unique_id("R17")
    async with borne_server.api() as api:
        await create_station(api, station_id)
        await create_id_token(api, "R17-TAG")
    async with raw_connect(borne_server, station_id, "ocpp1.6") as raw:
        assert (await raw.result("BootNotification", BOOT16))["status"] == "Accepted"
        start = {"connectorId": 1, "idTag": "R17-TAG", "meterStart": 100, "timestamp": now_iso(-60)}
        _database_down_for_next_commit(borne_server, monkeypatch)
        tx_id = (await _retry_until_stored(raw, "StartTransaction", start))["transactionId"]
        stop = {
            "transactionId": tx_id,
            "meterStop": 900,
            "timestamp": now_iso(-1),
            "reason": "Local",
            "transactionData": [
                {
                    "timestamp": now_iso(-1),
                    "sampledValue": [{"value": "900", "context": "Transaction.End"}],
                }
            ],
        }
        _database_down_for_next_commit(borne_server, monkeypatch)
        await _retry_until_stored(raw, "StopTransaction", stop)
        # the server is still serving the station
        assert "currentTime" in await raw.result("Heartbeat", {})
    async with borne_server.api() as api:
        [tx] = await transactions_of(api, station_id)
        assert (tx["transaction_id"], tx["state"]) == (str(tx_id), "ended")
        assert Decimal(tx["meter_stop_wh"]) == 900
        assert "repeated_stop" not in tx["flags"]
        assert [Decimal(v["value"]) for v in await meter_values_of(api, tx["id"])] == [900]


async def test_r17_transaction_event_database_down_then_retry_stored_once(
    borne_server: BorneServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    station_id = unique_id("R17")
    tx_id = str(uuid.uuid4())
    async with borne_server.api() as api:
        await create_station(api, station_id)
    async with raw_connect(borne_server, station_id, "ocpp2.0.1") as raw:
        assert (await raw.result("BootNotification", BOOT201))["status"] == "Accepted"

        def event(kind: str, seq: int, wh: int, at: float) -> dict[str, Any]:
            info: dict[str, Any] = {"transactionId": tx_id}
            if kind == "Ended":
                info["stoppedReason"] = "Local"
            return {
                "eventType": kind,
                "timestamp": now_iso(at),
                "triggerReason": "Authorized" if kind == "Started" else "StopAuthorized",
                "seqNo": seq,
                "transactionInfo": info,
                "meterValue": [{"timestamp": now_iso(at), "sampledValue": [{"value": wh}]}],
            }

        await raw.result("TransactionEvent", event("Started", 0, 100, -60))
        _database_down_for_next_commit(borne_server, monkeypatch)
        await _retry_until_stored(raw, "TransactionEvent", event("Ended", 1, 700, -1))
    async with borne_server.api() as api:
        [tx] = await transactions_of(api, station_id)
        assert (tx["state"], tx["stop_reason"]) == ("ended", "Local")
        assert [Decimal(v["value"]) for v in await meter_values_of(api, tx["id"])] == [100, 700]
