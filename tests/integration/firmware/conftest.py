"""Fixtures of the firmware tests: the firmware domain wired to the bus, its runner running."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import borne.firmware.models  # noqa: F401  (the tables, before the schema is created)
from borne.core.deps import Deps
from borne.firmware.config import FirmwareConfig
from borne.firmware.wiring import Firmware, build_firmware
from borne.ocpp.outbound import OcppOutbound


@pytest.fixture
async def firmware(deps: Deps) -> AsyncIterator[Firmware]:
    fw = build_firmware(deps, OcppOutbound(deps.registry), FirmwareConfig(poll_interval_s=0.05))
    deps.supervisor.keep_running(fw.runner.run, name="firmware-campaigns")
    yield fw
