"""R28-R32 through Borne's real OCPI sub-application (every router, the partners table as
authenticator), the way ``borne.roaming.runtime.build_roaming`` assembles it, over HTTP
(httpx ASGI transport, mounted at ``/ocpi`` like the operator server does).

Module-level tests elsewhere use stand-in authenticators; these check that the assembled app
keeps the rules on every route: R28 (tokens), R29 (own objects, with roles from the database),
R31 (sessions and CDR crawls while sessions are added, oldest first, tiling windows) and R32
(ids, invalid JSON, invalid content, no HTTP 500 even when the database fails). R33's
rotation is in ``test_credentials_handshake.py``; outage and restart in
``tests/e2e/test_ocpi_outage_restart_e2e.py``.
"""

from __future__ import annotations

import asyncio
import base64
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text, update

sys.path.insert(0, str(Path(__file__).parents[1] / "transactions"))
from tx_helpers import T0, Csms

import borne.roaming.models  # noqa: F401  (tables for create_all)
from borne.authorization.external import ExternalAuthorizerSlot
from borne.cdrs.live_cost import LiveCosts
from borne.cdrs.models import Cdr
from borne.cdrs.subscribers import CdrSubscribers
from borne.core.deps import Deps
from borne.ocpp.outbound import OcppOutbound
from borne.roaming import partners as svc
from borne.roaming.models import Partner
from borne.roaming.runtime import RoamingRuntime, build_roaming
from borne.roaming.sessions_models import RoamingSession
from borne.settings import Settings
from borne.stations.models import Station

BASE = "http://borne.test"
#: Routes token A may use (R28): versions, version details, credentials.
TOKEN_A_ROUTES = ("/versions", "/{version}/details", "/{version}/credentials")
SAMPLE_PARAMS = {
    "version": "2.2.1",
    "command": "STOP_SESSION",
    "country_code": "NL",
    "party_id": "EMS",
    "token_uid": "UID-1",
    "location_id": "LOC-1",
    "evse_uid": "EVSE-1",
    "connector_id": "1",
    "session_id": "1",
    "tariff_id": "T-1",
}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


@dataclass
class Env:
    deps: Deps
    runtime: RoamingRuntime
    http: httpx.AsyncClient

    async def pending_partner(self, name: str) -> str:
        async with self.deps.db.unit_of_work() as uow:
            _, token_a = await svc.create_partner(uow, name=name, now=self.deps.clock.now())
            await uow.commit()
        return token_a

    async def registered_partner(self, name: str, *roles: tuple[str, str]) -> tuple[int, str]:
        """A partner registered at 2.2.1 with EMSP ``roles`` (country, party); its token C."""
        token_c = svc.new_token()
        now = self.deps.clock.now()
        async with self.deps.db.unit_of_work() as uow:
            view, _ = await svc.create_partner(uow, name=name, now=now)
            partner = await svc.load(uow.session, view.id)
            partner.status = svc.REGISTERED
            partner.our_token_hash = svc.token_hash(token_c)
            partner.their_token = "their-" + token_c
            partner.their_versions_url = "http://partner.invalid/versions"
            partner.version = "2.2.1"
            specs = [svc.RoleSpec(cc, pid, "EMSP") for cc, pid in roles]
            await svc.replace_roles(uow.session, partner_id=view.id, roles=specs)
            await uow.commit()
        await self.runtime.journal.refresh()  # pushers run once a partner is registered
        return view.id, token_c

    async def token_c_for(self, method: str, template: str, token_c: str) -> str:
        """``token_c``, or a fresh partner's for a credentials DELETE (it unregisters)."""
        if method != "DELETE" or not template.endswith("/credentials"):
            return token_c
        party = "D" + template.split("/")[1].replace(".", "")[:2]  # D22, D23
        return (await self.registered_partner(f"emsp-{party}", ("NL", party)))[1]


@pytest.fixture
async def env(deps: Deps) -> AsyncIterator[Env]:
    settings = Settings(
        ocpi_base_url=f"{BASE}/ocpi", ocpi_max_page_limit=50, ocpi_session_update_interval_s=0
    )
    runtime = build_roaming(
        settings, deps, deps.bus, OcppOutbound(deps.registry), ExternalAuthorizerSlot()
    )
    outer = FastAPI()
    outer.mount("/ocpi", runtime.ocpi_app)
    transport = httpx.ASGITransport(app=outer)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield Env(deps, runtime, http)
    await runtime.close()


def routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of every OCPI route, from the app's own OpenAPI document."""
    out = [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    ]
    assert len(out) > 20, out  # all modules are there
    return out


def concrete(template: str) -> str:
    return "/ocpi" + template.format(**SAMPLE_PARAMS)


