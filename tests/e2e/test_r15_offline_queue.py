"""R15 end to end: a station back from a long offline period sends its queue over a real
socket (start, 10,000 meter values, stop, all with past timestamps), a window of calls at a
time; everything is processed in order and billed by the timestamps the station sent, not by
arrival time."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from helpers import (
    BOOT16,
    BorneServer,
    RawStation,
    create_id_token,
    create_station,
    get_json,
    raw_connect,
    transactions_of,
    unique_id,
)

N = 10_000
WINDOW = 20  # calls in flight at once (the session refuses more than 32)


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


async def _send_all(raw: RawStation, action: str, payloads: list[dict[str, Any]]) -> None:
    """Send ``payloads`` in order, ``WINDOW`` at a time; every answer must be a CALLRESULT."""
    for first in range(0, len(payloads), WINDOW):
        mids = []
        for payload in payloads[first : first + WINDOW]:
            mid = str(uuid.uuid4())
            mids.append(mid)
            await raw.ws.send(json.dumps([2, mid, action, payload]))
        wanted = set(mids)
        async with asyncio.timeout(30):
            while wanted:
                frame = await raw.recv()
                assert frame[0] == 3, frame
                wanted.discard(frame[1])


@pytest.mark.slow
async def test_r15_queued_meter_values_over_the_socket_billed_by_timestamps(
    borne_server: BorneServer,
) -> None:
    station_id = unique_id("R15")
    t0 = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
    async with borne_server.api() as api:
        await create_station(api, station_id)
        await create_id_token(api, "R15-TAG")
    async with raw_connect(borne_server, station_id, "ocpp1.6") as raw:
        assert (await raw.result("BootNotification", BOOT16))["status"] == "Accepted"
        start = await raw.result(
            "StartTransaction",
            {"connectorId": 1, "idTag": "R15-TAG", "meterStart": 1000, "timestamp": _iso(t0)},
        )
        tx_id = start["transactionId"]
        values = [
            {
                "connectorId": 1,
                "transactionId": tx_id,
                "meterValue": [
                    {
                        "timestamp": _iso(t0 + timedelta(seconds=i)),
                        "sampledValue": [{"value": str(1000 + i), "context": "Sample.Periodic"}],
                    }
                ],
            }
            for i in range(1, N + 1)
        ]
        await _send_all(raw, "MeterValues", values)
        stopped = t0 + timedelta(seconds=N + 1)
        await raw.result(
            "StopTransaction",
            {
                "transactionId": tx_id,
                "meterStop": 1000 + N + 1,
                "timestamp": _iso(stopped),
                "reason": "Local",
            },
        )
    async with borne_server.api() as api:
        [tx] = await transactions_of(api, station_id)
        assert tx["state"] == "ended" and tx["flags"] == []
        detail = await get_json(api, f"/transactions/{tx['id']}", meter_values_limit=0)
        assert datetime.fromisoformat(detail["started_at"]) == t0
        assert datetime.fromisoformat(detail["stopped_at"]) == stopped
        assert detail["duration_s"] == N + 1
        assert Decimal(detail["energy_wh"]) == N + 1
        assert detail["meter_summary"]["samples"] == N
        # stored in the order sent, each with its own timestamp, none flagged
        seen: list[dict[str, Any]] = []
        while len(seen) < N:
            page = await get_json(
                api, f"/transactions/{tx['id']}/meter-values", offset=len(seen), limit=500
            )
            assert page["items"], "fewer meter values than sent"
            seen.extend(page["items"])
        assert [Decimal(v["value"]) for v in seen] == [Decimal(1000 + i) for i in range(1, N + 1)]
        assert [datetime.fromisoformat(v["timestamp"]) for v in seen] == [
            t0 + timedelta(seconds=i) for i in range(1, N + 1)
        ]
        assert all(v["flags"] == [] for v in seen)
