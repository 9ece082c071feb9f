"""Fixtures of the limits tests: the transactions handlers of both versions (``tx_helpers``), a
limits enforcer wired to the bus, and stand-in station connections that record stop requests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "transactions"))

from limits_helpers import FakeStation
from tx_helpers import Csms

from borne.core.deps import Deps
from borne.limits.config import LimitsConfig
from borne.limits.subscribers import LimitsEnforcer
from borne.ocpp.outbound import OcppOutbound


@pytest.fixture
async def csms(deps: Deps) -> Csms:
    c = Csms(deps)
    await c.token("TAG1")
    await c.token("TAG2")
    return c


@pytest.fixture
def enforcer(deps: Deps) -> LimitsEnforcer:
    config = LimitsConfig(check_interval_s=0.05, stop_retry_s=0.05, stop_retry_max_s=0.2)
    e = LimitsEnforcer(deps, OcppOutbound(deps.registry), config)
    e.subscribe(deps.bus)
    return e


@pytest.fixture
def station16(deps: Deps) -> FakeStation:
    s = FakeStation("LIM16", "ocpp1.6")
    deps.registry.register(s)
    return s


@pytest.fixture
def station201(deps: Deps) -> FakeStation:
    s = FakeStation("LIM201", "ocpp2.0.1")
    deps.registry.register(s)
    return s
