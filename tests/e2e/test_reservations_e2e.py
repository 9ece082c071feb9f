"""Reservations end to end: the operator API of the real server, stations of both OCPP versions
driven by the ``ocpp`` package's ChargePoint over real sockets.

ReserveNow reaches the station with Borne's reservation id and the station's answer is the
reservation's status; CancelReservation; a 2.0.1 ReservationStatusUpdate(Expired) ends it; a
transaction started with the reservation id (1.6 StartTransaction, 2.0.1 TransactionEvent)
marks it used; a 1.6 reservation expires by time; another token's start on a reserved
connector is recorded on the reservation.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from helpers import (
    BorneServer,
    Station16,
    Station201,
    create_id_token,
    create_station,
    open_ws,
    start_server,
    stop_server,
    transactions_of,
    unique_id,
)
from ocpp.routing import on
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from borne.reservations.models import EXPIRED, Reservation  # also registers the table

SWEEP_S = 0.2


@pytest.fixture
async def borne(db_url: str) -> AsyncIterator[BorneServer]:
    server = await start_server(db_url, reservation_sweep_interval_s=SWEEP_S)
    try:
        yield server
    finally:
        await stop_server(server)


class ReservingStation16(Station16):
    @on("ReserveNow")
    def on_reserve_now(self, **kw: Any) -> Any:
        return self._reply("ReserveNow", kw, {"status": "Accepted"})

    @on("CancelReservation")
    def on_cancel_reservation(self, **kw: Any) -> Any:
        return self._reply("CancelReservation", kw, {"status": "Accepted"})


class ReservingStation201(Station201):
    @on("ReserveNow")
    def on_reserve_now(self, **kw: Any) -> Any:
        return self._reply("ReserveNow", kw, {"status": "Accepted"})

    @on("CancelReservation")
    def on_cancel_reservation(self, **kw: Any) -> Any:
        return self._reply("CancelReservation", kw, {"status": "Accepted"})


@contextlib.asynccontextmanager
async def _connected(
    server: BorneServer, version: str
) -> AsyncIterator[ReservingStation16 | ReservingStation201]:
    station_id = unique_id("RSV")
    async with server.api() as api:
        await create_station(api, station_id)
    ws = await open_ws(server, station_id, "ocpp1.6" if version == "1.6" else "ocpp2.0.1")
    cls = ReservingStation16 if version == "1.6" else ReservingStation201
    cp = cls(station_id, ws)
    task = asyncio.get_running_loop().create_task(cp.start())
    try:
        await cp.boot()
        yield cp
    finally:
        task.cancel()
        await ws.close()
        await asyncio.gather(task, return_exceptions=True)


def _expiry(seconds: float = 3600) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def _until(
    api: httpx.AsyncClient, pk: int, check: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for _ in range(400):
        body = (await api.get(f"/reservations/{pk}")).json()
        if check(body):
            return body
        await asyncio.sleep(0.04)
    raise AssertionError(f"reservation {pk} never matched: {body}")


async def test_v16_reserve_accepted_then_start_with_reservation_id_uses_it(
    borne: BorneServer,
) -> None:
    async with _connected(borne, "1.6") as cp, borne.api() as api:
        r = await api.post(
            f"/stations/{cp.id}/reservations",
            json={"id_token": "DRIVER1", "expiry": _expiry(), "connector_id": 1},
        )
        received = await cp.received("ReserveNow")
        body = r.json()
        await cp.call(
            call16.StartTransaction(
                connector_id=1,
                id_tag="DRIVER1",
                meter_start=0,
                timestamp=datetime.now(UTC).isoformat(),
                reservation_id=body["reservation_id"],
            )
        )
        used = await _until(api, body["id"], lambda b: b["status"] == "used")
        txs = await transactions_of(api, cp.id)

    assert r.status_code == 201, r.text
    assert received["reservation_id"] == body["reservation_id"]
    assert (received["connector_id"], received["id_tag"]) == (1, "DRIVER1")
    assert body["status"] == "accepted"
    assert used["transaction_pk"] == txs[0]["id"]


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_reserve_any_connector_then_cancel(borne: BorneServer, version: str) -> None:
    async with _connected(borne, version) as cp, borne.api() as api:
        r = await api.post(
            "/reservations", json={"station_id": cp.id, "id_token": "DRIVER2", "expiry": _expiry()}
        )
        reserve = await cp.received("ReserveNow")
        body = r.json()
        cancel = await api.post(f"/reservations/{body['id']}/cancel")
        cancelled = await cp.received("CancelReservation")
        listed = (await api.get("/reservations", params={"station_id": cp.id})).json()

    assert body["status"] == "accepted" and body["evse_id"] is None
    if version == "1.6":
        assert reserve["connector_id"] == 0
    else:
        assert "evse_id" not in reserve and reserve["id"] == body["reservation_id"]
    assert cancel.status_code == 200 and cancel.json()["station_status"] == "Accepted"
    assert cancelled["reservation_id"] == body["reservation_id"]
    assert [(i["id"], i["status"]) for i in listed["items"]] == [(body["id"], "cancelled")]


async def test_v201_status_update_expired_and_transaction_event_uses(borne: BorneServer) -> None:
    async with _connected(borne, "2.0.1") as cp, borne.api() as api:
        first = (
            await api.post(
                f"/stations/{cp.id}/reservations",
                json={"id_token": "DRIVER3", "expiry": _expiry(), "evse_id": 1},
            )
        ).json()
        second = (
            await api.post(
                f"/stations/{cp.id}/reservations",
                json={"id_token": "DRIVER3", "expiry": _expiry(), "evse_id": 2},
            )
        ).json()
        await cp.call(
            call201.ReservationStatusUpdate(
                reservation_id=first["reservation_id"], reservation_update_status="Expired"
            )
        )
        await cp.call(
            call201.TransactionEvent(
                event_type="Started",
                timestamp=datetime.now(UTC).isoformat(),
                trigger_reason="Authorized",
                seq_no=0,
                transaction_info={"transaction_id": "E2E-TX-1"},
                id_token={"id_token": "DRIVER3", "type": "Central"},
                evse={"id": 2, "connector_id": 1},
                reservation_id=second["reservation_id"],
            )
        )
        expired = await _until(api, first["id"], lambda b: b["status"] != "accepted")
        used = await _until(api, second["id"], lambda b: b["status"] == "used")
        txs = await transactions_of(api, cp.id)

    assert first["status"] == second["status"] == "accepted"
    assert expired["status"] == "expired"
    assert used["transaction_pk"] == txs[0]["id"]


async def test_v16_reservation_expires_by_time(borne: BorneServer) -> None:
    async with _connected(borne, "1.6") as cp, borne.api() as api:
        body = (
            await api.post(
                f"/stations/{cp.id}/reservations",
                json={"id_token": "DRIVER4", "expiry": _expiry(3), "connector_id": 1},
            )
        ).json()
        await cp.received("ReserveNow")
        expired = await _until(api, body["id"], lambda b: b["status"] == "expired")
        active = (await api.get("/reservations", params={"station_id": cp.id, "active": 1})).json()
        for _ in range(100):  # the sweep makes it durable
            async with borne.runtime.deps.db.unit_of_work() as uow:
                row = await uow.session.get(Reservation, body["id"])
                assert row is not None
                stored = row.status
            if stored == EXPIRED:
                break
            await asyncio.sleep(0.05)

    assert body["status"] == "accepted"
    assert expired["active"] is False and expired["ended_at"] is not None
    assert active["total"] == 0
    assert stored == EXPIRED


async def test_v16_other_token_on_reserved_connector_is_recorded(borne: BorneServer) -> None:
    async with _connected(borne, "1.6") as cp, borne.api() as api:
        await create_id_token(api, "STRANGER")
        body = (
            await api.post(
                f"/stations/{cp.id}/reservations",
                json={"id_token": "OWNER", "expiry": _expiry(), "connector_id": 1},
            )
        ).json()
        await cp.call(
            call16.StartTransaction(
                connector_id=1,
                id_tag="STRANGER",
                meter_start=0,
                timestamp=datetime.now(UTC).isoformat(),
            )
        )
        flagged = await _until(api, body["id"], lambda b: b["violated_by_transaction_pk"])
        txs = await transactions_of(api, cp.id)

    assert flagged["status"] == "accepted"
    assert flagged["violated_by_transaction_pk"] == txs[0]["id"]
