"""The firmware domain's pieces, built together for ``bootstrap`` (and the end-to-end tests)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter

from borne.core.deps import Deps
from borne.firmware.api import build_router
from borne.firmware.config import FirmwareConfig
from borne.firmware.runner import CampaignRunner
from borne.firmware.subscribers import FirmwareSubscribers
from borne.ocpp.outbound import OcppOutbound


@dataclass(frozen=True)
class Firmware:
    runner: CampaignRunner  # start with supervisor.keep_running(runner.run, ...)
    subscribers: FirmwareSubscribers
    router: APIRouter  # mount under /api/v1


def build_firmware(deps: Deps, outbound: OcppOutbound, config: FirmwareConfig) -> Firmware:
    """Build and subscribe (the subscribers are live once this returns)."""
    runner = CampaignRunner(deps, outbound, config)
    subscribers = FirmwareSubscribers(deps, runner.wake)
    subscribers.subscribe(deps.bus)
    router = build_router(runner.wake, call_timeout_s=config.call_timeout_s)
    return Firmware(runner, subscribers, router)
