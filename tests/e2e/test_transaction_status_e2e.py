"""GetTransactionStatus end to end (OCPP 2.0.1 E14): the ``ocpp`` package's 2.0.1 ChargePoint
over a real socket, the operator API over HTTP.

- By Borne's transaction id: the station is asked about its own transaction id and its answer
  (ongoing, messages queued) comes back; by station and transaction id, and with no transaction
  id at all (the station only says whether messages are queued).
- Refusals: a 1.6 station (422), an offline station (409), an unknown transaction (404), a
  malformed body (422), the station's CALLERROR (502).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from helpers import (
    BorneServer,
    Station16,
    Station201,
    connect201,
    create_id_token,
    create_station,
    now_iso,
    open_ws,
    transactions_of,
    unique_id,
)
from ocpp.routing import on
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201


class TxStation(Station201):
    """Answers GetTransactionStatus: ongoing for ``ongoing`` ids, queue per ``queued``."""

    ongoing: set[str] = set()
    queued = False
    fail = False

    @on("GetTransactionStatus")
    def on_get_transaction_status(self, **kw: Any) -> Any:
        self._record("GetTransactionStatus", kw)
        if self.fail:
            raise RuntimeError("station firmware bug")  # the ocpp package sends a CALLERROR
        tx = kw.get("transaction_id")
        return result201.GetTransactionStatus(
            messages_in_queue=self.queued,
            ongoing_indicator=None if tx is None else tx in self.ongoing,
        )


def _started(tx_id: str, token: str) -> call201.TransactionEvent:
    return call201.TransactionEvent(
        event_type="Started",
        timestamp=now_iso(-30),
        trigger_reason="Authorized",
        seq_no=0,
        transaction_info={"transaction_id": tx_id, "charging_state": "Charging"},
        evse={"id": 1, "connector_id": 1},
        id_token={"id_token": token, "type": "ISO14443"},
    )


async def test_transaction_status_round_trip(borne_server: BorneServer) -> None:
    station_id, token, tx_id = unique_id("TS"), unique_id("TOK"), str(uuid.uuid4())
    async with borne_server.api() as api:
        await create_station(api, station_id)
        await create_id_token(api, token)
    ws = await open_ws(borne_server, station_id, "ocpp2.0.1")
    cp = TxStation(station_id, ws)
    cp.ongoing = {tx_id}
    task = asyncio.get_running_loop().create_task(cp.start())
    try:
        await cp.boot()
        await cp.call(_started(tx_id, token))
        async with borne_server.api() as api:
            [tx] = await transactions_of(api, station_id)
            r = await api.post(f"/transactions/{tx['id']}/station-status")
            assert r.status_code == 200, r.text
            assert r.json() == {
                "station_id": station_id,
                "transaction_id": tx_id,
                "ongoing_indicator": True,
                "messages_in_queue": False,
                "raw": {"ongoingIndicator": True, "messagesInQueue": False},
            }
            assert await cp.received("GetTransactionStatus") == {"transaction_id": tx_id}

            # Any transaction id the station may know, and the queue alone.
            cp.queued = True
            r = await api.post(
                "/transactions/station-status",
                json={"station_id": station_id, "transaction_id": "not-ongoing"},
            )
            assert r.status_code == 200, r.text
            assert r.json()["ongoing_indicator"] is False
            assert r.json()["messages_in_queue"] is True
            r = await api.post("/transactions/station-status", json={"station_id": station_id})
            assert r.status_code == 200, r.text
            out = r.json()
            assert out["transaction_id"] is None and out["ongoing_indicator"] is None
            assert out["raw"] == {"messagesInQueue": True}
            await cp.received("GetTransactionStatus")
            assert await cp.received("GetTransactionStatus") == {}  # no transactionId sent

            cp.fail = True
            r = await api.post(f"/transactions/{tx['id']}/station-status")
            assert r.status_code == 502, r.text
            assert "Traceback" not in r.text
    finally:
        task.cancel()
        await ws.close()
        await asyncio.gather(task, return_exceptions=True)


async def test_transaction_status_refusals(borne_server: BorneServer) -> None:
    v16_id, offline_id = unique_id("TS16"), unique_id("TSOFF")
    async with borne_server.api() as api:
        await create_station(api, v16_id)
        await create_station(api, offline_id)
    ws = await open_ws(borne_server, v16_id, "ocpp1.6")
    cp16 = Station16(v16_id, ws)
    task = asyncio.get_running_loop().create_task(cp16.start())
    try:
        await cp16.boot()
        async with borne_server.api() as api:
            r = await api.post("/transactions/station-status", json={"station_id": v16_id})
            assert r.status_code == 422, r.text
            r = await api.post("/transactions/station-status", json={"station_id": offline_id})
            assert r.status_code == 409, r.text
            r = await api.post("/transactions/999999999/station-status")
            assert r.status_code == 404, r.text
            r = await api.post(
                "/transactions/station-status",
                json={"station_id": offline_id, "transaction_id": "x" * 37},
            )
            assert r.status_code == 422, r.text
            r = await api.post("/transactions/station-status", json={"station": offline_id})
            assert r.status_code == 422, r.text
    finally:
        task.cancel()
        await ws.close()
        await asyncio.gather(task, return_exceptions=True)


async def test_transaction_status_of_a_connected_helper_station(borne_server: BorneServer) -> None:
    """A station without a GetTransactionStatus handler answers NotImplemented: a 502."""
    station_id = unique_id("TSNI")
    async with borne_server.api() as api:
        await create_station(api, station_id)
    async with connect201(borne_server, station_id) as cp, borne_server.api() as api:
        await cp.boot()
        r = await api.post("/transactions/station-status", json={"station_id": station_id})
        assert r.status_code == 502, r.text
        assert r.json()["error"]["details"]["error_code"] == "NotImplemented"
