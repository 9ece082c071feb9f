"""Display messages through the operator API and NotifyDisplayMessages, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

import borne.display_messages.models  # noqa: F401  (registers the table)
from borne.api_context import ApiContext
from borne.app import create_app
from borne.core.deps import Deps
from borne.display_messages import api as display_api
from borne.display_messages import ocpp_v201 as display_v201
from borne.ocpp.context import CallContext, StationSessionState
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.router import Router
from borne.ocpp.v201 import models as v201
from borne.ocpp.versions import OcppVersion
from borne.stations import admin
from fake_station import FakeStation

KEY = "test-operator-key-0123456789"
V16, V201 = OcppVersion.V16, OcppVersion.V201
URL = "/stations/CP-1/display-messages"


@pytest.fixture
async def client(deps: Deps) -> AsyncIterator[httpx.AsyncClient]:
    context = ApiContext(
        deps=deps,
        outbound=OcppOutbound(deps.registry),
        api_keys=[KEY],
        routers=[display_api.router],
    )
    transport = httpx.ASGITransport(app=create_app(context))
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://borne/api/v1",
        headers={"Authorization": f"Bearer {KEY}"},
    ) as c:
        yield c


async def station(deps: Deps, version: OcppVersion, answers: dict[str, Any]) -> FakeStation:
    async with deps.db.unit_of_work() as uow:
        await admin.create_station(
            uow, station_id="CP-1", now=datetime.now(UTC), security_profile=0
        )
        await uow.commit()
    fake = FakeStation("CP-1", version, answers)
    deps.registry.register(fake)
    return fake


async def listed(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    r = await client.get(URL)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def test_set_sends_message_info_and_stores_it(client: httpx.AsyncClient, deps: Deps) -> None:
    fake = await station(deps, V201, {"SetDisplayMessage": {"status": "Accepted"}})
    r = await client.post(
        URL,
        json={
            "content": "Borne en maintenance à 14h",
            "language": "fr",
            "priority": "InFront",
            "state": "Idle",
            "display": {"name": "Display", "evse_id": 1},
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["message_id"] == 1
    assert fake.last == (
        "SetDisplayMessage",
        {
            "message": {
                "id": 1,
                "priority": "InFront",
                "state": "Idle",
                "display": {"name": "Display", "evse": {"id": 1}},
                "message": {
                    "format": "UTF8",
                    "language": "fr",
                    "content": "Borne en maintenance à 14h",
                },
            }
        },
    )
    [row] = await listed(client)
    assert row["origin"] == "set" and row["content"] == "Borne en maintenance à 14h"
    second = await client.post(URL, json={"content": "second"})
    assert second.json()["message_id"] == 2


async def test_refused_message_is_not_stored(client: httpx.AsyncClient, deps: Deps) -> None:
    await station(deps, V201, {"SetDisplayMessage": {"status": "NotSupportedPriority"}})
    r = await client.post(URL, json={"id": 9, "content": "x", "priority": "AlwaysFront"})
    assert r.json()["status"] == "NotSupportedPriority" and r.json()["stored"] is None
    assert await listed(client) == []


async def test_invalid_message_is_refused_before_sending(
    client: httpx.AsyncClient, deps: Deps
) -> None:
    fake = await station(deps, V201, {"SetDisplayMessage": {"status": "Accepted"}})
    late = {
        "content": "x",
        "start_date_time": "2026-01-02T00:00:00Z",
        "end_date_time": "2026-01-01T00:00:00Z",
    }
    assert (await client.post(URL, json=late)).status_code == 422
    assert (await client.post(URL, json={"content": "x" * 513})).status_code == 422
    assert (await client.post(URL, json={"content": "x", "format": "PDF"})).status_code == 422
    assert fake.calls == []


async def test_display_messages_are_2_0_1_only(client: httpx.AsyncClient, deps: Deps) -> None:
    fake = await station(deps, V16, {})
    assert (await client.post(URL, json={"content": "x"})).status_code == 422
    assert (await client.post(f"{URL}/report", json={})).status_code == 422
    assert (await client.delete(f"{URL}/1")).status_code == 422
    assert fake.calls == []


async def notify(deps: Deps, fake: FakeStation, payload: dict[str, Any]) -> None:
    router = Router(V201)
    display_v201.register(router, deps)
    handler = router.handler_for("NotifyDisplayMessages")
    assert handler is not None
    ctx = CallContext(
        station_id="CP-1",
        version=V201,
        message_id=str(uuid.uuid4()),
        received_at=datetime.now(UTC),
        connection=fake,
        state=StationSessionState(),
    )
    await handler(ctx, v201.NotifyDisplayMessagesRequest.model_validate(payload))


async def test_get_then_notify_parts_then_clear(client: httpx.AsyncClient, deps: Deps) -> None:
    fake = await station(
        deps,
        V201,
        {
            "SetDisplayMessage": {"status": "Accepted"},
            "GetDisplayMessages": {"status": "Accepted"},
            "ClearDisplayMessage": {"status": "Accepted"},
        },
    )
    await client.post(URL, json={"id": 5, "content": "old text"})
    r = await client.post(f"{URL}/report", json={"request_id": 31, "priority": "NormalCycle"})
    assert r.json()["request_id"] == 31
    assert fake.last == ("GetDisplayMessages", {"requestId": 31, "priority": "NormalCycle"})

    msg = {"priority": "NormalCycle", "message": {"format": "ASCII", "content": "station text"}}
    await notify(deps, fake, {"requestId": 31, "tbc": True, "messageInfo": [{**msg, "id": 5}]})
    await notify(deps, fake, {"requestId": 31, "messageInfo": [{**msg, "id": 6}]})
    rows = await listed(client)
    assert [(m["message_id"], m["origin"], m["request_id"], m["content"]) for m in rows] == [
        (5, "reported", 31, "station text"),
        (6, "reported", 31, "station text"),
    ]

    assert (await client.delete(f"{URL}/5")).json()["status"] == "Accepted"
    assert fake.last == ("ClearDisplayMessage", {"id": 5})
    fake.answers["ClearDisplayMessage"] = {"status": "Unknown"}
    await client.delete(f"{URL}/6")
    assert await listed(client) == []


async def test_unknown_station_list_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/stations/NOPE/display-messages")).status_code == 404
