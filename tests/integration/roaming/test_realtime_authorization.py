"""Real-time authorization against a fake eMSP served over real loopback HTTP (uvicorn).

The eMSP is a small FastAPI app written here (no code shared with Borne's OCPI package): per
token uid it answers ALLOWED / BLOCKED, 404 (unknown), or sleeps past Borne's deadline.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

import borne.roaming.models  # noqa: F401  (partners' tables for create_all)
from borne.authorization import ocpp_v16, service
from borne.authorization._answer import pre_authorize
from borne.core.deps import Deps
from borne.ocpi.client import OcpiClient
from borne.ocpi.party import Party, PartyRole
from borne.ocpp.context import CallContext, StationSessionState
from borne.ocpp.router import Router
from borne.ocpp.versions import OcppVersion
from borne.roaming import tokens
from borne.roaming.authorize import AuthorizerConfig, RealtimeAuthorizer
from borne.roaming.models import Partner, PartnerRole
from borne.roaming.tokens_models import RoamingAuthorization
from borne.transactions.models import Transaction

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
TIMEOUT_S = 0.5


@dataclass
class Emsp:
    country_code: str
    party_id: str
    # uid → "ALLOWED" | "BLOCKED" | ... | "unknown" | "slow"
    answers: dict[str, str] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[Any] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/tokens/{uid}/authorize")
        async def authorize(uid: str, request: Request) -> JSONResponse:
            raw = await request.body()
            self.requests.append(
                {
                    "uid": uid,
                    "type": request.query_params.get("type"),
                    "headers": dict(request.headers),
                    "body": raw.decode() or None,
                }
            )
            answer = self.answers.get(uid, "unknown")
            if answer == "slow":
                await asyncio.sleep(TIMEOUT_S * 3)
            if answer in ("unknown", "slow"):
                return JSONResponse(envelope(None, 2004), status_code=404)
            info = {
                "allowed": answer,
                "token": {
                    "country_code": self.country_code,
                    "party_id": self.party_id,
                    "uid": uid,
                    "type": request.query_params.get("type", "RFID"),
                    "contract_id": f"{self.country_code}-{self.party_id}-C{uid}",
                    "issuer": "Fake eMSP",
                    "valid": answer == "ALLOWED",
                    "whitelist": "NEVER",
                    "last_updated": "2030-01-01T00:00:00Z",
                },
                "authorization_reference": f"REF-{self.party_id}-{uid}",
            }
            return JSONResponse(envelope(info))

        return app

    async def start(self) -> None:
        config = uvicorn.Config(
            self.app(), host="127.0.0.1", port=self.port, log_config=None, lifespan="off"
        )
        server = uvicorn.Server(config)
        task = asyncio.get_running_loop().create_task(server.serve())
        while not server.started:
            if task.done():
                await task
            await asyncio.sleep(0.01)
        self.port = server.servers[0].sockets[0].getsockname()[1]
        self._server, self._task = server, task

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await asyncio.wait_for(self._task, 10)
            self._server = self._task = None


def envelope(data: Any, code: int = 1000) -> dict[str, Any]:
    return {"data": data, "status_code": code, "timestamp": "2030-06-01T12:00:00Z"}


@dataclass
class World:
    deps: Deps
    authorizer: RealtimeAuthorizer
    emsp_a: Emsp  # partner 1: NL/TNM
    emsp_b: Emsp  # partner 2: DE/ABC


async def add_partner(deps: Deps, emsp: Emsp, token: str) -> int:
    async with deps.db.unit_of_work() as uow:
        partner = Partner(
            name=emsp.party_id,
            status="registered",
            their_token=token,
            version="2.2.1",
            endpoints=[{"identifier": "tokens", "role": "SENDER", "url": f"{emsp.url}/tokens"}],
            token_base64=True,
            created_at=NOW,
            updated_at=NOW,
        )
        uow.session.add(partner)
        await uow.session.flush()
        uow.session.add(
            PartnerRole(
                country_code=emsp.country_code,
                party_id=emsp.party_id,
                role="EMSP",
                partner_id=partner.id,
            )
        )
        await uow.commit()
        return partner.id


async def locations(station_id: str, evse_id: int | None) -> dict[str, Any] | None:
    return {"location_id": "LOC-1"} if station_id == "CP-1" else None


@pytest.fixture
async def world(deps: Deps) -> AsyncIterator[World]:
    a, b = Emsp("NL", "TNM"), Emsp("DE", "ABC")
    await a.start()
    await b.start()
    client = OcpiClient(timeout_s=5)
    try:
        assert await add_partner(deps, a, "TOKEN-FOR-A") == 1
        assert await add_partner(deps, b, "TOKEN-FOR-B") == 2
        config = AuthorizerConfig("NL", "BRN", timeout_s=TIMEOUT_S)
        authorizer = RealtimeAuthorizer(deps.db, client, config, location_refs=locations)
        yield World(deps, authorizer, a, b)
    finally:
        await client.aclose()
        await a.stop()
        await b.stop()


async def push(deps: Deps, uid: str, whitelist: str, *, valid: bool = True) -> None:
    """A token pushed by partner 1 (NL/TNM) through the Tokens module service."""
    party = Party(1, "TNM", (PartyRole("NL", "TNM", "EMSP"),), True, "2.2.1", True)
    body = {
        "country_code": "NL",
        "party_id": "TNM",
        "uid": uid,
        "type": "RFID",
        "contract_id": f"NL-TNM-C{uid}",
        "issuer": "TNM",
        "group_id": "GRP-1",
        "valid": valid,
        "whitelist": whitelist,
        "last_updated": "2030-01-01T00:00:00Z",
    }
    async with deps.db.unit_of_work() as uow:
        path = tokens.TokenPath("NL", "TNM", uid, "RFID")
        await tokens.put_token(
            uow.session, version="2.2.1", party=party, path=path, body=body, now=NOW
        )
        await uow.commit()


async def decisions(deps: Deps) -> list[RoamingAuthorization]:
    async with deps.db.unit_of_work() as uow:
        found = list(
            await uow.session.scalars(
                select(RoamingAuthorization).order_by(RoamingAuthorization.id)
            )
        )
        uow.session.expunge_all()
        return found


async def ask(w: World, uid: str, station: str = "CP-1", token_type: str | None = None) -> Any:
    return await w.authorizer.authorize(
        uid, token_type=token_type, station_id=station, evse_id=None, now=NOW
    )


async def test_pushed_allowed_token_is_authorized_by_its_emsp(world: World) -> None:
    await push(world.deps, "CARD-1", "ALLOWED")
    world.emsp_a.answers["CARD-1"] = "ALLOWED"
    verdict = await ask(world, "card-1")
    assert verdict.status == "Accepted" and verdict.reference == "REF-TNM-CARD-1"
    assert verdict.group_id_token == "GRP-1"
    (request,) = world.emsp_a.requests
    assert request["type"] == "RFID"
    assert (
        request["headers"]["authorization"] == "Token " + base64.b64encode(b"TOKEN-FOR-A").decode()
    )
    assert request["headers"]["ocpi-to-party-id"] == "TNM"
    assert request["headers"]["ocpi-from-party-id"] == "BRN"
    assert request["body"] == '{"location_id":"LOC-1"}'
    assert world.emsp_b.requests == []  # only the owner is asked
    (row,) = await decisions(world.deps)
    assert (row.partner_id, row.country_code, row.party_id) == (1, "NL", "TNM")
    assert (row.station_id, row.location_id, row.result, row.source) == (
        "CP-1",
        "LOC-1",
        "ALLOWED",
        "realtime",
    )
    assert row.authorization_reference == "REF-TNM-CARD-1" and row.contract_id == "NL-TNM-CCARD-1"


async def test_blocked_and_unknown_answers_refuse(world: World) -> None:
    await push(world.deps, "CARD-B", "ALLOWED")
    await push(world.deps, "CARD-U", "NEVER")
    world.emsp_a.answers.update({"CARD-B": "BLOCKED", "CARD-U": "unknown"})
    assert (await ask(world, "CARD-B")).status == "Blocked"
    assert (await ask(world, "CARD-U")).status == "Invalid"
    results = [(r.token_uid, r.result, r.allowed) for r in await decisions(world.deps)]
    assert results == [("CARD-B", "BLOCKED", False), ("CARD-U", "UNKNOWN", False)]


async def test_always_whitelist_never_asks(world: World) -> None:
    await push(world.deps, "WL-OK", "ALWAYS")
    await push(world.deps, "WL-NO", "ALWAYS", valid=False)
    assert (await ask(world, "WL-OK")).status == "Accepted"
    assert (await ask(world, "WL-NO")).status == "Invalid"
    assert world.emsp_a.requests == []
    assert [r.source for r in await decisions(world.deps)] == ["whitelist", "whitelist"]


@pytest.mark.parametrize(
    ("whitelist", "valid", "expected"),
    [
        ("ALLOWED", True, "Accepted"),
        ("ALLOWED", False, "Invalid"),
        ("ALLOWED_OFFLINE", True, "Accepted"),
        ("ALLOWED_OFFLINE", False, "Invalid"),
        ("NEVER", True, "Invalid"),
    ],
)
async def test_no_answer_follows_the_whitelist(
    world: World, whitelist: str, valid: bool, expected: str
) -> None:
    await push(world.deps, "SLOW-1", whitelist, valid=valid)
    world.emsp_a.answers["SLOW-1"] = "slow"
    started = asyncio.get_running_loop().time()
    verdict = await ask(world, "SLOW-1")
    assert asyncio.get_running_loop().time() - started < TIMEOUT_S * 4
    assert verdict.status == expected and verdict.reference is None
    (row,) = await decisions(world.deps)
    assert row.source == "offline" and row.allowed is (expected == "Accepted")


async def test_emsp_down_with_never_refuses(world: World) -> None:
    await push(world.deps, "DOWN-1", "NEVER")
    await world.emsp_a.stop()
    assert (await ask(world, "DOWN-1")).status == "Invalid"


async def test_unknown_token_asks_every_emsp_first_allowed_wins(world: World) -> None:
    world.emsp_b.answers["RFID-X"] = "ALLOWED"  # partner 1 does not know it (404)
    verdict = await ask(world, "RFID-X")
    assert verdict.status == "Accepted" and verdict.reference == "REF-ABC-RFID-X"
    assert len(world.emsp_a.requests) == 1 and len(world.emsp_b.requests) == 1
    (row,) = await decisions(world.deps)
    assert (row.partner_id, row.country_code, row.party_id) == (2, "DE", "ABC")
    assert row.contract_id == "DE-ABC-CRFID-X" and row.token_type == "RFID"
    # Nobody knows it: Invalid, recorded as UNKNOWN.
    assert (await ask(world, "NOBODY")).status == "Invalid"
    assert (await decisions(world.deps))[-1].result == "UNKNOWN"
    # A refusal without any ALLOWED is the answer.
    world.emsp_a.answers["RFID-Y"] = "EXPIRED"
    assert (await ask(world, "RFID-Y")).status == "Expired"


async def test_emaid_goes_to_its_owner_only(world: World) -> None:
    world.emsp_b.answers["DE-ABC-C12345678-9"] = "ALLOWED"
    verdict = await ask(world, "DE-ABC-C12345678-9", token_type="eMAID")
    assert verdict.status == "Accepted"
    assert world.emsp_a.requests == []
    assert world.emsp_b.requests[0]["type"] == "OTHER"  # partner speaks 2.2.1: no EMAID type


async def test_no_authorization_tokens_are_never_sent(world: World) -> None:
    assert await ask(world, "ANY", token_type="NoAuthorization") is None
    assert world.emsp_a.requests == [] and world.emsp_b.requests == []


async def test_through_authorize_then_start_transaction(world: World) -> None:
    """The OCPP path: Authorize asks the eMSP; the transaction recalls it; the CDR finds it."""
    deps = world.deps
    world.emsp_b.answers["ROAM-7"] = "ALLOWED"
    router = Router(OcppVersion.V16)
    ocpp_v16.register(router, deps, None, world.authorizer)
    handler = router.handler_for("Authorize")
    assert handler is not None
    ctx = CallContext("CP-1", OcppVersion.V16, "m1", NOW, _Connection(), StationSessionState())
    reply = await handler(ctx, router.requests["Authorize"].model_validate({"idTag": "ROAM-7"}))
    assert reply.to_payload()["idTagInfo"]["status"] == "Accepted"
    later = NOW + timedelta(seconds=20)
    async with deps.db.unit_of_work() as uow:
        verdict = await service.check_token(
            uow.session, "roam-7", now=later, external=world.authorizer, station_id="CP-1"
        )
        assert verdict.status == "Accepted" and verdict.reference == "REF-ABC-ROAM-7"
        tx = Transaction(
            station_id="CP-1", transaction_id="42", id_token="ROAM-7", started_at=later
        )
        owner = await world.authorizer.owner_of(uow.session, tx)
        assert owner is not None
        assert (owner.partner_id, owner.country_code, owner.party_id) == (2, "DE", "ABC")
        assert owner.authorization_reference == "REF-ABC-ROAM-7"
        assert owner.auth_method == "AUTH_REQUEST" and owner.contract_id == "DE-ABC-CROAM-7"
        await uow.commit()
    # Pinned to transaction 42: another transaction does not take the same authorization.
    async with deps.db.unit_of_work() as uow:
        other = Transaction(
            station_id="CP-1", transaction_id="43", id_token="ROAM-7", started_at=later
        )
        assert await world.authorizer.owner_of(uow.session, other) is None
    # Long after, with no standing decision, the token is unknown again.
    async with deps.db.unit_of_work() as uow:
        stale = await service.check_token(
            uow.session, "ROAM-7", now=NOW + timedelta(hours=1), external=world.authorizer
        )
    assert stale.status == "Invalid"


class _Connection:
    station_id = "CP-1"
    ocpp_version = "ocpp1.6"

    async def call(self, action: str, payload: Any, *, timeout: float | None = None) -> Any:
        raise AssertionError("no CSMS call expected")

    async def close(self, code: int = 1000, reason: str = "") -> None:
        return None


async def test_a_start_without_authorize_asks_the_emsp_unless_always(world: World) -> None:
    """A station may start without Authorize (cached or offline start): before the transaction
    is recorded, ALLOWED and ALLOWED_OFFLINE tokens are still asked about (the whitelist only
    counts when the eMSP cannot be reached); an ALWAYS token never is."""
    deps = world.deps
    await push(deps, "CARD-O", "ALLOWED_OFFLINE")
    await push(deps, "CARD-W", "ALWAYS")
    world.emsp_a.answers["CARD-O"] = "BLOCKED"
    for uid in ("CARD-O", "CARD-W"):
        await pre_authorize(
            deps.db,
            world.authorizer,
            uid,
            token_type=None,
            station_id="CP-1",
            evse_id=1,
            now=NOW,
        )
    assert [r["uid"] for r in world.emsp_a.requests] == ["CARD-O"]
    async with deps.db.unit_of_work() as uow:
        blocked = await service.check_token(
            uow.session, "CARD-O", now=NOW, external=world.authorizer, station_id="CP-1"
        )
        always = await service.check_token(
            uow.session, "CARD-W", now=NOW, external=world.authorizer, station_id="CP-1"
        )
    assert (blocked.status, always.status) == ("Blocked", "Accepted")
