"""Fixtures of the outbound OCPI tests: a real partner over HTTP, a client, a movable clock.

``borne.ocpi.outbox_models`` is imported here so ``db_url`` creates ``ocpi_outbox`` even before
``borne.models`` imports it.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from http_partner import MovableClock, Peer

import borne.ocpi.outbox_models  # noqa: F401  (registers ocpi_outbox on Base.metadata)
from borne.ocpi.client import OcpiClient


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    p = Peer()
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


@pytest.fixture
async def client() -> AsyncIterator[OcpiClient]:
    c = OcpiClient(timeout_s=2.0)
    try:
        yield c
    finally:
        await c.aclose()


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()
