"""Fixtures of the tariff tests: the operator API with stations, tokens, locations and tariffs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

import borne.authorization.api
import borne.locations.api
import borne.stations.api
import borne.tariffs.api
from borne.api_context import ApiContext
from borne.app import create_app
from borne.core.deps import Deps
from borne.ocpp.outbound import OcppOutbound

KEY = "tariff-test-key"


@pytest.fixture
async def api(deps: Deps) -> AsyncIterator[httpx.AsyncClient]:
    context = ApiContext(
        deps=deps,
        outbound=OcppOutbound(deps.registry),
        api_keys=[KEY],
        routers=[
            borne.stations.api.router,
            borne.authorization.api.router,
            borne.locations.api.router,
            borne.tariffs.api.router,
        ],
    )
    transport = httpx.ASGITransport(app=create_app(context))
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers) as c:
        yield c
