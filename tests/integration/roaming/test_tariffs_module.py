"""OCPI Tariffs module on a real database: the GET list (pagination, per-partner visibility,
token A refused, both versions) and the pushes written to the outbox on tariff changes."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

import borne.ocpi.outbox_models
import borne.roaming.models  # noqa: F401  (tables on Base.metadata)
from borne.core.deps import Deps
from borne.ocpi.client import OcpiClient
from borne.ocpi.outbox_models import OcpiOutboxRow
from borne.ocpi.party import Party, PartyRole
from borne.ocpi.server import create_ocpi_app
from borne.roaming import tariffs_api
from borne.roaming.config import RoamingConfig, RoamingContext
from borne.roaming.models import Partner, PartnerRole
from borne.roaming.partners import registered_links
from borne.roaming.tariffs import CpoIdentity
from borne.roaming.tariffs_push import TariffPusher, enqueue_all
from borne.tariffs import service
from borne.tariffs.events import TariffChanged

D = Decimal
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
ME = CpoIdentity("NL", "BRN")
OPENAPI = Path(__file__).resolve().parents[3] / ".." / "shared" / "ocpi" / "openapi"

EMSP_A = Party(1, "A", (PartyRole("DE", "ABC", "EMSP"),), True, "2.3.0", True)
EMSP_B = Party(2, "B", (PartyRole("FR", "XYZ", "EMSP"),), True, "2.2.1", True)
TOKEN_A_CALLER = Party(3, "new", (), False, None, True)
TOKENS = {"token-a": EMSP_A, "token-b": EMSP_B, "token-reg": TOKEN_A_CALLER}


class FakeAuthenticator:
    async def authenticate(self, tokens: Sequence[str]) -> Party | None:
        return next((TOKENS[t] for t in tokens if t in TOKENS), None)


def energy(tariff_id: str, price: str = "0.25", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "country_code": "NL",
        "party_id": "BRN",
        "id": tariff_id,
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": D(price), "step_size": 1}]}],
    }
    body.update(fields)
    return body


async def store(deps: Deps, data: dict[str, Any], at: datetime, **scope: Any) -> int:
    async with deps.db.unit_of_work() as uow:
        view = await service.create_tariff(uow, data=data, now=at, **scope)
        await uow.commit()
    return view.record_id


@pytest.fixture
async def ocpi(deps: Deps) -> AsyncIterator[httpx.AsyncClient]:
    app = create_ocpi_app(
        routers=tariffs_api.build_routers(), authenticator=FakeAuthenticator(), max_page_limit=3
    )
    client = OcpiClient()
    config = RoamingConfig("http://testserver/ocpi", "NL", "BRN", "Borne")
    app.state.roaming = RoamingContext(deps.db, deps.clock, config, client)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
    await client.aclose()


async def get(http: httpx.AsyncClient, url: str, token: str = "token-a") -> httpx.Response:
    return await http.get(url, headers={"Authorization": f"Token {token}"})


async def ids_of(http: httpx.AsyncClient, url: str, token: str = "token-a") -> list[str]:
    """Every tariff id of a list, following the Link headers."""
    out: list[str] = []
    next_url: str | None = url
    while next_url:
        r = await get(http, next_url, token)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status_code"] == 1000, body
        out += [t["id"] for t in body["data"]]
        link = r.headers.get("link")
        next_url = link.split(";")[0].strip("<>") if link else None
    return out


async def test_pagination_order_and_window(deps: Deps, ocpi: httpx.AsyncClient) -> None:
    # created in id order T1..T5, but last_updated out of that order
    for i, minutes in enumerate((30, 10, 40, 20, 50), start=1):
        await store(deps, energy(f"T{i}"), T0 + timedelta(minutes=minutes))

    r = await get(ocpi, "/2.3.0/cpo/tariffs?limit=2")
    body = r.json()
    assert [t["id"] for t in body["data"]] == ["T2", "T4"]
    assert r.headers["x-total-count"] == "5" and r.headers["x-limit"] == "2"
    assert "offset=2" in r.headers["link"] and 'rel="next"' in r.headers["link"]
    assert await ids_of(ocpi, "/2.3.0/cpo/tariffs") == ["T2", "T4", "T1", "T3", "T5"]
    # the server caps limit at 3
    r = await get(ocpi, "/2.3.0/cpo/tariffs?limit=50")
    assert r.headers["x-limit"] == "3" and len(r.json()["data"]) == 3

    window = "date_from=2025-03-01T08:20:00Z&date_to=2025-03-01T08:40:00Z"
    assert await ids_of(ocpi, f"/2.3.0/cpo/tariffs?{window}") == ["T4", "T1"]
    r = await get(ocpi, "/2.3.0/cpo/tariffs?date_from=yesterday")
    assert r.json()["status_code"] == 2001


async def test_each_partner_sees_its_tariffs(deps: Deps, ocpi: httpx.AsyncClient) -> None:
    await store(deps, energy("GENERAL"), T0)
    await store(deps, energy("FOR-A", "0.20"), T0, partner="DE*ABC")
    await store(deps, energy("FOR-OTHER", "0.21"), T0, partner="BE*QQQ")
    await store(deps, energy("FLEET", "0.10"), T0, token_group="FLEET")

    assert await ids_of(ocpi, "/2.3.0/cpo/tariffs", "token-a") == ["GENERAL", "FOR-A"]
    assert await ids_of(ocpi, "/2.2.1/cpo/tariffs", "token-b") == ["GENERAL"]


async def test_token_a_and_unknown_tokens_are_refused(deps: Deps, ocpi: httpx.AsyncClient) -> None:
    await store(deps, energy("GENERAL"), T0)
    for token in ("token-reg", "nope"):
        r = await get(ocpi, "/2.3.0/cpo/tariffs", token)
        assert r.status_code == 401 and r.json()["status_code"] == 2000
    r = await ocpi.get("/2.2.1/cpo/tariffs")
    assert r.status_code == 401


async def test_versions_shapes_and_schema(deps: Deps, ocpi: httpx.AsyncClient) -> None:
    await store(deps, energy("EXCL"), T0)
    incl = energy("INCL", "0.30", tax_included="YES")
    incl["elements"][0]["price_components"][0]["vat"] = D(20)
    await store(deps, incl, T0 + timedelta(seconds=1))

    v230 = (await get(ocpi, "/2.3.0/cpo/tariffs")).json()["data"]
    assert [(t["id"], t["tax_included"]) for t in v230] == [("EXCL", "NO"), ("INCL", "YES")]
    v221 = (await get(ocpi, "/2.2.1/cpo/tariffs")).json()["data"]
    assert [t["id"] for t in v221] == ["EXCL"] and "tax_included" not in v221[0]
    assert v221[0]["last_updated"] == "2025-03-01T08:00:00Z"
    assert v221[0]["country_code"] == "NL" and v221[0]["party_id"] == "BRN"

    if not OPENAPI.is_dir():
        pytest.skip(f"OCPI OpenAPI files not found at {OPENAPI}: schema check skipped")
    kit = _unit_kit()
    for version, items in (("2.3.0", v230), ("2.2.1", v221)):
        for item in items:
            assert kit.validate(version, "tariffs", "Tariff", item) == []


def _unit_kit() -> Any:
    """The OpenAPI loader of the unit suite (tests/unit/roaming/tariffs_ocpi_kit.py)."""
    path = Path(__file__).resolve().parents[2] / "unit" / "roaming" / "tariffs_ocpi_kit.py"
    spec = importlib.util.spec_from_file_location("tariffs_ocpi_kit", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- push


async def add_partner(
    deps: Deps,
    name: str,
    *,
    version: str,
    party: tuple[str, str],
    receiver: bool = True,
    status: str = "registered",
) -> int:
    endpoints = [{"identifier": "locations", "role": "RECEIVER", "url": f"http://{name}/loc"}]
    if receiver:
        endpoints.append({"identifier": "tariffs", "role": "RECEIVER", "url": f"http://{name}/t"})
    async with deps.db.unit_of_work() as uow:
        partner = Partner(
            name=name,
            status=status,
            their_token=f"tok-{name}",
            version=version,
            endpoints=endpoints,
            created_at=T0,
            updated_at=T0,
        )
        uow.session.add(partner)
        await uow.session.flush()
        uow.session.add(
            PartnerRole(
                country_code=party[0], party_id=party[1], role="EMSP", partner_id=partner.id
            )
        )
        await uow.commit()
        return partner.id


async def pushes(deps: Deps) -> list[tuple[int, str, str, Any]]:
    async with deps.db.unit_of_work() as uow:
        rows = await uow.session.scalars(select(OcpiOutboxRow).order_by(OcpiOutboxRow.id))
        return [
            (r.partner_id, r.method, r.path, None if r.body is None else json.loads(r.body))
            for r in rows
        ]


async def test_changes_are_pushed_to_partners_that_receive_tariffs(deps: Deps) -> None:
    a = await add_partner(deps, "a", version="2.3.0", party=("DE", "ABC"))
    b = await add_partner(deps, "b", version="2.2.1", party=("FR", "XYZ"))
    await add_partner(deps, "c", version="2.3.0", party=("BE", "CCC"), receiver=False)
    await add_partner(deps, "d", version="2.3.0", party=("BE", "DDD"), status="pending")
    pusher = TariffPusher(deps.db, deps.clock, ME)

    async def changed(record_id: int, change: Any) -> None:
        await pusher.on_tariff_changed(TariffChanged(record_id, "T1", "NL", "BRN", change))

    record_id = await store(deps, energy("T1"), T0)
    await changed(record_id, "created")
    rows = await pushes(deps)
    assert [(p, m, path) for p, m, path, _ in rows] == [
        (a, "PUT", "/NL/BRN/T1"),
        (b, "PUT", "/NL/BRN/T1"),
    ]
    assert rows[0][3]["tax_included"] == "NO" and "tax_included" not in rows[1][3]
    assert rows[0][3]["elements"][0]["price_components"][0]["price"] == 0.25

    # scoped to partner a: a gets the new state, b loses it
    async with deps.db.unit_of_work() as uow:
        await service.update_tariff(
            uow, record_id=record_id, now=T0 + timedelta(minutes=1), partner="DE*ABC"
        )
        await uow.commit()
    await changed(record_id, "updated")
    assert [(p, m) for p, m, _, _ in (await pushes(deps))[2:]] == [(a, "PUT"), (b, "DELETE")]

    # deleted: withdrawn where it was last put, nothing for b (already withdrawn)
    async with deps.db.unit_of_work() as uow:
        await service.delete_tariff(uow, record_id=record_id)
        await uow.commit()
    await changed(record_id, "deleted")
    rows = await pushes(deps)
    assert [(p, m, body) for p, m, _, body in rows[4:]] == [(a, "DELETE", None)]
    async with deps.db.unit_of_work() as uow:
        assert all(
            r.key == "tariffs:NL/BRN/T1" for r in await uow.session.scalars(select(OcpiOutboxRow))
        )


async def test_subscriber_on_the_bus_and_resync(deps: Deps) -> None:
    b = await add_partner(deps, "b", version="2.2.1", party=("FR", "XYZ"))
    TariffPusher(deps.db, deps.clock, ME).subscribe(deps.bus)
    await store(deps, energy("GENERAL"), T0)
    incl = energy("INCL", "0.30", tax_included="YES")
    await store(deps, incl, T0)
    for _ in range(200):  # the bus delivers after commit, in a task
        if await pushes(deps):
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    assert [(p, m, body["id"]) for p, m, _, body in await pushes(deps)] == [(b, "PUT", "GENERAL")]

    async with deps.db.unit_of_work() as uow:
        (link,) = await registered_links(uow)
        assert await enqueue_all(uow.session, link=link, me=ME, now=T0) == 1
        await uow.commit()
    assert len(await pushes(deps)) == 2
