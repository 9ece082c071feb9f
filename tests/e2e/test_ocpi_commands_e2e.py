"""OCPI commands beyond START/STOP, end to end: Borne as CPO, the independent eMSP peer of
``tests/ocpi_peer`` and simulated stations (``ocpp`` ChargePoints) of both OCPP versions.

RESERVE_NOW, CANCEL_RESERVATION and UNLOCK_CONNECTOR reach the station as the OCPP call of its
version with the right fields, and the station's answer comes back as the OCPI CommandResult;
a station that never answers gives TIMEOUT; what Borne can refuse at once (offline station,
unknown location or session, someone else's token) is refused in the synchronous
CommandResponse, with no CommandResult afterwards. Every CommandResult arrives exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from helpers import BorneServer, Station16, Station201, open_ws, start_server, stop_server
from ocpi_helpers import Site, connect_peer, create_site
from ocpp.routing import on
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from ocpi_peer import EmspPeer
from ocpi_peer.store import CommandRecord

WAIT_S = 15.0
#: Borne's deadline for a station's answer (a short one keeps the TIMEOUT case quick).
COMMAND_TIMEOUT_S = 2
#: How long a "hanging" station sits on a call: well past the deadline.
HANG_S = 30.0
OCPP_VERSIONS = ["1.6", "2.0.1"]


@pytest.fixture
async def borne(db_url: str) -> AsyncIterator[BorneServer]:
    server = await start_server(
        db_url,
        ocpi_command_timeout_s=COMMAND_TIMEOUT_S,
        ocpi_outbox_poll_interval_s=0.1,
        ocpi_outbox_backoff_base_s=0.2,
    )
    try:
        yield server
    finally:
        await stop_server(server)


# ------------------------------------------------------------------------------ stations


class _Commands:
    """Reservation handlers the shared stations lack, and a switch to never answer a remote
    start (the handler sleeps past Borne's deadline)."""

    hang: set[str]

    async def _maybe_hang(self, action: str) -> None:
        if action in self.hang:
            await asyncio.sleep(HANG_S)


class CommandStation16(Station16, _Commands):
    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.hang = set()

    @on("ReserveNow")
    def on_reserve_now(self, **kw: Any) -> Any:
        return self._reply("ReserveNow", kw, {"status": "Accepted"})

    @on("CancelReservation")
    def on_cancel_reservation(self, **kw: Any) -> Any:
        return self._reply("CancelReservation", kw, {"status": "Accepted"})

    @on("RemoteStartTransaction")
    async def on_remote_start(self, **kw: Any) -> Any:
        await self._maybe_hang("RemoteStartTransaction")
        return self._reply("RemoteStartTransaction", kw, {"status": "Accepted"})

    async def status(self, status: str) -> None:
        await self.call(
            call16.StatusNotification(
                connector_id=1, error_code="NoError", status=status, timestamp=_now()
            )
        )


class CommandStation201(Station201, _Commands):
    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.hang = set()

    @on("ReserveNow")
    def on_reserve_now(self, **kw: Any) -> Any:
        return self._reply("ReserveNow", kw, {"status": "Accepted"})

    @on("CancelReservation")
    def on_cancel_reservation(self, **kw: Any) -> Any:
        return self._reply("CancelReservation", kw, {"status": "Accepted"})

    @on("RequestStartTransaction")
    async def on_request_start(self, **kw: Any) -> Any:
        await self._maybe_hang("RequestStartTransaction")
        return self._reply("RequestStartTransaction", kw, {"status": "Accepted"})

    async def status(self, status: str) -> None:
        await self.call(
            call201.StatusNotification(
                timestamp=_now(), connector_status=status, evse_id=1, connector_id=1
            )
        )


Station = CommandStation16 | CommandStation201


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _ocpi_datetime(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextlib.asynccontextmanager
async def _station(ocpp: str, borne: BorneServer, station_id: str) -> AsyncIterator[Station]:
    """The station of ``ocpp``'s version, connected, booted and Available until the block
    ends."""
    ws = await open_ws(borne, station_id, "ocpp1.6" if ocpp == "1.6" else "ocpp2.0.1")
    cp: Station = (CommandStation16 if ocpp == "1.6" else CommandStation201)(station_id, ws)
    task = asyncio.get_running_loop().create_task(cp.start())
    try:
        await cp.boot()
        await cp.status("Available")
        yield cp
    finally:
        task.cancel()
        await ws.close()
        await asyncio.gather(task, return_exceptions=True)


@contextlib.asynccontextmanager
async def _world(
    borne: BorneServer, ocpp: str | None
) -> AsyncIterator[tuple[Site, EmspPeer, Station | None]]:
    """A site, the peer registered with Borne and (unless ``ocpp`` is None) its station
    online."""
    async with borne.api() as api:
        site = await create_site(api)
    async with EmspPeer() as peer:
        await connect_peer(borne, peer)
        if ocpp is None:
            yield site, peer, None
            return
        async with _station(ocpp, borne, site.station_id) as cp:
            yield site, peer, cp


# ------------------------------------------------------------------------------- checks


def _accepted(record: CommandRecord) -> None:
    """The synchronous CommandResponse: ACCEPTED, with Borne's deadline."""
    assert (record.http_status, record.ocpi_status) == (200, 1000), record.response
    assert record.response["result"] == "ACCEPTED", record.response
    assert record.response["timeout"] == COMMAND_TIMEOUT_S


def _refused(record: CommandRecord, result: str) -> None:
    assert (record.http_status, record.ocpi_status) == (200, 1000), record.response
    assert record.response["result"] == result, record.response


async def _result(peer: EmspPeer, record: CommandRecord) -> str:
    out = await peer.wait_command_result(record, WAIT_S)
    assert isinstance(out, dict), out
    return str(out["result"])


async def _exactly_once(peer: EmspPeer, *, with_result: int) -> None:
    """After a pause for any late or repeated delivery: one CommandResult per command that
    was accepted (``with_result`` of them), none for the refused, and nothing wrong seen."""
    await asyncio.sleep(1.0)
    counts = {uid: len(r.results) for uid, r in peer.commands.items()}
    assert sorted(counts.values()) == sorted(
        [1] * with_result + [0] * (len(counts) - with_result)
    ), counts
    peer.assert_no_violations()


def _reservation_id(ocpp: str, call: dict[str, Any]) -> int:
    value = call["reservation_id"] if ocpp == "1.6" else call["id"]
    assert isinstance(value, int), call
    return value


# -------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("ocpp", OCPP_VERSIONS)
async def test_reserve_now_then_cancel(borne: BorneServer, ocpp: str) -> None:
    async with _world(borne, ocpp) as (site, peer, cp):
        assert cp is not None
        uid = "RES0001TOKEN"
        token = peer.make_token(uid, "RFID")
        expiry = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)

        # RESERVE_NOW: the station's ReserveNow for that EVSE, token and expiry → ACCEPTED
        reserve = await peer.reserve_now(
            site.location_id, token, _ocpi_datetime(expiry), "R-1", evse_uid=site.evse_uid
        )
        _accepted(reserve)
        assert await _result(peer, reserve) == "ACCEPTED"
        [call] = cp.calls["ReserveNow"]
        reservation = _reservation_id(ocpp, call)
        if ocpp == "1.6":
            assert call["connector_id"] == site.evse_id  # a 1.6 connector is the EVSE
            assert call["id_tag"] == uid
            assert datetime.fromisoformat(call["expiry_date"]) == expiry
        else:
            assert call["evse_id"] == site.evse_id
            assert call["id_token"] == {"id_token": uid, "type": "ISO14443"}
            assert datetime.fromisoformat(call["expiry_date_time"]) == expiry

        # another reservation while the EVSE is taken: the station says Occupied
        cp.answers["ReserveNow"] = {"status": "Occupied"}
        busy = await peer.reserve_now(
            site.location_id, token, _ocpi_datetime(expiry), "R-2", evse_uid=site.evse_uid
        )
        _accepted(busy)
        assert await _result(peer, busy) == "EVSE_OCCUPIED"
        assert _reservation_id(ocpp, cp.calls["ReserveNow"][1]) != reservation

        # CANCEL_RESERVATION of R-1: the same integer reservation id reaches the station (the
        # id is a CiString: its case does not matter)
        cancel = await peer.cancel_reservation("r-1")
        _accepted(cancel)
        assert await _result(peer, cancel) == "ACCEPTED"
        [cancelled] = cp.calls["CancelReservation"]
        assert cancelled["reservation_id"] == reservation

        # a reservation id Borne never saw: UNKNOWN_RESERVATION, the station is not asked
        unknown = await peer.cancel_reservation("NEVER-MADE")
        _accepted(unknown)
        assert await _result(peer, unknown) == "UNKNOWN_RESERVATION"
        assert len(cp.calls["CancelReservation"]) == 1

        await _exactly_once(peer, with_result=4)


@pytest.mark.parametrize("ocpp", OCPP_VERSIONS)
async def test_unlock_connector(borne: BorneServer, ocpp: str) -> None:
    async with _world(borne, ocpp) as (site, peer, cp):
        assert cp is not None
        unlock = await peer.unlock_connector(
            site.location_id, site.evse_uid, str(site.connector_id)
        )
        _accepted(unlock)
        assert await _result(peer, unlock) == "ACCEPTED"
        [call] = cp.calls["UnlockConnector"]
        if ocpp == "1.6":
            assert call == {"connector_id": site.evse_id}
        else:
            assert call == {"evse_id": site.evse_id, "connector_id": site.connector_id}

        # the EVSE uid is a CiString: any case names the same EVSE
        cp.answers["UnlockConnector"] = {"status": "UnlockFailed"}
        failed = await peer.unlock_connector(
            site.location_id, site.evse_uid.lower(), str(site.connector_id)
        )
        _accepted(failed)
        assert await _result(peer, failed) == "FAILED"
        assert len(cp.calls["UnlockConnector"]) == 2

        await _exactly_once(peer, with_result=2)


@pytest.mark.parametrize("ocpp", OCPP_VERSIONS)
async def test_station_never_answers_gives_timeout(borne: BorneServer, ocpp: str) -> None:
    async with _world(borne, ocpp) as (site, peer, cp):
        assert cp is not None
        action = "RemoteStartTransaction" if ocpp == "1.6" else "RequestStartTransaction"
        cp.hang.add(action)
        token = peer.make_token("HANG0001TOKEN", "RFID")
        start = await peer.start_session(site.location_id, site.evse_uid, token)
        _accepted(start)
        assert await _result(peer, start) == "TIMEOUT"
        await _exactly_once(peer, with_result=1)


@pytest.mark.parametrize("ocpp", OCPP_VERSIONS)
async def test_refused_at_once(borne: BorneServer, ocpp: str) -> None:
    """What Borne knows it cannot do is answered in the CommandResponse; no CommandResult."""
    async with _world(borne, ocpp) as (site, peer, cp):
        assert cp is not None
        token = peer.make_token("MINE0001TOKEN", "RFID")

        # a location Borne does not have: OCPI status 2003
        unknown = await peer.start_session("NO-SUCH-LOCATION", None, token)
        assert unknown.ocpi_status == 2003, (unknown.http_status, unknown.response)

        # a session Borne does not have
        _refused(await peer.stop_session("NO-SUCH-SESSION"), "UNKNOWN_SESSION")

        # a token of another party than the peer's, for a start and a reservation
        other = dict(token, country_code="FR", party_id="XYZ")
        _refused(await peer.start_session(site.location_id, site.evse_uid, other), "REJECTED")
        expiry = _ocpi_datetime(datetime.now(UTC) + timedelta(hours=1))
        _refused(
            await peer.reserve_now(site.location_id, other, expiry, "R-X", evse_uid=site.evse_uid),
            "REJECTED",
        )

        await _exactly_once(peer, with_result=0)
        assert not cp.calls["RemoteStartTransaction"] and not cp.calls["RequestStartTransaction"]
        assert not cp.calls["ReserveNow"]


async def test_offline_station_is_rejected(borne: BorneServer) -> None:
    """A station that is not connected: REJECTED at once, for every command addressing it."""
    async with _world(borne, None) as (site, peer, _):
        token = peer.make_token("OFFL0001TOKEN", "RFID")
        expiry = _ocpi_datetime(datetime.now(UTC) + timedelta(hours=1))
        records = [
            await peer.start_session(site.location_id, site.evse_uid, token),
            await peer.reserve_now(
                site.location_id, token, expiry, "R-OFF", evse_uid=site.evse_uid
            ),
            await peer.unlock_connector(site.location_id, site.evse_uid, "1"),
        ]
        for record in records:
            _refused(record, "REJECTED")
            assert record.response.get("message"), record.response  # why, for the eMSP
        await _exactly_once(peer, with_result=0)
