"""Sessions and CDRs modules end to end on a real database: a 1.6 transaction runs through the
transactions handlers, the CDR domain issues its CDR, the push subscriber writes the outbox,
and partners pull ``/{version}/cpo/sessions`` and ``/cdrs`` through the OCPI app (visibility,
pagination, never a CDR twice)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

sys.path.insert(0, str(Path(__file__).parents[1] / "transactions"))
from tx_helpers import T0, Csms

from borne.cdrs.live_cost import LiveCosts
from borne.cdrs.subscribers import CdrSubscribers
from borne.core.deps import Deps
from borne.ocpi.client import OcpiClient
from borne.ocpi.outbox_models import OcpiOutboxRow
from borne.ocpi.party import Party, PartyRole
from borne.ocpi.server import create_ocpi_app
from borne.roaming import cdrs_api, sessions_api
from borne.roaming.config import RoamingConfig, RoamingContext
from borne.roaming.models import Partner, PartnerRole
from borne.roaming.sessions import CpoIdentity, TokenOwner
from borne.roaming.sessions_models import RoamingCdrPost
from borne.roaming.sessions_push import SessionPushes
from borne.stations.models import Station
from borne.transactions.models import Transaction

CPO = CpoIdentity("NL", "BRN")
PARTNERS = {"tok-a": (1, "DE", "EMA"), "tok-b": (2, "FR", "EMB")}


class Tokens:
    """Test resolver: tag ``A-*`` belongs to partner 1, ``B-*`` to partner 2, others local."""

    async def owner_of(self, session: AsyncSession, tx: Transaction) -> TokenOwner | None:
        tag = tx.id_token or ""
        for prefix, (pid, cc, party) in (("A-", PARTNERS["tok-a"]), ("B-", PARTNERS["tok-b"])):
            if tag.startswith(prefix):
                return TokenOwner(pid, cc, party, tag, "RFID", f"{cc}-{party}-{tag}",
                                  "AUTH_REQUEST", f"REF-{tag}")  # fmt: skip
        return None


class Auth:
    async def authenticate(self, tokens: Sequence[str]) -> Party | None:
        for t in tokens:
            if t in PARTNERS:
                pid, cc, party = PARTNERS[t]
                return Party(pid, t, (PartyRole(cc, party, "EMSP"),), True, "2.2.1", True)
        return None


async def setup(deps: Deps) -> None:
    now = datetime.now(UTC)
    endpoints = [
        {"identifier": m, "role": "RECEIVER", "url": f"http://emsp/{m}"}
        for m in ("sessions", "cdrs")
    ]
    async with deps.db.unit_of_work() as uow:
        uow.session.add(Station(station_id="CP1", created_at=now, updated_at=now))
        for token, (pid, cc, party) in PARTNERS.items():
            uow.session.add(
                Partner(id=pid, name=token, status="registered", version="2.2.1",
                        endpoints=endpoints if pid == 1 else [], created_at=now, updated_at=now)
            )  # fmt: skip
            await uow.session.flush()
            uow.session.add(
                PartnerRole(country_code=cc, party_id=party, role="EMSP", partner_id=pid)
            )
        await uow.commit()


async def wait_for(probe: Any, timeout: float = 10) -> Any:
    for _ in range(int(timeout / 0.02)):
        value = await probe()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError("timed out")


async def outbox(deps: Deps) -> list[OcpiOutboxRow]:
    async with deps.db.unit_of_work() as uow:
        rows = list(await uow.session.scalars(select(OcpiOutboxRow).order_by(OcpiOutboxRow.id)))
        uow.session.expunge_all()  # keep them loaded after the unit of work rolls back
        return rows


def client(deps: Deps) -> httpx.AsyncClient:
    app = create_ocpi_app(routers=[sessions_api.router, cdrs_api.router], authenticator=Auth())
    config = RoamingConfig("http://test/ocpi", "NL", "BRN", "Borne")
    app.state.roaming = RoamingContext(deps.db, deps.clock, config, OcpiClient())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


async def charge(csms: Csms, tag: str, start: datetime) -> int:
    await csms.token(tag)
    tx_id = (await csms.start16("CP1", tag=tag, meter=1000, ts=start))["transactionId"]
    await csms.v16("CP1", "MeterValues", {
        "connectorId": 1, "transactionId": tx_id,
        "meterValue": [{"timestamp": (start + timedelta(minutes=30)).isoformat(),
                        "sampledValue": [{"value": "6000"}]}],
    })  # fmt: skip
    await csms.stop16("CP1", tx_id, meter=11000, ts=start + timedelta(hours=1))
    pk: int = (await csms.tx("CP1", tx_id)).id
    return pk


async def test_push_pull_and_visibility(deps: Deps) -> None:
    await setup(deps)
    csms = Csms(deps)
    cdrs = CdrSubscribers(deps.db, deps.clock, deps.supervisor, LiveCosts(),
                          sweep_interval_s=0, min_interval_s=0)  # fmt: skip
    cdrs.subscribe(deps.bus)
    pushes = SessionPushes(deps.db, deps.clock, cpo=CPO, tokens=Tokens(), interval_s=0)
    pushes.subscribe(deps.bus)

    pk_a = await charge(csms, "A-1", T0)
    pk_b = await charge(csms, "B-1", T0 + timedelta(hours=2))
    pk_local = await charge(csms, "LOCAL", T0 + timedelta(hours=4))

    async def cdr_posted() -> bool:
        return any(r.module == "cdrs" for r in await outbox(deps))

    await wait_for(cdr_posted)
    await asyncio.sleep(0.2)
    rows = await outbox(deps)
    # only partner 1 receives pushes (partner 2 has no receiver endpoints; LOCAL is Borne's)
    assert {r.partner_id for r in rows} == {1}
    sessions = [r for r in rows if r.module == "sessions"]
    assert sessions[0].method == "PUT" and sessions[0].path == f"/NL/BRN/{pk_a}"
    assert all(r.method == "PATCH" for r in sessions[1:])
    assert all(r.key == f"sessions:NL/BRN/{pk_a}" for r in sessions)
    last = json.loads(sessions[-1].body or "{}")
    assert last["status"] == "COMPLETED" and last["charging_periods"] and last["kwh"] == 10.0
    [posted] = [r for r in rows if r.module == "cdrs"]
    cdr_body = json.loads(posted.body or "{}")
    assert (cdr_body["session_id"], cdr_body["authorization_reference"]) == (str(pk_a), "REF-A-1")
    assert cdr_body["cdr_token"]["party_id"] == "EMA" and cdr_body["party_id"] == "BRN"

    # the CDR event again (a retry, a duplicate): nothing new in the outbox
    cdr_id = cdr_body["id"]
    await pushes.sync(pk_a, cdr_id=cdr_id)
    assert len(await outbox(deps)) == len(rows)
    async with deps.db.unit_of_work() as uow:
        assert len(list(await uow.session.scalars(select(RoamingCdrPost)))) == 1

    async with client(deps) as http:
        for version in ("2.2.1", "2.3.0"):
            got = (await http.get(f"/{version}/cpo/sessions", headers=auth("tok-a"))).json()
            assert [s["id"] for s in got["data"]] == [str(pk_a)]
            assert got["data"][0]["status"] == "COMPLETED"
            got = (await http.get(f"/{version}/cpo/cdrs", headers=auth("tok-b"))).json()
            assert [c["session_id"] for c in got["data"]] == [str(pk_b)]
        # nobody sees the local token's session
        for token in PARTNERS:
            data = (await http.get("/2.2.1/cpo/sessions", headers=auth(token))).json()["data"]
            assert str(pk_local) not in [s["id"] for s in data]
        # unauthenticated: 401
        assert (await http.get("/2.2.1/cpo/sessions")).status_code == 401
        # charging preferences: unknown for another partner, not capable for the owner
        body = {"profile_type": "FAST"}
        other = await http.put(f"/2.2.1/cpo/sessions/{pk_a}/charging_preferences",
                               headers=auth("tok-b"), json=body)  # fmt: skip
        assert (other.status_code, other.json()["status_code"]) == (404, 2000)
        mine = await http.put(f"/2.2.1/cpo/sessions/{pk_a}/charging_preferences",
                              headers=auth("tok-a"), json=body)  # fmt: skip
        assert (mine.status_code, mine.json()["status_code"]) == (404, 2001)


async def test_pagination_by_last_updated(deps: Deps) -> None:
    await setup(deps)
    csms = Csms(deps)
    pushes = SessionPushes(deps.db, deps.clock, cpo=CPO, tokens=Tokens(), interval_s=0)
    pushes.subscribe(deps.bus)
    pks = [await charge(csms, f"A-{i}", T0 + timedelta(hours=2 * i)) for i in range(5)]
    await csms.settle()

    async def five() -> bool:
        async with client(deps) as http:
            r = await http.get("/2.3.0/cpo/sessions", headers=auth("tok-a"))
            return bool(r.json()["data"]) and r.headers["X-Total-Count"] == "5"

    await wait_for(five)
    seen: list[str] = []
    async with client(deps) as http:
        url: str | None = "/2.3.0/cpo/sessions?limit=2&date_from=2000-01-01T00:00:00Z"
        while url:
            r = await http.get(url, headers=auth("tok-a"))
            assert r.headers["X-Limit"] == "2" and r.headers["X-Total-Count"] == "5"
            seen += [s["id"] for s in r.json()["data"]]
            link = r.headers.get("Link")
            url = link.split(";")[0].strip("<>") if link else None
            assert link is None or "date_from=" in link
    assert sorted(seen) == sorted(str(pk) for pk in pks) and len(seen) == 5
