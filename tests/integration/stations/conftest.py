"""Builders for the stations tests: call contexts and stations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from borne.core.deps import Deps
from borne.ocpp.context import CallContext, StationSessionState
from borne.ocpp.router import Router
from borne.ocpp.versions import OcppVersion
from borne.stations import admin, ocpp_v16, ocpp_v201
from borne.stations.config import StationsConfig

PASSWORD = "s3cret-Station-Passw0rd"


class DummyConnection:
    def __init__(self, station_id: str, version: OcppVersion) -> None:
        self.station_id = station_id
        self.ocpp_version = str(version)

    async def call(
        self,
        action: str,
        payload: Mapping[str, Any],
        *,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        raise AssertionError("no CSMS call expected")

    async def close(self, code: int = 1000, reason: str = "") -> None:
        return None


def _make_ctx(
    station_id: str,
    version: OcppVersion,
    *,
    received_at: datetime | None = None,
    state: StationSessionState | None = None,
) -> CallContext:
    return CallContext(
        station_id=station_id,
        version=version,
        message_id="m1",
        received_at=received_at or datetime.now(UTC),
        connection=DummyConnection(station_id, version),
        state=state or StationSessionState(),
    )


MakeStation = Callable[..., Awaitable[admin.StationView]]
Call = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def make_ctx() -> Callable[..., CallContext]:
    return _make_ctx


@pytest.fixture
def stations_config() -> StationsConfig:
    return StationsConfig(heartbeat_interval_s=300, pending_retry_interval_s=60)


@pytest.fixture
def routers(deps: Deps, stations_config: StationsConfig) -> dict[OcppVersion, Router]:
    r16, r201 = Router(OcppVersion.V16), Router(OcppVersion.V201)
    ocpp_v16.register(r16, deps, stations_config)
    ocpp_v201.register(r201, deps, stations_config)
    return {OcppVersion.V16: r16, OcppVersion.V201: r201}


@pytest.fixture
def call(routers: dict[OcppVersion, Router]) -> Call:
    """Send a wire payload to the registered handler; returns the wire answer."""

    async def send(ctx: CallContext, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        router = routers[ctx.version]
        handler = router.handler_for(action)
        assert handler is not None, f"{action} not registered for {ctx.version}"
        request = router.requests[action].model_validate(payload)
        response = await handler(ctx, request)
        assert isinstance(response, router.responses[action])
        return response.to_payload()

    return send


@pytest.fixture
def make_station(deps: Deps) -> MakeStation:
    async def make(station_id: str = "CP-1", **kwargs: Any) -> admin.StationView:
        kwargs.setdefault("security_profile", 0)
        kwargs.setdefault("password_iterations", 1_000)
        async with deps.db.unit_of_work() as uow:
            view = await admin.create_station(
                uow, station_id=station_id, now=datetime.now(UTC), **kwargs
            )
            await uow.commit()
        return view

    return make


@pytest.fixture(params=[OcppVersion.V16, OcppVersion.V201], ids=["v16", "v201"])
def version(request: pytest.FixtureRequest) -> OcppVersion:
    v: OcppVersion = request.param
    return v
