"""Fixtures of the transactions tests (builders live in ``tx_helpers``)."""

from __future__ import annotations

import pytest
from tx_helpers import Csms

from borne.core.deps import Deps


@pytest.fixture
async def csms(deps: Deps) -> Csms:
    c = Csms(deps)
    await c.token("TAG1")
    await c.token("TAG2")
    return c
