"""Durable OCPI delivery end to end (issue 4, "Done means"): the eMSP peer goes down for a
minute and Borne restarts meanwhile; every session update and the CDR still arrive, in order,
once.

Timeline (real loopback HTTP, real servers, the peer's port and Borne's API port kept):

- the peer (tests/ocpi_peer) registers with Borne, then stops: connections are refused;
- a driver of the peer charges on an OCPP 2.0.1 station: Borne queues the Session PUT and its
  PATCHes, and retries them (back-off shortened by settings so that the outage spans many
  rounds: the head of the session's queue is attempted again and again);
- Borne stops and a new Borne starts on the same database and API port while the peer is still
  down; the station reconnects, sends a last reading and ends the transaction: the new Borne
  queues more PATCHes and the CDR behind the ones the first Borne left;
- the peer comes back :data:`OUTAGE_S` after it went down.

Then every push arrives exactly once and in the order Borne queued it (the outbox rows of the
session's key, by id), one CDR, and the operator API counts 0 pending and 0 failed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from helpers import BorneServer, Station201, connect201, start_server, stop_server, unique_id
from ocpi_helpers import Site, connect_peer, create_site
from ocpp.v201 import call as call201

from ocpi_peer import EmspPeer, SchemaLibrary

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not SchemaLibrary().available, reason="../shared/ocpi/openapi absent: peer validation off"
    ),
]

#: How long the peer is down: the issue's minute.
OUTAGE_S = 60.0
#: Outbox back-off: 0.5 s doubling up to 4 s, so a minute of outage is ~15 attempts of the
#: head row and the peer's return is noticed within 4 s.
SETTINGS: dict[str, Any] = {
    "ocpi_outbox_backoff_base_s": 0.5,
    "ocpi_outbox_backoff_max_s": 4.0,
    "ocpi_outbox_poll_interval_s": 0.2,
    "ocpi_outbox_max_attempts": 1000,
    # Every reading is priced and pushed at once (a PATCH each): updates to lose.
    "ocpi_session_update_interval_s": 0,
    "live_cost_min_interval_s": 0,
}
UID = "0A1B2C3D4E5F60"  # the peer's RFID; ALLOWED in real time


class Outage:
    """Borne (restartable) and the peer; closes whatever is running at the end."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.borne: BorneServer | None = None
        self.peer = EmspPeer()

    @property
    def server(self) -> BorneServer:
        assert self.borne is not None
        return self.borne

    async def start_borne(self, api_port: int = 0) -> BorneServer:
        self.borne = await start_server(self.db_url, api_port=api_port, **SETTINGS)
        return self.borne

    async def restart_borne(self) -> BorneServer:
        port = int(self.server.api_url.rsplit(":", 1)[1])
        await stop_server(self.server)
        self.borne = None
        return await self.start_borne(api_port=port)

    async def close(self) -> None:
        if self.borne is not None:
            await stop_server(self.borne)
        await self.peer.stop()
        await self.peer.aclose()


@pytest.fixture
async def outage(db_url: str) -> AsyncIterator[Outage]:
    o = Outage(db_url)
    try:
        yield o
    finally:
        await o.close()


def _at(delta_s: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=delta_s)).isoformat(timespec="seconds")


def _event(kind: str, seq: int, tx_id: str, wh: int, at: str, **extra: Any) -> Any:
    trigger = {"Started": "Authorized", "Ended": "StopAuthorized"}.get(kind, "MeterValuePeriodic")
    context = {"Started": "Transaction.Begin", "Ended": "Transaction.End"}.get(
        kind, "Sample.Periodic"
    )
    info: dict[str, Any] = {"transaction_id": tx_id, **extra.pop("info", {})}
    return call201.TransactionEvent(
        event_type=kind,
        timestamp=at,
        trigger_reason=trigger,
        seq_no=seq,
        transaction_info=info,
        meter_value=[
            {
                "timestamp": at,
                "sampled_value": [
                    {"value": wh, "measurand": "Energy.Active.Import.Register", "context": context}
                ],
            }
        ],
        **extra,
    )


async def _deliveries(borne: BorneServer, key: str) -> list[dict[str, Any]]:
    """The outbox rows of ``key``, oldest first."""
    async with borne.api() as api:
        r = await api.get("/ocpi-deliveries", params={"limit": 500})
        assert r.status_code == 200, r.text
    rows = [d for d in r.json() if d["key"] == key]
    return sorted(rows, key=lambda d: int(d["id"]))


async def _counts(borne: BorneServer) -> dict[str, int]:
    async with borne.api() as api:
        r = await api.get("/ocpi-deliveries/counts")
        assert r.status_code == 200, r.text
        out: dict[str, int] = r.json()
        return out


