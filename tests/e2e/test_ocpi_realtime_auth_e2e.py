"""OCPI real-time authorization end to end (issue 4, "Done means"): Borne as CPO and the
independent eMSP peer (tests/ocpi_peer) over real loopback HTTP, a simulated station of each
OCPP version.

An RFID Borne does not know goes to the peer's ``POST tokens/{uid}/authorize``: ALLOWED (with
an ``authorization_reference``) lets the station charge, and the Session and the CDR Borne
pushes carry that reference with ``auth_method`` AUTH_REQUEST; BLOCKED blocks; a uid the peer
does not know (2004) is Invalid. A token the peer pushed with whitelist ALWAYS is accepted
without asking.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from helpers import (
    BorneServer,
    Station16,
    Station201,
    connect16,
    connect201,
    start_server,
    stop_server,
    unique_id,
)
from ocpi_helpers import CPO_COUNTRY, CPO_PARTY, Site, connect_peer, create_site
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from ocpi_peer import EmspPeer, SchemaLibrary

pytestmark = pytest.mark.skipif(
    not SchemaLibrary().available, reason="../shared/ocpi/openapi absent: peer validation off"
)

CPO = (CPO_COUNTRY, CPO_PARTY)
#: Station version -> OCPI version the peer negotiates: both of each are covered.
OCPI_OF = {"1.6": "2.2.1", "2.0.1": "2.3.0"}


@pytest.fixture
async def borne(db_url: str) -> AsyncIterator[BorneServer]:
    # Session updates as soon as they happen: the test watches them arrive.
    server = await start_server(db_url, ocpi_session_update_interval_s=0)
    try:
        yield server
    finally:
        await stop_server(server)


@pytest.fixture
async def peer(borne: BorneServer, version: str) -> AsyncIterator[EmspPeer]:
    async with EmspPeer() as emsp:
        await connect_peer(borne, emsp, OCPI_OF[version])
        yield emsp


async def site(borne: BorneServer) -> Site:
    async with borne.api() as api:
        return await create_site(api, station_id=unique_id("RTA"))


def stamp(delta_s: float = 0) -> str:
    """Now (+ ``delta_s``) as stations write it: UTC with milliseconds."""
    at = datetime.now(UTC) + timedelta(seconds=delta_s)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def rfid() -> str:
    return uuid.uuid4().hex[:14].upper()  # a 7-byte card UID, as readers report it


# ------------------------------------------------------------------ one station, either version


class Driver:
    """The station side of a charge, the same for OCPP 1.6 and 2.0.1."""

    def __init__(self, cp: Station16 | Station201) -> None:
        self.cp = cp
        self.tx_id: int | str | None = None

    async def authorize(self, uid: str) -> str:
        if isinstance(self.cp, Station16):
            res = await self.cp.call(call16.Authorize(id_tag=uid))
            return str(res.id_tag_info["status"])
        res = await self.cp.call(call201.Authorize(id_token={"id_token": uid, "type": "ISO14443"}))
        return str(res.id_token_info["status"])

    async def charge(self, uid: str, wh: list[int]) -> str:
        """Start with ``uid``, send the meter readings one minute apart (the last one now),
        stop; the start's status."""
        at = [stamp(-60.0 * (len(wh) - 1 - i)) for i in range(len(wh))]
        if isinstance(self.cp, Station16):
            started = await self.cp.call(
                call16.StartTransaction(
                    connector_id=1, id_tag=uid, meter_start=wh[0], timestamp=at[0]
                )
            )
            self.tx_id = started.transaction_id
            for i, value in enumerate(wh[1:-1], start=1):
                await self.cp.call(
                    call16.MeterValues(
                        connector_id=1,
                        transaction_id=self.tx_id,
                        meter_value=[
                            {
                                "timestamp": at[i],
                                "sampled_value": [
                                    {
                                        "value": str(value),
                                        "measurand": "Energy.Active.Import.Register",
                                        "unit": "Wh",
                                    }
                                ],
                            }
                        ],
                    )
                )
            await self.cp.call(
                call16.StopTransaction(
                    meter_stop=wh[-1], timestamp=at[-1], transaction_id=self.tx_id, id_tag=uid
                )
            )
            return str(started.id_tag_info["status"])
        tx_id = unique_id("tx")
        self.tx_id = tx_id
        token = {"id_token": uid, "type": "ISO14443"}
        started = await self.cp.call(
            _event201("Started", 0, tx_id, "Authorized", wh[0], at[0], id_token=token,
                      evse={"id": 1, "connector_id": 1})
        )  # fmt: skip
        for seq, value in enumerate(wh[1:-1], start=1):
            await self.cp.call(
                _event201("Updated", seq, tx_id, "MeterValuePeriodic", value, at[seq])
            )
        await self.cp.call(
            _event201("Ended", len(wh) - 1, tx_id, "StopAuthorized", wh[-1], at[-1],
                      info={"stopped_reason": "Local"})
        )  # fmt: skip
        return str(started.id_token_info["status"])