def token_a_route(template: str) -> bool:
    generic = template.replace("2.2.1", "{version}").replace("2.3.0", "{version}")
    return generic in TOKEN_A_ROUTES


# --- R28 ------------------------------------------------------------------------------------


async def test_r28_every_route_refuses_missing_unknown_and_token_a(env: Env) -> None:
    token_a = await env.pending_partner("newcomer")
    _, token_c = await env.registered_partner("emsp", ("NL", "EMS"))
    for method, template in routes(env.runtime.ocpi_app):
        path = concrete(template)
        body: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
        for headers in ({}, {"Authorization": "Token"}, auth("not-a-token"), {"X": "y"}):
            r = await env.http.request(method, path, headers=headers, json=body)
            assert (r.status_code, r.json()["status_code"]) == (401, 2000), (method, path)
        r = await env.http.request(method, path, headers=auth(token_a), json=body)
        if token_a_route(template):
            assert r.status_code != 401, (method, path, r.text)
        else:
            assert (r.status_code, r.json()["status_code"]) == (401, 2000), (method, path)
        token = await env.token_c_for(method, template, token_c)
        r = await env.http.request(method, path, headers=auth(token), json=body)
        assert r.status_code != 401, (method, path, r.text)


async def test_r28_suspended_or_unregistered_partner_is_401(env: Env) -> None:
    partner_id, token_c = await env.registered_partner("emsp", ("NL", "EMS"))
    path = "/ocpi/2.2.1/cpo/locations"
    assert (await env.http.get(path, headers=auth(token_c))).status_code == 200
    async with env.deps.db.unit_of_work() as uow:
        await svc.set_suspended(
            uow, partner_id=partner_id, suspended=True, now=env.deps.clock.now()
        )
        await uow.commit()
    assert (await env.http.get(path, headers=auth(token_c))).status_code == 401
    assert (await env.http.get("/ocpi/versions", headers=auth(token_c))).status_code == 401
    # A raw (not base64) token C is refused unless the partner accepts raw tokens.
    async with env.deps.db.unit_of_work() as uow:
        await svc.set_suspended(
            uow, partner_id=partner_id, suspended=False, now=env.deps.clock.now()
        )
        await uow.commit()
    raw = {"Authorization": f"Token {token_c}"}
    assert (await env.http.get(path, headers=raw)).status_code == 401


# --- R29 ------------------------------------------------------------------------------------


def token_body(cc: str = "NL", pid: str = "EMS", uid: str = "UID-1") -> dict[str, Any]:
    return {
        "country_code": cc,
        "party_id": pid,
        "uid": uid,
        "type": "RFID",
        "contract_id": f"{cc}{pid}C00000001",
        "issuer": "Peer",
        "valid": True,
        "whitelist": "ALWAYS",
        "last_updated": "2030-01-01T10:00:00Z",
    }


@pytest.mark.parametrize("version", ["2.2.1", "2.3.0"])
async def test_r29_a_party_writes_only_its_own_objects(env: Env, version: str) -> None:
    _, mine = await env.registered_partner("emsp", ("NL", "EMS"), ("BE", "EMS"))
    _, other = await env.registered_partner("other", ("FR", "XYZ"))
    base = f"/ocpi/{version}/cpo/tokens"
    # Another partner's party in the path (its role exists, it is just not the caller's).
    r = await env.http.put(f"{base}/FR/XYZ/UID-1", json=token_body("FR", "XYZ"), headers=auth(mine))
    assert r.status_code == 404 and r.json()["status_code"] == 2000
    # A party nobody registered.
    r = await env.http.put(f"{base}/DE/ZZZ/UID-1", json=token_body("DE", "ZZZ"), headers=auth(mine))
    assert r.status_code == 404
    # Path and body disagree on the object's identity: 2001, nothing stored.
    for cc, pid, uid in [("NL", "EMS", "UID-2"), ("FR", "XYZ", "UID-1"), ("BE", "EMS", "UID-1")]:
        r = await env.http.put(
            f"{base}/NL/EMS/UID-1", json=token_body(cc, pid, uid), headers=auth(mine)
        )
        assert (r.status_code, r.json()["status_code"]) == (200, 2001), (cc, pid, uid)
    r = await env.http.get(f"{base}/NL/EMS/UID-1", headers=auth(mine))
    assert r.json()["status_code"] == 2004
    # Each of the caller's roles (from the database) is its own, in any letter case.
    for cc in ("NL", "BE"):
        r = await env.http.put(f"{base}/{cc}/EMS/UID-1", json=token_body(cc), headers=auth(mine))
        assert r.json()["status_code"] == 1000, r.text
    r = await env.http.put(f"{base}/nl/ems/UID-1", json=token_body(), headers=auth(mine))
    assert r.json()["status_code"] == 1000, r.text
    # The other partner can neither read nor overwrite them.
    assert (await env.http.get(f"{base}/NL/EMS/UID-1", headers=auth(other))).status_code == 404
    stale = {"valid": False, "last_updated": "2031-01-01T00:00:00Z"}
    r = await env.http.patch(f"{base}/NL/EMS/UID-1", json=stale, headers=auth(other))
    assert r.status_code == 404
    assert (await env.http.get(f"{base}/NL/EMS/UID-1", headers=auth(mine))).json()["data"]["valid"]


