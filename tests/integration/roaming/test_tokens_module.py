"""OCPI Tokens module, CPO receiver (2.2.1 and 2.3.0): PUT / PATCH / GET, R28-R30."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

import borne.roaming.models  # noqa: F401  (partners' tables for create_all)
from borne.core.db import create_engine, create_session_factory
from borne.core.uow import Database
from borne.ocpi.auth import authorization_header
from borne.ocpi.client import OcpiClient
from borne.ocpi.party import Party, PartyRole
from borne.ocpi.server import create_ocpi_app
from borne.roaming import tokens_api
from borne.roaming.config import RoamingConfig, RoamingContext
from borne.roaming.tokens_models import RoamingToken

VERSIONS = ["2.2.1", "2.3.0"]
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
OCPI = Path(__file__).resolve().parents[3] / ".." / "shared" / "ocpi"


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def now(self) -> datetime:
        return self.at


class Authenticator:
    """Token C of one eMSP (NL/TNM, DE/TNM) and a token A of a pending partner."""

    async def authenticate(self, tokens: Sequence[str]) -> Party | None:
        for token in tokens:
            if token == "TOKEN-C":
                roles = (PartyRole("NL", "TNM", "EMSP"), PartyRole("DE", "TNM", "EMSP"))
                return Party(1, "TNM", roles, True, "2.2.1", True)
            if token == "TOKEN-A":
                return Party(2, "new", (), False, None, True)
        return None


@pytest.fixture
async def env(db_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, Database, Clock]]:
    engine = create_engine(db_url)
    from borne.core.bus import InProcessBus
    from borne.core.supervisor import Supervisor

    supervisor = Supervisor()
    db = Database(engine, create_session_factory(engine), InProcessBus(supervisor))
    clock = Clock()
    app = create_ocpi_app(routers=tokens_api.build_routers(), authenticator=Authenticator())
    client = OcpiClient()
    app.state.roaming = RoamingContext(
        db=db,
        clock=clock,
        config=RoamingConfig("http://test/ocpi", "NL", "BRN", "Borne"),
        client=client,
    )
    headers = {"Authorization": authorization_header("TOKEN-C", base64=True)}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=headers
    ) as http:
        yield http, db, clock
    await client.aclose()
    await supervisor.shutdown()
    await engine.dispose()


def token(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "country_code": "NL",
        "party_id": "TNM",
        "uid": "012345678",
        "type": "RFID",
        "contract_id": "NL8ACC12E46L89",
        "visual_number": "DF000-2001-8999-1",
        "issuer": "TheNewMotion",
        "group_id": "DF000-2001-8999",
        "valid": True,
        "whitelist": "ALWAYS",
        "last_updated": "2030-01-01T10:00:00Z",
    }
    body.update(changes)
    return body


def url(version: str, uid: str = "012345678", cc: str = "NL", pid: str = "TNM") -> str:
    return f"/{version}/cpo/tokens/{cc}/{pid}/{uid}"


async def rows(db: Database) -> list[RoamingToken]:
    async with db.unit_of_work() as uow:
        found = list(await uow.session.scalars(select(RoamingToken).order_by(RoamingToken.id)))
        uow.session.expunge_all()
        return found


@pytest.mark.parametrize("version", VERSIONS)
async def test_put_then_get_returns_the_token(env: Any, version: str) -> None:
    http, db, _ = env
    body = token(energy_contract={"supplier_name": "Green eG", "contract_id": "0123"})
    r = await http.put(url(version), json=body)
    assert r.status_code == 200 and r.json()["status_code"] == 1000
    assert r.headers["X-Request-ID"] and r.headers["X-Correlation-ID"]
    got = (await http.get(url(version))).json()
    assert got["status_code"] == 1000 and got["data"] == body
    # The uid is a CiString: any letter case addresses the same token.
    assert (await http.get(url(version, cc="nl", pid="tnm"))).json()["data"] == body
    (row,) = await rows(db)
    assert (row.partner_id, row.country_code, row.uid, row.type) == (1, "NL", "012345678", "RFID")
    assert (
        row.whitelist == "ALWAYS"
        and row.valid
        and row.energy_contract
        == {
            "supplier_name": "Green eG",
            "contract_id": "0123",
        }
    )


@pytest.mark.parametrize("version", VERSIONS)
async def test_spec_examples_are_accepted(env: Any, version: str) -> None:
    folder = OCPI / f"examples-{version}"
    if not folder.is_dir():
        pytest.skip(f"OCPI examples not found at {folder}")
    http, _, _ = env
    for name in ("token_put_example.json", "token_example_2_full_rfid.json"):
        body = json.loads((folder / name).read_text())
        path = url(version, body["uid"], body["country_code"], body["party_id"])
        r = await http.put(path, params={"type": body["type"]}, json=body)
        assert r.json()["status_code"] == 1000, (name, r.json())
    patch = json.loads((folder / "token_patch_example.json").read_text())
    assert (await http.patch(url(version), json=patch)).json()["status_code"] == 1000
    assert (await http.get(url(version))).json()["data"]["valid"] is False


@pytest.mark.parametrize("version", VERSIONS)
async def test_r28_token_a_and_missing_token_are_refused(env: Any, version: str) -> None:
    http, db, _ = env
    r = await http.put(url(version), json=token(), headers={"Authorization": ""})
    assert r.status_code == 401
    token_a = {"Authorization": authorization_header("TOKEN-A", base64=True)}
    r = await http.put(url(version), json=token(), headers=token_a)
    assert r.status_code == 401 and r.json()["status_code"] == 2000
    assert await rows(db) == []


@pytest.mark.parametrize("version", VERSIONS)
async def test_r29_own_party_only_and_ids_must_match(env: Any, version: str) -> None:
    http, db, _ = env
    # Another party's path: not one of the caller's roles (404, as the spec advises).
    r = await http.put(
        url(version, cc="FR", pid="XYZ"), json=token(country_code="FR", party_id="XYZ")
    )
    assert r.status_code == 404 and r.json()["status_code"] == 2000
    # Body and URL disagree on the object's identity: 2001.
    for changes, params in [
        ({"uid": "OTHER"}, {}),
        ({"party_id": "XYZ"}, {}),
        ({"country_code": "DE"}, {}),
        ({}, {"type": "APP_USER"}),
    ]:
        r = await http.put(url(version), params=params, json=token(**changes))
        assert r.status_code == 200 and r.json()["status_code"] == 2001, (changes, params)
    assert await rows(db) == []
    # Its second role is its own too.
    r = await http.put(url(version, cc="DE"), json=token(country_code="DE"))
    assert r.json()["status_code"] == 1000
    assert (await http.get(url(version, cc="FR", pid="XYZ"))).status_code == 404


@pytest.mark.parametrize("version", VERSIONS)
async def test_r30_repeated_put_is_a_no_op_and_stale_writes_lose(env: Any, version: str) -> None:
    http, db, clock = env
    await http.put(url(version), json=token())
    (first,) = await rows(db)
    clock.at = T0 + timedelta(minutes=5)
    assert (await http.put(url(version), json=token())).json()["status_code"] == 1000
    (again,) = await rows(db)
    assert again.updated_at == first.updated_at == T0  # nothing written
    # A newer PATCH applies...
    newer = {"valid": False, "last_updated": "2030-01-01T11:00:00Z"}
    assert (await http.patch(url(version), json=newer)).json()["status_code"] == 1000
    assert (await http.get(url(version))).json()["data"]["valid"] is False
    # ...an older PATCH or PUT does not overwrite it (answered as success, ignored).
    stale = {"valid": True, "whitelist": "NEVER", "last_updated": "2030-01-01T10:30:00Z"}
    assert (await http.patch(url(version), json=stale)).json()["status_code"] == 1000
    r = await http.put(url(version), json=token(last_updated="2030-01-01T10:59:59Z"))
    assert r.json()["status_code"] == 1000
    data = (await http.get(url(version))).json()["data"]
    assert data["valid"] is False and data["whitelist"] == "ALWAYS"
    assert data["last_updated"] == "2030-01-01T11:00:00Z"


@pytest.mark.parametrize("version", VERSIONS)
async def test_patch_rules(env: Any, version: str) -> None:
    http, _, _ = env
    r = await http.patch(
        url(version), json={"valid": False, "last_updated": "2030-01-01T11:00:00Z"}
    )
    assert r.status_code == 404 and r.json()["status_code"] == 2004  # unknown token
    await http.put(url(version), json=token())
    r = await http.patch(url(version), json={"valid": False})
    assert r.json()["status_code"] == 2001  # last_updated is required
    r = await http.patch(url(version), json={"uid": "X", "last_updated": "2030-01-02T00:00:00Z"})
    assert r.json()["status_code"] == 2001  # identity cannot change
    r = await http.patch(
        url(version), json={"whitelist": "SOMETIMES", "last_updated": "2030-01-02T00:00:00Z"}
    )
    assert r.json()["status_code"] == 2001  # the merged object is validated
    assert (await http.get(url(version))).json()["data"]["whitelist"] == "ALWAYS"


@pytest.mark.parametrize("version", VERSIONS)
async def test_invalid_bodies(env: Any, version: str) -> None:
    http, db, _ = env
    r = await http.put(
        url(version), content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["status_code"] == 2000
    for bad in [
        token(valid="yes"),
        token(whitelist="MAYBE"),
        token(last_updated="yesterday"),
        {k: v for k, v in token().items() if k != "contract_id"},
        token(issuer="x" * 65),
        [token()],
    ]:
        r = await http.put(url(version), json=bad)
        assert r.status_code == 200 and r.json()["status_code"] == 2001, bad
    assert (await http.get(url(version))).json()["status_code"] == 2004
    assert await rows(db) == []


async def test_token_types_per_version(env: Any) -> None:
    http, db, _ = env
    emaid = token(uid="NL-TNM-C12345678-X", type="EMAID", future_field={"x": 1})
    path = url("2.2.1", "NL-TNM-C12345678-X")
    r = await http.put(path, params={"type": "EMAID"}, json=emaid)
    assert r.json()["status_code"] == 2001  # EMAID is not a 2.2.1 TokenType
    path = url("2.3.0", "NL-TNM-C12345678-X")
    r = await http.put(path, params={"type": "EMAID"}, json=emaid)
    assert r.json()["status_code"] == 1000  # 2.3.0: open enum, unknown fields kept
    got = (await http.get(path, params={"type": "EMAID"})).json()["data"]
    assert got["future_field"] == {"x": 1}
    # type is part of the identity: the same uid as RFID is another token.
    assert (await http.get(path)).json()["status_code"] == 2004
    assert [r.type for r in await rows(db)] == ["EMAID"]