def _event201(
    kind: str, seq: int, tx_id: str, trigger: str, wh: int, at: str, **extra: Any
) -> call201.TransactionEvent:
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
                    {
                        "value": wh,
                        "measurand": "Energy.Active.Import.Register",
                        "context": context,
                    }
                ],
            }
        ],
        **extra,
    )


def connect(borne: BorneServer, version: str, station_id: str) -> Any:
    return (connect16 if version == "1.6" else connect201)(borne, station_id)


async def station_transactions(borne: BorneServer, station_id: str) -> list[dict[str, Any]]:
    async with borne.api() as api:
        r = await api.get("/transactions", params={"station_id": station_id})
        assert r.status_code == 200, r.text
        out: list[dict[str, Any]] = r.json()["items"]
        return out


def sessions_of(peer: EmspPeer, uid: str) -> list[tuple[str, dict[str, Any]]]:
    """(session id, current state) of every session pushed to the peer for token ``uid``."""
    return [
        (oid, obj)
        for (_, _, oid), obj in peer.sessions.current.items()
        if isinstance(obj, dict) and (obj.get("cdr_token") or {}).get("uid") == uid
    ]


def cdrs_of(peer: EmspPeer, uid: str) -> list[dict[str, Any]]:
    return [
        obj
        for obj in peer.cdrs.current.values()
        if isinstance(obj, dict) and (obj.get("cdr_token") or {}).get("uid") == uid
    ]


async def wait_for(peer: EmspPeer, predicate: Callable[[], bool], what: str) -> None:
    """Wait for the peer's state; a timeout shows what the peer rejected, if anything."""
    try:
        await peer.wait_until(predicate, timeout=15)
    except TimeoutError:
        peer.assert_no_violations()
        raise AssertionError(f"the peer never received {what}") from None


def total_incl(cdr: dict[str, Any]) -> Decimal:
    cost = cdr["total_cost"]
    if "incl_vat" in cost:  # 2.2.1 Price
        return Decimal(str(cost["incl_vat"]))
    taxes = sum((Decimal(str(t["amount"])) for t in cost.get("taxes") or []), Decimal(0))
    return Decimal(str(cost["before_taxes"])) + taxes  # 2.3.0 Price


