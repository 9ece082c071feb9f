"""Fixtures of the CDR integration tests: the transactions handlers (``tx_helpers.Csms``, the
one place for transaction builders) and the CDR subscribers on the bus."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "transactions"))

from tx_helpers import Csms

from borne.cdrs.live_cost import LiveCosts
from borne.cdrs.subscribers import CdrSubscribers
from borne.core.deps import Deps


@pytest.fixture
async def csms(deps: Deps) -> Csms:
    c = Csms(deps)
    await c.token("TAG1")
    return c


@pytest.fixture
def cdrs(deps: Deps) -> CdrSubscribers:
    subs = CdrSubscribers(
        deps.db,
        deps.clock,
        deps.supervisor,
        LiveCosts(),
        sweep_interval_s=0,
        sweep_grace_s=0,
        min_interval_s=0,
    )
    subs.subscribe(deps.bus)
    return subs
