"""OCPI end to end, two real parties over loopback HTTP: Borne as CPO and the independent eMSP
peer of ``tests/ocpi_peer`` (no code shared with ``borne.ocpi``).

The credentials handshake runs both ways; then the eMSP pulls locations and tariffs, pushes a
token, starts a session by command on a simulated station (OCPP 1.6 and 2.0.1), receives the
session's PUT and PATCHes, stops it by command and receives one CDR whose total matches the
tariff. Every object the peer receives or pulls is validated against the official OpenAPI
schemas (``peer.assert_no_violations()``).

The stations are ``ocpp`` ChargePoints that behave like real ones: they accept a remote start
and then start a transaction for the given id token, and accept a remote stop and then end it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from decimal import Decimal as D
from typing import Any

import pytest
from helpers import (
    BorneServer,
    Station16,
    Station201,
    now_iso,
    open_ws,
    start_server,
    stop_server,
    unique_id,
)
from ocpi_helpers import (
    CPO_COUNTRY,
    CPO_PARTY,
    Site,
    connect_peer,
    create_site,
    register_borne_with,
)
from ocpp.routing import after
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from ocpi_peer import EmspPeer

# eMI3 EVSE id: country, operator, "E", outlet (the optional "*" separators included).
EMI3_EVSE = re.compile(r"^[A-Z]{2}\*?[A-Z0-9]{3}\*?E[A-Z0-9*]{1,30}$")
WAIT_S = 15.0


@pytest.fixture
async def borne(db_url: str) -> AsyncIterator[BorneServer]:
    """Borne pushing every session update at once (interval 0) and pricing every reading."""
    server = await start_server(
        db_url,
        ocpi_session_update_interval_s=0,
        live_cost_min_interval_s=0,
        ocpi_outbox_poll_interval_s=0.1,
        ocpi_outbox_backoff_base_s=0.2,
    )
    try:
        yield server
    finally:
        await stop_server(server)


# ------------------------------------------------------------------------------ stations


class _Charging:
    """What the simulated stations share: the transaction the remote start began, as a future
    the test awaits (an exception in the station's own calls lands there too)."""

    def _init_charging(self) -> None:
        loop = asyncio.get_running_loop()
        self.started: asyncio.Future[str] = loop.create_future()
        self.ended: asyncio.Future[Any] = loop.create_future()
        self.meter_wh = 0

    @staticmethod
    async def _settle(fut: asyncio.Future[Any], work: Any) -> None:
        try:
            fut.set_result(await work)
        except Exception as exc:  # the test sees it when awaiting the future
            fut.set_exception(exc)


class RoamingStation16(Station16, _Charging):
    """Answers RemoteStart/RemoteStopTransaction Accepted (``Station16``), then does it."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._init_charging()

    @after("RemoteStartTransaction")
    async def begin_charging(self, id_tag: str, connector_id: int | None = None, **_: Any) -> None:
        await self._settle(self.started, self._start(id_tag, connector_id or 1))

    async def _start(self, id_tag: str, connector_id: int) -> str:
        res = await self.call(
            call16.StartTransaction(
                connector_id=connector_id, id_tag=id_tag, meter_start=0, timestamp=now_iso()
            )
        )
        assert res.id_tag_info["status"] == "Accepted", res.id_tag_info
        await self.status("Charging", connector_id)
        return str(res.transaction_id)

    @after("RemoteStopTransaction")
    async def end_charging(self, transaction_id: int, **_: Any) -> None:
        await self._settle(self.ended, self._stop(transaction_id))

    async def _stop(self, transaction_id: int) -> Any:
        return await self.call(
            call16.StopTransaction(
                transaction_id=transaction_id,
                meter_stop=self.meter_wh,
                timestamp=now_iso(),
                reason="Remote",
            )
        )

    async def status(self, status: str, connector_id: int = 1) -> None:
        await self.call(
            call16.StatusNotification(
                connector_id=connector_id, error_code="NoError", status=status, timestamp=now_iso()
            )
        )

    async def meter(self, wh: int) -> None:
        self.meter_wh = wh
        tx_id = int(self.started.result())
        await self.call(
            call16.MeterValues(
                connector_id=1,
                transaction_id=tx_id,
                meter_value=[
                    {
                        "timestamp": now_iso(),
                        "sampled_value": [
                            {
                                "value": str(wh),
                                "measurand": "Energy.Active.Import.Register",
                                "unit": "Wh",
                                "context": "Sample.Periodic",
                            }
                        ],
                    }
                ],
            )
        )


def _mv201(wh: int, context: str) -> list[dict[str, Any]]:
    return [
        {
            "timestamp": now_iso(),
            "sampled_value": [
                {"value": wh, "measurand": "Energy.Active.Import.Register", "context": context}
            ],
        }
    ]


class RoamingStation201(Station201, _Charging):
    """Answers RequestStart/RequestStopTransaction Accepted (``Station201``), then does it."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._init_charging()
        self.seq = 0

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq - 1

    @after("RequestStartTransaction")
    async def begin_charging(
        self, id_token: dict[str, Any], remote_start_id: int, evse_id: int | None = None, **_: Any
    ) -> None:
        await self._settle(self.started, self._start(id_token, remote_start_id, evse_id or 1))

    async def _start(self, id_token: dict[str, Any], remote_start_id: int, evse_id: int) -> str:
        tx_id = unique_id("TX")
        res = await self.call(
            call201.TransactionEvent(
                event_type="Started",
                timestamp=now_iso(),
                trigger_reason="RemoteStart",
                seq_no=self._next_seq(),
                transaction_info={
                    "transaction_id": tx_id,
                    "charging_state": "Charging",
                    "remote_start_id": remote_start_id,
                },
                evse={"id": evse_id, "connector_id": 1},
                id_token=id_token,
                meter_value=_mv201(0, "Transaction.Begin"),
            )
        )
        assert res.id_token_info is not None and res.id_token_info["status"] == "Accepted", res
        await self.status("Occupied", evse_id)
        return tx_id

    @after("RequestStopTransaction")
    async def end_charging(self, transaction_id: str, **_: Any) -> None:
        await self._settle(self.ended, self._stop(transaction_id))

    async def _stop(self, transaction_id: str) -> Any:
        return await self.call(
            call201.TransactionEvent(
                event_type="Ended",
                timestamp=now_iso(),
                trigger_reason="RemoteStop",
                seq_no=self._next_seq(),
                transaction_info={"transaction_id": transaction_id, "stopped_reason": "Remote"},
                meter_value=_mv201(self.meter_wh, "Transaction.End"),
            )
        )

    async def status(self, status: str, evse_id: int = 1) -> None:
        await self.call(
            call201.StatusNotification(
                timestamp=now_iso(), connector_status=status, evse_id=evse_id, connector_id=1
            )
        )

    async def meter(self, wh: int) -> None:
        self.meter_wh = wh
        await self.call(
            call201.TransactionEvent(
                event_type="Updated",
                timestamp=now_iso(),
                trigger_reason="MeterValuePeriodic",
                seq_no=self._next_seq(),
                transaction_info={"transaction_id": self.started.result()},
                meter_value=_mv201(wh, "Sample.Periodic"),
            )
        )


@contextlib.asynccontextmanager
async def _connect(
    ocpp: str, borne: BorneServer, station_id: str
) -> AsyncIterator[RoamingStation16 | RoamingStation201]:
    """The station of ``ocpp``'s version, connected and running until the block ends."""
    ws = await open_ws(borne, station_id, "ocpp1.6" if ocpp == "1.6" else "ocpp2.0.1")
    cp = (RoamingStation16 if ocpp == "1.6" else RoamingStation201)(station_id, ws)
    task = asyncio.get_running_loop().create_task(cp.start())
    try:
        yield cp
    finally:
        task.cancel()
        await ws.close()
        await asyncio.gather(task, return_exceptions=True)


# ------------------------------------------------------------------------------- checks


def _our_location(locations: list[dict[str, Any]], site: Site) -> dict[str, Any]:
    found = [loc for loc in locations if loc["id"] == site.location_id]
    assert len(found) == 1, [loc["id"] for loc in locations]
    return found[0]


def _check_location(loc: dict[str, Any], site: Site, status: str) -> None:
    assert (loc["country_code"], loc["party_id"]) == (CPO_COUNTRY, CPO_PARTY)
    [evse] = loc["evses"]
    assert evse["uid"] == site.evse_uid
    assert EMI3_EVSE.match(evse["evse_id"]), evse["evse_id"]
    assert evse["status"] == status
    assert "REMOTE_START_STOP_CAPABLE" in evse.get("capabilities", [])
    [connector] = evse["connectors"]
    assert connector["id"] == str(site.connector_id)
    assert (connector["standard"], connector["format"]) == ("IEC_62196_T2", "SOCKET")
    assert (connector["power_type"], connector["max_voltage"]) == ("AC_3_PHASE", 230)
    assert connector["tariff_ids"] == [site.tariff_id]


def _amount(price: dict[str, Any], version: str) -> tuple[Decimal, Decimal]:
    """(excl. VAT, incl. VAT) of an OCPI Price of either version."""
    if version == "2.2.1":
        return Decimal(str(price["excl_vat"])), Decimal(str(price["incl_vat"]))
    excl = Decimal(str(price["before_taxes"]))
    return excl, excl + sum((Decimal(str(t["amount"])) for t in price.get("taxes", [])), Decimal())


async def _wait(peer: EmspPeer, predicate: Callable[[], bool], what: str) -> None:
    """Wait for ``predicate``; on timeout fail with what the peer saw wrong meanwhile."""
    try:
        await peer.wait_until(predicate, WAIT_S)
    except TimeoutError:
        seen = "\n".join(f"  - {v}" for v in peer.violations) or "  (none)"
        raise AssertionError(f"timed out waiting for {what}; violations:\n{seen}") from None


def _progress(session: dict[str, Any], version: str) -> tuple[Decimal, ...]:
    """(kWh, cost excl. VAT, cost incl. VAT) of the session as the peer holds it."""
    if "total_cost" not in session:
        return ()
    return (Decimal(str(session["kwh"])), *_amount(session["total_cost"], version))


def _session_requests(peer: EmspPeer, method: str) -> list[dict[str, Any]]:
    return [r.body for r in peer.requests_to("sessions", method)]


async def _handshake(direction: str, borne: BorneServer, peer: EmspPeer) -> int:
    """Registers the two parties; the partner id in Borne."""
    if direction == "peer-registers":
        return await connect_peer(borne, peer)
    partner = await register_borne_with(borne, peer)
    return int(partner["id"])


# -------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("direction", ["peer-registers", "borne-registers"])
async def test_handshake_both_ways(borne: BorneServer, direction: str) -> None:
    """After either handshake both sides hold working credentials and the operator sees the
    partner registered, with its version, EMSP role and endpoints."""
    async with EmspPeer() as peer:
        partner_id = await _handshake(direction, borne, peer)
        assert peer.client_token is not None and peer.version == "2.3.0"
        assert (CPO_COUNTRY, CPO_PARTY) in peer.cpo_parties()
        assert ("commands", "RECEIVER") in peer.cpo_endpoints
        assert await peer.pull_locations() == []  # token C works on a module
        async with borne.api() as api:
            r = await api.get(f"/partners/{partner_id}")
            assert r.status_code == 200, r.text
            partner = r.json()
            listed = (await api.get("/partners")).json()
        assert partner["status"] == "registered"
        assert partner["version"] == "2.3.0"
        assert partner["versions_url"] == peer.versions_url
        assert [(r["country_code"], r["party_id"], r["role"]) for r in partner["roles"]] == [
            ("DE", "EMP", "EMSP")
        ]
        endpoints = {(e["identifier"], e["role"]) for e in partner["endpoints"]}
        assert {("sessions", "RECEIVER"), ("cdrs", "RECEIVER")} <= endpoints
        assert partner["last_error"] is None
        assert "token" not in partner  # no token is shown again (R27)
        for secret in (peer.client_token, *peer.server_tokens):
            assert secret not in r.text
        assert [p["id"] for p in listed] == [partner_id]
        peer.assert_no_violations()


# Each OCPP version with each OCPI version, each handshake direction with each of both.
CASES = [
    pytest.param("1.6", "2.2.1", "peer-registers", id="ocpp16-ocpi221-peer-registers"),
    pytest.param("1.6", "2.3.0", "borne-registers", id="ocpp16-ocpi230-borne-registers"),
    pytest.param("2.0.1", "2.2.1", "borne-registers", id="ocpp201-ocpi221-borne-registers"),
    pytest.param("2.0.1", "2.3.0", "peer-registers", id="ocpp201-ocpi230-peer-registers"),
]


@pytest.mark.parametrize(("ocpp", "ocpi", "direction"), CASES)
async def test_remote_session_to_cdr(
    borne: BorneServer, ocpp: str, ocpi: str, direction: str
) -> None:
    async with borne.api() as api:
        site = await create_site(api)
    async with EmspPeer(versions=(ocpi,)) as peer:
        await _handshake(direction, borne, peer)
        assert peer.version == ocpi
        # on registration Borne pushes what the partner sees: the tariff, then the location
        # (so its later EVSE status PATCHes find it at the partner)
        await peer.wait_until(
            lambda: bool(peer.locations.history) and bool(peer.tariffs.history), timeout=10
        )
        assert [r.method for r in peer.requests_to("locations")][:1] == ["PUT"]
        assert [r.method for r in peer.requests_to("tariffs")][:1] == ["PUT"]

        async with _connect(ocpp, borne, site.station_id) as cp:
            await cp.boot()
            await cp.status("Available")

            # -- pull: the location with its EVSE, live status and tariff; the tariff
            _check_location(_our_location(await peer.pull_locations(), site), site, "AVAILABLE")
            assert peer.last_pull is not None and not peer.last_pull.duplicates
            one = await peer.get_location(site.location_id, site.evse_uid)
            assert one["uid"] == site.evse_uid
            tariffs = {t["id"]: t for t in await peer.pull_tariffs()}
            tariff = tariffs[site.tariff_id]
            assert (tariff["country_code"], tariff["party_id"]) == (CPO_COUNTRY, CPO_PARTY)
            assert tariff["currency"] == "EUR"
            [component] = tariff["elements"][0]["price_components"]
            assert (component["type"], Decimal(str(component["price"]))) == (
                "ENERGY",
                Decimal("0.25"),
            )

            # -- push a token, read it back as the CPO stored it
            uid = unique_id("RFID").replace("-", "").upper()[:20]
            token = peer.make_token(uid, "RFID", whitelist="ALLOWED")
            await peer.push_token(token)
            url = f"{peer.endpoint('tokens', 'RECEIVER')}/{peer.country_code}/{peer.party_id}/{uid}"
            r = await peer.client.request(
                "GET", url, token=peer.client_token or "", module="tokens", params={"type": "RFID"}
            )
            assert r.ok, (r.http_status, r.envelope)
            peer.client.check(f"GET {url}", ocpi, "tokens", "Token", r.data)
            assert (r.data["uid"], r.data["contract_id"], r.data["whitelist"]) == (
                uid, token["contract_id"], "ALLOWED"
            )  # fmt: skip

            # -- START_SESSION: accepted now, ACCEPTED result once the station accepted
            start = await peer.start_session(site.location_id, site.evse_uid, token)
            assert (start.http_status, start.ocpi_status) == (200, 1000), start.response
            assert start.response["result"] == "ACCEPTED", start.response
            assert (await peer.wait_command_result(start, WAIT_S))["result"] == "ACCEPTED"
            await asyncio.wait_for(cp.started, WAIT_S)

            # the session's PUT: ACTIVE, started by command on the peer's token
            await _wait(peer, lambda: len(peer.sessions.current) == 1, "the session's PUT")
            [session] = list(peer.sessions.current.values())
            session_id = session["id"]
            assert session["status"] == "ACTIVE"
            assert session["auth_method"] == "COMMAND"
            assert (session["country_code"], session["party_id"]) == (CPO_COUNTRY, CPO_PARTY)
            cdr_token = session["cdr_token"]
            assert (cdr_token["uid"], cdr_token["type"]) == (uid, "RFID")
            assert cdr_token["contract_id"] == token["contract_id"]
            assert (cdr_token["country_code"], cdr_token["party_id"]) == ("DE", "EMP")
            assert session["location_id"] == site.location_id
            assert session["evse_uid"] == site.evse_uid
            assert session["connector_id"] == str(site.connector_id)
            [put] = _session_requests(peer, "PUT")
            assert put["status"] == "ACTIVE"
            # the live status the station reported (1.6 Charging, 2.0.1 Occupied)
            _check_location(await peer.get_location(site.location_id), site, "CHARGING")

            # a meter reading: a PATCH with the energy so far (and its cost, 2 kWh x 0.25)
            await cp.meter(2000)
            half = (D("2"), D("0.50"), D("0.60"))  # kWh, excl. and incl. VAT (20 %)
            await _wait(peer, lambda: _progress(session, ocpi) == half, "2 kWh")
            patches = _session_requests(peer, "PATCH")
            assert patches and all("status" not in p for p in patches)
            await cp.meter(4000)
            full = (D("4"), D("1.00"), D("1.20"))
            await _wait(peer, lambda: _progress(session, ocpi) == full, "4 kWh")

            # -- STOP_SESSION: the station ends the transaction; COMPLETED, then one CDR
            stop = await peer.stop_session(session_id)
            assert stop.response["result"] == "ACCEPTED", stop.response
            assert (await peer.wait_command_result(stop, WAIT_S))["result"] == "ACCEPTED"
            await asyncio.wait_for(cp.ended, WAIT_S)
            await _wait(peer, lambda: len(peer.cdrs.current) == 1, "the CDR")
            await _wait(peer, lambda: session["status"] == "COMPLETED", "COMPLETED")

        # Hand-computed: 4 kWh (meter 0 -> 4000 Wh) at 0.25 EUR/kWh, step 1 Wh:
        #   1.00 EUR excl. VAT; VAT 20 % = 0.20; 1.20 EUR incl. VAT.
        [cdr] = list(peer.cdrs.current.values())
        assert _amount(cdr["total_cost"], ocpi) == (Decimal("1.00"), Decimal("1.20"))
        assert Decimal(str(cdr["total_energy"])) == 4
        assert cdr["currency"] == "EUR"
        assert (cdr["country_code"], cdr["party_id"]) == (CPO_COUNTRY, CPO_PARTY)
        assert cdr["auth_method"] == "COMMAND"
        assert (cdr["cdr_token"]["uid"], cdr["cdr_token"]["contract_id"]) == (
            uid, token["contract_id"]
        )  # fmt: skip
        assert cdr["cdr_location"]["id"] == site.location_id
        assert cdr["cdr_location"]["evse_uid"] == site.evse_uid
        assert [t["id"] for t in cdr.get("tariffs", [])] == [site.tariff_id]
        assert cdr["session_id"] == session_id
        # the session's last state and the CDR agree
        assert _amount(session["total_cost"], ocpi) == (Decimal("1.00"), Decimal("1.20"))
        assert Decimal(str(session["kwh"])) == 4
        assert "end_date_time" in session

        # exactly once: one CDR, no delivery repeated, nothing after COMPLETED
        await asyncio.sleep(0.5)
        assert len(peer.requests_to("cdrs", "POST")) == 1
        assert peer.cdrs.total_duplicates() == 0
        assert peer.sessions.total_duplicates() == 0, "\n".join(
            f"{r.method} {r.body}" for r in peer.requests_to("sessions")
        )
        bodies = peer.sessions.history_of(session_id)
        assert bodies[-1].get("status") == "COMPLETED"
        assert sum(1 for b in bodies if b.get("status") == "COMPLETED") == 1
        assert next(r.method for r in peer.requests_to("sessions")) == "PUT"
        peer.assert_no_violations()