async def test_r29_commands_only_for_the_callers_tokens(env: Env) -> None:
    _, mine = await env.registered_partner("emsp", ("NL", "EMS"))
    body = {
        "response_url": "http://partner.invalid/commands/1",
        "token": token_body("FR", "XYZ"),
        "location_id": "LOC-1",
    }
    r = await env.http.post("/ocpi/2.2.1/cpo/commands/START_SESSION", json=body, headers=auth(mine))
    assert r.json()["status_code"] == 1000
    assert r.json()["data"]["result"] == "REJECTED"


# --- R31 ------------------------------------------------------------------------------------


async def charge(csms: Csms, tag: str, start: datetime) -> None:
    await csms.token(tag)
    tx_id = (await csms.start16("CP1", tag=tag, meter=1000, ts=start))["transactionId"]
    await csms.stop16("CP1", tx_id, meter=11000, ts=start + timedelta(hours=1))


async def crawl(
    http: httpx.AsyncClient, url: str, token: str, during: Any = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """Every object of a list following Link; ``during`` runs after the first page."""
    seen: list[dict[str, Any]] = []
    links: list[str] = []
    next_url: str | None = url
    while next_url:
        r = await http.get(next_url, headers=auth(token))
        assert r.status_code == 200 and r.json()["status_code"] == 1000, r.text
        assert r.headers["X-Limit"] == "2"
        seen += r.json()["data"]
        if during is not None and len(links) == 0:
            await during()
        link = r.headers.get("Link")
        next_url = link[1 : link.index(">")] if link else None
        if next_url:
            links.append(next_url)
    return seen, links


async def wait_count(env: Env, path: str, token: str, count: int) -> None:
    for _ in range(500):
        r = await env.http.get(path, headers=auth(token))
        if r.headers.get("X-Total-Count") == str(count):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{path}: never {count} objects")


@pytest.mark.parametrize("module", ["sessions", "cdrs"])
async def test_r31_crawl_while_sessions_are_added_windows_tile(env: Env, module: str) -> None:
    _, token_c = await env.registered_partner("emsp", ("NL", "EMS"))
    now = datetime.now(UTC)
    async with env.deps.db.unit_of_work() as uow:
        uow.session.add(Station(station_id="CP1", created_at=now, updated_at=now))
        await uow.commit()
    CdrSubscribers(
        env.deps.db, env.deps.clock, env.deps.supervisor, LiveCosts(),
        sweep_interval_s=0, min_interval_s=0,
    ).subscribe(env.deps.bus)  # fmt: skip
    csms = Csms(env.deps)
    list_path = f"/ocpi/2.3.0/cpo/{module}"
    for i in range(5):
        # The eMSP's token, pushed through the tokens module: its sessions are the partner's.
        path = f"/ocpi/2.3.0/cpo/tokens/NL/EMS/TAG-{i}"
        put = await env.http.put(path, json=token_body(uid=f"TAG-{i}"), headers=auth(token_c))
        assert put.json()["status_code"] == 1000
        await charge(csms, f"TAG-{i}", T0 + timedelta(hours=2 * i))
        await wait_count(env, list_path, token_c, i + 1)

    async def add_two() -> None:
        for i in (5, 6):
            path = f"/ocpi/2.3.0/cpo/tokens/NL/EMS/TAG-{i}"
            await env.http.put(path, json=token_body(uid=f"TAG-{i}"), headers=auth(token_c))
            await charge(csms, f"TAG-{i}", T0 + timedelta(hours=2 * i))
            await wait_count(env, list_path, token_c, i + 1)

    start = "date_from=2000-01-01T00:00:00Z"
    seen, links = await crawl(env.http, f"{list_path}?{start}&limit=2&x=keep", token_c, add_two)
    # Every object once, oldest first, the added ones at the end.
    ids = [o["id"] for o in seen]
    assert len(ids) == len(set(ids)) == 7, ids
    stamps = [o["last_updated"] for o in seen]
    assert stamps == sorted(stamps)
    tags = [(o.get("cdr_token") or {}).get("uid") for o in seen]
    assert tags == [f"TAG-{i}" for i in range(7)]
    # Link carries every filter.
    assert links and all(
        "date_from=2000-01-01T00%3A00%3A00Z" in u and "x=keep" in u and "limit=2" in u
        for u in links
    ), links
    r = await env.http.get(
        f"{list_path}?limit=2&date_to=2100-01-01T00:00:00Z", headers=auth(token_c)
    )
    assert r.headers["X-Total-Count"] == "7" and "date_to=" in r.headers["Link"]
    # Windows tile. Boundaries on stamps shared by two objects (whole seconds, as a partner
    # writes them): [.., cut) + [cut, ..) gives every object once.
    column = RoamingSession.last_updated if module == "sessions" else Cdr.issued_at
    key = RoamingSession.transaction_pk if module == "sessions" else Cdr.transaction_pk
    async with env.deps.db.unit_of_work() as uow:
        pks = list(await uow.session.scalars(select(key).order_by(column)))
        for i, pk in enumerate(pks):
            stamp = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(minutes=i // 2)
            await uow.session.execute(
                update(column.class_).where(key == pk).values({column: stamp})
            )
        await uow.commit()
    full, _ = await crawl(env.http, f"{list_path}?limit=2", token_c)
    assert [o["id"] for o in full] == ids
    for minute in (0, 1, 2, 3):
        cut = f"2030-01-01T00:{minute:02d}:00Z"
        before, _ = await crawl(env.http, f"{list_path}?limit=2&date_to={cut}", token_c)
        after, _ = await crawl(env.http, f"{list_path}?limit=2&date_from={cut}", token_c)
        assert [o["id"] for o in before] == ids[: 2 * minute], cut
        assert [o["id"] for o in before + after] == ids, cut


# --- R32 ------------------------------------------------------------------------------------


async def test_r32_every_route_echoes_ids_and_refuses_bad_bodies_cleanly(env: Env) -> None:
    token_a = await env.pending_partner("newcomer")
    _, token_c = await env.registered_partner("emsp", ("NL", "EMS"))
    for method, template in routes(env.runtime.ocpi_app):
        path = concrete(template)
        token = await env.token_c_for(method, template, token_c)
        token = token_a if template.endswith("/credentials") and method == "POST" else token
        ids = {"X-Request-ID": f"req-{method}-{path}", "X-Correlation-ID": "corr-1"}
        headers = {**auth(token), **ids}
        r = await env.http.request(method, path, headers=headers)
        assert r.headers["X-Request-ID"] == ids["X-Request-ID"], (method, path)
        assert r.headers["X-Correlation-ID"] == "corr-1", (method, path)
        assert (r.status_code < 500 and r.json()["status_code"] < 3000) or method == "DELETE", (
            method,
            path,
            r.text,
        )
        # Ids are generated when the caller sends none.
        r = await env.http.request(method, path, headers=auth(token))
        assert r.headers["X-Request-ID"] and r.headers["X-Correlation-ID"]
        if method not in ("POST", "PUT", "PATCH"):
            continue
        headers = {**headers, "Content-Type": "application/json"}
        r = await env.http.request(method, path, headers=headers, content=b'{"token": ')
        assert (r.status_code, r.json()["status_code"]) == (400, 2000), (method, path, r.text)
        assert r.headers["X-Request-ID"] == ids["X-Request-ID"]
        for bad in (b"[1, 2]", b'"text"', b'{"last_updated": 5, "token": 7}'):
            r = await env.http.request(method, path, headers=headers, content=bad)
            assert r.status_code in (200, 404), (method, path, bad, r.text)
            assert 2000 <= r.json()["status_code"] < 3000, (method, path, bad, r.text)


async def test_r32_database_failure_is_3000_never_500(env: Env) -> None:
    _, token_c = await env.registered_partner("emsp", ("NL", "EMS"))
    async with env.deps.db.unit_of_work() as uow:
        await uow.session.execute(text("DROP TABLE roaming_tokens"))
        await uow.commit()
    headers = {**auth(token_c), "X-Request-ID": "r-db", "X-Correlation-ID": "c-db"}
    r = await env.http.put(
        "/ocpi/2.2.1/cpo/tokens/NL/EMS/UID-1", json=token_body(), headers=headers
    )
    assert (r.status_code, r.json()["status_code"]) == (200, 3000), r.text
    assert r.json()["status_message"] == "Internal error"
    assert "roaming_tokens" not in r.text and "Traceback" not in r.text
    assert (r.headers["X-Request-ID"], r.headers["X-Correlation-ID"]) == ("r-db", "c-db")
    # The partners table itself gone: authentication fails inside, still no 500.
    async with env.deps.db.unit_of_work() as uow:
        cascade = " CASCADE" if uow.session.get_bind().dialect.name == "postgresql" else ""
        await uow.session.execute(text(f"DROP TABLE {Partner.__tablename__}{cascade}"))
        await uow.commit()
    r = await env.http.get("/ocpi/versions", headers=headers)
    assert (r.status_code, r.json()["status_code"]) == (200, 3000), r.text
