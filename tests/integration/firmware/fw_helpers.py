"""Helpers of the firmware tests: stations answering UpdateFirmware as told, ``eventually``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from borne.core.deps import Deps
from borne.stations import admin
from borne.stations import service as stations_service

FIRMWARE_ACTIONS = ("UpdateFirmware", "SignedUpdateFirmware")


class FakeStation:
    """A live connection as the registry sees it. ``answers`` is consumed one per call (a status
    word or an exception to raise); when empty it accepts. 1.6 UpdateFirmware answers ``{}``."""

    def __init__(self, station_id: str, ocpp_version: str) -> None:
        self.station_id = station_id
        self.ocpp_version = ocpp_version
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.answers: list[str | Exception] = []

    async def call(
        self, action: str, payload: Mapping[str, Any], *, timeout: float | None = None
    ) -> dict[str, Any]:
        assert action in FIRMWARE_ACTIONS, action
        self.calls.append((action, dict(payload)))
        answer = self.answers.pop(0) if self.answers else "Accepted"
        if isinstance(answer, Exception):
            raise answer
        if self.ocpp_version == "ocpp1.6" and action == "UpdateFirmware":
            return {}
        return {"status": answer}

    async def close(self, code: int = 1000, reason: str = "") -> None:
        return None


async def add_station(deps: Deps, station_id: str) -> None:
    async with deps.db.unit_of_work() as uow:
        await admin.create_station(
            uow, station_id=station_id, now=datetime.now(UTC), security_profile=0
        )
        await uow.commit()


def connect(deps: Deps, station_id: str, version: str = "ocpp2.0.1") -> FakeStation:
    s = FakeStation(station_id, version)
    deps.registry.register(s)
    return s


async def report(
    deps: Deps, station_id: str, status: str, request_id: int | None, kind: str = "firmware"
) -> None:
    """What the stations domain does on a FirmwareStatusNotification: store and publish."""
    async with deps.db.unit_of_work() as uow:
        await stations_service.record_notification(
            uow,
            station_id=station_id,
            kind=kind,
            status=status,
            timestamp=datetime.now(UTC),
            request_id=request_id,
        )
        await uow.commit()


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout: float = 5.0, step: float = 0.02
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(step)