# ------------------------------------------------------------------------------------ the tests


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_unknown_rfid_is_authorized_by_the_emsp_in_real_time(
    borne: BorneServer, peer: EmspPeer, version: str
) -> None:
    where = await site(borne)
    station_id, location_id, evse_uid = where.station_id, where.location_id, where.evse_uid
    allowed, blocked, unknown = rfid(), rfid(), rfid()
    reference = f"REF-{uuid.uuid4().hex[:12]}"
    peer.set_authorization(allowed, "ALLOWED", authorization_reference=reference)
    peer.set_authorization(blocked, "BLOCKED")

    async with connect(borne, version, station_id) as cp:
        await cp.boot()
        driver = Driver(cp)
        assert await driver.authorize(allowed) == "Accepted"
        assert await driver.authorize(blocked) == "Blocked"
        assert await driver.authorize(unknown) == "Invalid"
        # The eMSP was asked about each card, with the type and where the driver stands.
        asked = {r.uid: r for r in peer.authorize_requests}
        assert set(asked) == {allowed, blocked, unknown}
        assert [asked[u].answered_allowed for u in (allowed, blocked, unknown)] == [
            "ALLOWED",
            "BLOCKED",
            None,
        ]
        assert {r.token_type for r in asked.values()} == {"RFID"}
        # (an OCPP Authorize names no EVSE: the location only)
        assert asked[allowed].body == {"location_id": location_id}

        # The accepted card charges 3 kWh.
        assert await driver.charge(allowed, [10_000, 11_500, 13_000]) == "Accepted"

    [tx] = await station_transactions(borne, station_id)
    await wait_for(peer, lambda: bool(cdrs_of(peer, allowed)), "the CDR")
    [(session_id, session)] = sessions_of(peer, allowed)
    await peer.wait_until(lambda: sessions_of(peer, allowed)[0][1]["status"] == "COMPLETED")
    history = peer.sessions.history_of(session_id)
    put_first = peer.requests_to("sessions")[0]
    assert put_first.method == "PUT" and session_id in put_first.path
    assert history[0]["status"] == "ACTIVE"
    for state in (history[0], session):
        assert state["authorization_reference"] == reference
        assert state["auth_method"] == "AUTH_REQUEST"
        assert (state["cdr_token"]["country_code"], state["cdr_token"]["party_id"]) == (
            peer.country_code,
            peer.party_id,
        )
        assert (state["country_code"], state["party_id"]) == CPO
        assert state["location_id"] == location_id and state["evse_uid"] == evse_uid

    assert Decimal(str(session["kwh"])) == 3
    [cdr] = cdrs_of(peer, allowed)
    assert cdr["authorization_reference"] == reference
    assert cdr["auth_method"] == "AUTH_REQUEST"
    assert cdr["cdr_token"]["uid"] == allowed and cdr["cdr_token"]["type"] == "RFID"
    assert cdr["session_id"] == session_id
    assert Decimal(str(cdr["total_energy"])) == 3
    assert total_incl(cdr) == Decimal("0.90")  # 3 kWh x 0.25 + 20 % VAT
    assert tx["id_token"] == allowed
    # Nothing was pushed twice, and every object the peer received met the OpenAPI schemas.
    assert peer.sessions.total_duplicates() == 0 and peer.cdrs.total_duplicates() == 0
    assert len(peer.authorize_requests) == 3  # the start reused the decision, no new round
    peer.assert_no_violations()


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_pushed_always_whitelist_token_is_accepted_without_asking(
    borne: BorneServer, peer: EmspPeer, version: str
) -> None:
    station_id = (await site(borne)).station_id
    uid = rfid()
    await peer.push_token(peer.make_token(uid, whitelist="ALWAYS"))
    # Were it asked, the eMSP would refuse: an answer would show.
    peer.set_authorization(uid, "BLOCKED")

    async with connect(borne, version, station_id) as cp:
        await cp.boot()
        driver = Driver(cp)
        assert await driver.authorize(uid) == "Accepted"
        assert await driver.charge(uid, [0, 1_000]) == "Accepted"

    assert peer.authorize_requests == []
    await wait_for(peer, lambda: bool(cdrs_of(peer, uid)), "the CDR")
    [(_, session)] = sessions_of(peer, uid)
    [cdr] = cdrs_of(peer, uid)
    for doc in (session, cdr):
        assert doc["auth_method"] == "WHITELIST"
        assert "authorization_reference" not in doc
        assert doc["cdr_token"]["contract_id"] == peer.tokens[(uid, "RFID")]["contract_id"]
    peer.assert_no_violations()
