"""The operator API of limits: per session and per token, errors as JSON."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from tx_helpers import Csms

import borne.authorization.api
import borne.transactions.api
from borne.api_context import ApiContext
from borne.app import create_app
from borne.core.deps import Deps
from borne.limits import api as limits_api
from borne.ocpp.outbound import OcppOutbound

KEY = "limits-key"


@pytest.fixture
async def api(deps: Deps) -> AsyncIterator[httpx.AsyncClient]:
    context = ApiContext(
        deps=deps,
        outbound=OcppOutbound(deps.registry),
        api_keys=[KEY],
        routers=[limits_api.router, borne.authorization.api.router, borne.transactions.api.router],
    )
    transport = httpx.ASGITransport(app=create_app(context))
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test/api/v1", headers=headers
    ) as c:
        yield c


async def test_session_limits_round_trip(api: httpx.AsyncClient, csms: Csms) -> None:
    tx_id = (await csms.start16("API16"))["transactionId"]
    pk = (await csms.tx("API16", tx_id)).id
    r = await api.get(f"/transactions/{pk}/limits")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "transaction_pk": pk,
        "limits": None,
        "source": None,
        "updated_at": None,
        "enforcement": None,
    }
    body = {"max_cost": "12.5", "currency": "EUR", "max_energy_wh": 20000, "max_duration_s": 3600}
    r = await api.put(f"/transactions/{pk}/limits", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["limits"] == {
        "max_cost": "12.5",
        "currency": "EUR",
        "max_energy_wh": "20000",
        "max_duration_s": 3600,
    }
    assert out["source"] == "operator"
    assert (await api.get(f"/transactions/{pk}/limits")).json()["limits"] == out["limits"]


@pytest.mark.parametrize(
    "body",
    [
        {"max_cost": "5"},  # no currency
        {"max_cost": "-1", "currency": "EUR"},
        {"max_energy_wh": 0},
        {"max_duration_s": "soon"},
        {"currency": "euro", "max_cost": "1"},
        {"unknown": 1},
    ],
)
async def test_invalid_limits_are_422(
    api: httpx.AsyncClient, csms: Csms, body: dict[str, object]
) -> None:
    tx_id = (await csms.start16("API16"))["transactionId"]
    pk = (await csms.tx("API16", tx_id)).id
    r = await api.put(f"/transactions/{pk}/limits", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] in ("validation_error", "invalid_input")


async def test_unknown_or_ended_transactions(api: httpx.AsyncClient, csms: Csms) -> None:
    r = await api.put("/transactions/999999/limits", json={"max_energy_wh": 1})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert (await api.get("/transactions/999999/limits")).status_code == 404
    tx_id = (await csms.start16("API16"))["transactionId"]
    pk = (await csms.tx("API16", tx_id)).id
    await csms.stop16("API16", tx_id)
    r = await api.put(f"/transactions/{pk}/limits", json={"max_energy_wh": 1})
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"


async def test_token_limits(api: httpx.AsyncClient, csms: Csms) -> None:
    r = await api.put("/id-tokens/tag1/limits", json={"max_duration_s": 600})
    assert r.status_code == 200, r.text
    assert r.json()["id_token"] == "TAG1"
    r = await api.get("/id-tokens/Tag1/limits")
    assert r.status_code == 200 and r.json()["limits"]["max_duration_s"] == 600
    # The id-tokens router still serves the token itself.
    assert (await api.get("/id-tokens/TAG1")).json()["id_token"] == "TAG1"
    assert (await api.put("/id-tokens/NOPE/limits", json={})).status_code == 404
    assert (await api.delete("/id-tokens/TAG1/limits")).status_code == 204
    assert (await api.get("/id-tokens/TAG1/limits")).status_code == 404


async def test_limits_need_the_api_key(api: httpx.AsyncClient) -> None:
    r = await api.get("/transactions/1/limits", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
