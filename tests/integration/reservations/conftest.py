"""Fixtures of the reservations tests (builders live in ``res_helpers``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from res_helpers import Env

from borne.core.deps import Deps


@pytest.fixture
async def env(deps: Deps) -> AsyncIterator[Env]:
    e = Env(deps)
    try:
        yield e
    finally:
        await e.api.aclose()
