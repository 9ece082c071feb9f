"""Fixtures of the operator API tests: the app over ASGI, and stand-ins for live stations."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from api_helpers import AUTH, KEY, LiveConnection

import borne.authorization.api
import borne.stations.api
import borne.transactions.api
from borne.api_context import ApiContext
from borne.app import create_app
from borne.core.deps import Deps
from borne.ocpp.outbound import OcppOutbound


@pytest.fixture
async def api(deps: Deps) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the operator API, sending the API key."""
    context = ApiContext(
        deps=deps,
        outbound=OcppOutbound(deps.registry),
        api_keys=[KEY],
        routers=[
            borne.stations.api.router,
            borne.authorization.api.router,
            borne.transactions.api.router,
        ],
    )
    transport = httpx.ASGITransport(app=create_app(context))
    async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=AUTH) as c:
        yield c


@pytest.fixture
def connect(deps: Deps) -> Callable[..., LiveConnection]:
    """``connect(station_id, "ocpp2.0.1")``: the station now has a live connection."""

    def _connect(station_id: str, ocpp_version: str = "ocpp1.6") -> LiveConnection:
        conn = LiveConnection(station_id, ocpp_version)
        deps.registry.register(conn)
        return conn

    return _connect