async def _eventually(check: Any, timeout: float, what: str) -> Any:
    """Poll the coroutine function ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def _summary(body: dict[str, Any]) -> tuple[Any, ...]:
    """What identifies one push: its fields, state, energy and time (bodies differ in number
    formatting between Borne's stored text and the peer's parsed JSON)."""
    kwh = body.get("kwh")
    return (
        tuple(sorted(body)),
        body.get("status"),
        None if kwh is None else Decimal(str(kwh)),
        body.get("last_updated"),
        body.get("end_date_time"),
    )


async def test_peer_outage_and_borne_restart_lose_and_repeat_nothing(outage: Outage) -> None:
    borne = await outage.start_borne()
    peer = outage.peer
    await peer.start()
    await connect_peer(borne, peer)
    async with borne.api() as api:  # pushed to the peer: its EVSE status PATCHes have a target
        site: Site = await create_site(api, station_id=unique_id("OUT"))
    await peer.wait_until(lambda: site.location_id in {k[2] for k in peer.locations.current})
    peer.set_authorization(UID, "ALLOWED", authorization_reference="REF-OUTAGE-1")
    tx_id = unique_id("tx")
    # Readings one minute apart, the last one now: 0, 2, 4, 5 kWh.
    stamps = [_at(-180), _at(-120), _at(-60), _at()]

    async with connect201(borne, site.station_id) as cp:
        await cp.boot()
        # The card is authorized in real time while the peer is up; then the peer goes down.
        auth = await cp.call(call201.Authorize(id_token={"id_token": UID, "type": "ISO14443"}))
        assert auth.id_token_info["status"] == "Accepted"
        down_at = time.monotonic()
        await peer.stop()
        key = await _charge_first_half(borne, site, cp, tx_id, stamps)
    session_id = key.rsplit("/", 1)[1]
    cdr_key = f"cdrs:NL/BRN/{session_id}"

    # Borne retries the head of the session's queue while the peer is down.
    async def retried() -> bool:
        rows = await _deliveries(outage.server, key)
        return bool(rows) and rows[0]["attempts"] >= 3 and rows[0]["status"] == "pending"

    await _eventually(retried, 20, "three attempts of the session's PUT")
    first_rows = await _deliveries(outage.server, key)
    assert [r["method"] for r in first_rows][:1] == ["PUT"] and len(first_rows) >= 3
    assert {r["status"] for r in first_rows} == {"pending"}

    # Borne restarts on the same database and port; the peer is still down.
    borne = await outage.restart_borne()
    async with connect201(borne, site.station_id) as cp:
        await cp.call(_event("Updated", 3, tx_id, 5_000, stamps[3]))
        await cp.call(_event("Ended", 4, tx_id, 5_000, stamps[3], info={"stopped_reason": "Local"}))

    async def cdr_queued() -> bool:
        return bool(await _deliveries(borne, cdr_key))

    await _eventually(cdr_queued, 20, "the CDR in the outbox of the new Borne")
    assert not peer.requests_to("sessions") and not peer.requests_to("cdrs")

    # The peer comes back after its minute.
    await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
    await peer.start()

    async def drained() -> dict[str, int] | None:
        counts = await _counts(borne)
        return counts if counts["pending"] == 0 else None

    counts = await _eventually(drained, 30, "every delivery")
    assert counts["failed"] == 0, counts

    rows = await _deliveries(borne, key)
    cdr_rows = await _deliveries(borne, cdr_key)
    received = peer.requests_to("sessions")
    # Exactly once, in the order queued (across both Borne processes).
    assert [(r.method, _summary(r.body)) for r in received] == [
        (row["method"], _summary(row["body"])) for row in rows
    ]
    assert len(rows) > len(first_rows)  # the new Borne's PATCHes came after the old one's
    # The outage spanned many retry rounds of the head row, before and after the restart.
    assert rows[0]["attempts"] >= 8, rows[0]
    assert {r["status"] for r in [*rows, *cdr_rows]} == {"delivered"}
    assert peer.sessions.total_duplicates() == 0
    assert peer.cdrs.total_duplicates() == 0
    [cdr] = peer.cdrs.current.values()
    assert len(cdr_rows) == 1 and len(peer.requests_to("cdrs", "POST")) == 1

    session = peer.sessions.by_id(session_id)
    assert session["status"] == "COMPLETED"
    assert Decimal(str(session["kwh"])) == 5
    assert session["authorization_reference"] == "REF-OUTAGE-1"
    assert cdr["authorization_reference"] == "REF-OUTAGE-1"
    assert Decimal(str(cdr["total_energy"])) == 5
    assert cdr["session_id"] == session["id"]
    peer.assert_no_violations()


async def _charge_first_half(
    borne: BorneServer, site: Site, cp: Station201, tx_id: str, stamps: list[str]
) -> str:
    """Start with the peer's card, then two readings, each queued as its own push before the
    next is sent (updates that coalesce would prove less); the session's outbox key."""
    await cp.call(
        _event("Started", 0, tx_id, 0, stamps[0], id_token={"id_token": UID, "type": "ISO14443"},
               evse={"id": 1, "connector_id": 1})
    )  # fmt: skip
    key = f"sessions:NL/BRN/{await _session_id(borne, site)}"
    await _queued_kwh(borne, key, 0)
    await cp.call(_event("Updated", 1, tx_id, 2_000, stamps[1]))
    await _queued_kwh(borne, key, 2)
    await cp.call(_event("Updated", 2, tx_id, 4_000, stamps[2]))
    await _queued_kwh(borne, key, 4)
    return key


async def _queued_kwh(borne: BorneServer, key: str, kwh: int) -> None:
    async def queued() -> bool:
        rows = await _deliveries(borne, key)
        ok = bool(rows) and Decimal(str(rows[-1]["body"].get("kwh"))) == kwh
        return ok

    await _eventually(queued, 10, f"a push of {kwh} kWh")


async def _session_id(borne: BorneServer, site: Site) -> str:
    async with borne.api() as api:
        r = await api.get("/transactions", params={"station_id": site.station_id})
        assert r.status_code == 200, r.text
        [tx] = r.json()["items"]
    return str(tx["id"])
