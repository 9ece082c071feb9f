"""Operator API of the OCPI outbox, ``/api/v1/ocpi-deliveries``, on Borne's real runtime.

Borne (``borne.bootstrap.build_runtime``, served by uvicorn) pushes tariffs to the independent
eMSP peer of ``tests/ocpi_peer``. With ``ocpi_outbox_max_attempts=1`` a push made while the peer
is down fails at once; the operator lists, counts and reads deliveries, and replays the failed
one, which the sender then delivers to the peer (back up).
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from ocpi_peer import EmspPeer

WAIT_S = 15.0
POLL_S = 60.0


def _e2e_server() -> ModuleType:
    """``tests/e2e/conftest.py`` (Borne's real runtime on loopback sockets) as a module, under
    the name ``tests/e2e/helpers.py`` gives it, so both share one instance."""
    name = "borne_e2e_conftest"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[2] / "e2e" / "conftest.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


_server = _e2e_server()


def _tariff(tariff_id: str) -> dict[str, Any]:
    return {
        "tariff": {
            "country_code": "NL",
            "party_id": "BRN",
            "id": tariff_id,
            "currency": "EUR",
            "elements": [{"price_components": [{"type": "ENERGY", "price": 0.25, "step_size": 1}]}],
            "last_updated": "2025-01-01T00:00:00Z",
        },
        "version": "2.2.1",
    }


class World:
    def __init__(self, borne: Any, api: httpx.AsyncClient, peer: EmspPeer) -> None:
        self.borne = borne
        self.api = api
        self.peer = peer

    async def create_partner(self, name: str) -> tuple[int, str]:
        r = await self.api.post("/partners", json={"name": name})
        assert r.status_code == 201, r.text
        return int(r.json()["partner"]["id"]), str(r.json()["token"])

    async def create_tariff(self) -> str:
        tariff_id = f"T-{uuid.uuid4().hex[:10]}"
        r = await self.api.post("/tariffs", json=_tariff(tariff_id))
        assert r.status_code == 201, r.text
        return tariff_id

    async def deliveries(self, **params: Any) -> list[dict[str, Any]]:
        r = await self.api.get("/ocpi-deliveries", params=params)
        assert r.status_code == 200, r.text
        out: list[dict[str, Any]] = r.json()
        return out

    async def delivery(self, delivery_id: int) -> dict[str, Any]:
        r = await self.api.get(f"/ocpi-deliveries/{delivery_id}")
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    async def wait_for(self, predicate: Callable[[], Awaitable[bool]], what: str) -> None:
        try:
            async with asyncio.timeout(WAIT_S):
                while not await predicate():  # noqa: ASYNC110 - the state is Borne's
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}") from None

    async def settled(self) -> bool:
        """Nothing pending any more (every push delivered or failed)."""
        return (await self.counts())["pending"] == 0

    async def counts(self, **params: Any) -> dict[str, int]:
        r = await self.api.get("/ocpi-deliveries/counts", params=params)
        assert r.status_code == 200, r.text
        out: dict[str, int] = r.json()
        return out


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[World]:
    borne = await _server.start_server(
        db_url,
        ocpi_outbox_max_attempts=1,
        # no polling to speak of: only a wake-up (a push's, or the replay's) gets rows sent
        ocpi_outbox_poll_interval_s=POLL_S,
    )
    try:
        async with borne.api() as api, EmspPeer() as peer:
            yield World(borne, api, peer)
    finally:
        await _server.stop_server(borne)


def _tariff_puts(peer: EmspPeer, tariff_id: str) -> list[Any]:
    return [r for r in peer.requests_to("tariffs", "PUT") if r.path.endswith("/" + tariff_id)]


async def test_failed_push_listed_counted_and_replayed(world: World) -> None:
    peer = world.peer
    partner_id, token_a = await world.create_partner(peer.name)
    other_id, _ = await world.create_partner("Another eMSP (never registers)")
    await peer.register_with(world.borne.ocpi_versions_url, token_a)

    # a tariff pushed while the peer is up: delivered
    delivered_tariff = await world.create_tariff()
    await world.wait_for(world.settled, "the first push")
    await peer.wait_until(lambda: bool(_tariff_puts(peer, delivered_tariff)), WAIT_S)

    # the peer goes down; the next push fails at once (max attempts 1)
    await peer.stop()
    failed_tariff = await world.create_tariff()
    await world.wait_for(world.settled, "the second push to give up")

    # counts, overall and per partner
    assert await world.counts() == {"pending": 0, "delivered": 1, "failed": 1}
    assert await world.counts(partner_id=partner_id) == {"pending": 0, "delivered": 1, "failed": 1}
    assert await world.counts(partner_id=other_id) == {"pending": 0, "delivered": 0, "failed": 0}

    # the list, newest first, filtered by status and partner
    everything = await world.deliveries()
    assert [d["status"] for d in everything] == ["failed", "delivered"]
    [failed] = await world.deliveries(status="failed")
    [ok] = await world.deliveries(status="delivered", partner_id=partner_id)
    assert await world.deliveries(status="pending") == []
    assert await world.deliveries(partner_id=other_id) == []
    assert await world.deliveries(limit=1) == [everything[0]]
    assert await world.deliveries(offset=1) == [everything[1]]
    assert (failed["partner_id"], failed["module"], failed["interface"], failed["method"]) == (
        partner_id,
        "tariffs",
        "RECEIVER",
        "PUT",
    )
    assert failed["path"].endswith("/" + failed_tariff) and failed["body"]["id"] == failed_tariff
    assert failed["attempts"] == 1 and failed["last_error"] and failed["delivered_at"] is None
    assert ok["body"]["id"] == delivered_tariff and ok["delivered_at"] is not None
    assert not failed["superseded"]
    assert await world.delivery(failed["id"]) == failed

    # only a failed delivery replays
    r = await world.api.post(f"/ocpi-deliveries/{ok['id']}/replay")
    assert r.status_code == 409, r.text
    assert (await world.delivery(ok["id"]))["status"] == "delivered"

    # the peer is back: the replayed delivery is pending again, then delivered well before
    # the next poll (the replay wakes the sender)
    await peer.start()
    r = await world.api.post(f"/ocpi-deliveries/{failed['id']}/replay")
    assert r.status_code == 200, r.text
    replayed = r.json()
    assert (replayed["id"], replayed["status"], replayed["attempts"]) == (
        failed["id"],
        "pending",
        0,
    )

    async def delivered() -> bool:
        return bool((await world.delivery(failed["id"]))["status"] == "delivered")

    await world.wait_for(delivered, "the replayed delivery")
    after = await world.delivery(failed["id"])
    assert after["attempts"] == 1 and after["last_error"] is None
    [put] = _tariff_puts(peer, failed_tariff)
    assert put.body["id"] == failed_tariff
    assert await world.counts() == {"pending": 0, "delivered": 2, "failed": 0}

    # replaying it again is a conflict: it is delivered now
    r = await world.api.post(f"/ocpi-deliveries/{failed['id']}/replay")
    assert r.status_code == 409, r.text
    peer.assert_no_violations()


async def test_unknown_delivery_and_bad_filters(world: World) -> None:
    assert (await world.api.get("/ocpi-deliveries/987654")).status_code == 404
    assert (await world.api.post("/ocpi-deliveries/987654/replay")).status_code == 404
    assert (await world.api.get("/ocpi-deliveries/0")).status_code == 422
    assert (await world.api.get("/ocpi-deliveries", params={"status": "lost"})).status_code == 422
    assert (await world.api.get("/ocpi-deliveries", params={"limit": 0})).status_code == 422
    assert await world.deliveries() == []
    assert await world.counts() == {"pending": 0, "delivered": 0, "failed": 0}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/ocpi-deliveries"),
        ("GET", "/ocpi-deliveries/counts"),
        ("GET", "/ocpi-deliveries/1"),
        ("POST", "/ocpi-deliveries/1/replay"),
    ],
)
async def test_api_key_required(world: World, method: str, path: str) -> None:
    url = world.borne.api_url + "/api/v1" + path
    async with httpx.AsyncClient(timeout=10) as anonymous:
        assert (await anonymous.request(method, url)).status_code == 401
        wrong = {"Authorization": "Bearer not-the-key"}
        assert (await anonymous.request(method, url, headers=wrong)).status_code == 401
