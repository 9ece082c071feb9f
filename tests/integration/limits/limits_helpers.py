"""Helpers of the limits tests: a station connection that records and answers stop requests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

STOP_ACTIONS = ("RemoteStopTransaction", "RequestStopTransaction")


class FakeStation:
    """A live connection as the registry sees it. ``answers`` is consumed one per stop request
    (``"Accepted"``, ``"Rejected"`` or an exception to raise); when empty, it accepts."""

    def __init__(self, station_id: str, ocpp_version: str) -> None:
        self.station_id = station_id
        self.ocpp_version = ocpp_version
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.answers: list[str | Exception] = []
        self.stopped = asyncio.Event()

    async def call(
        self, action: str, payload: Mapping[str, Any], *, timeout: float | None = None
    ) -> dict[str, Any]:
        assert action in STOP_ACTIONS, action
        self.calls.append((action, dict(payload)))
        answer = self.answers.pop(0) if self.answers else "Accepted"
        if isinstance(answer, Exception):
            raise answer
        if answer == "Accepted":
            self.stopped.set()
        return {"status": answer}

    async def close(self, code: int = 1000, reason: str = "") -> None:
        return None

    @property
    def stops(self) -> list[dict[str, Any]]:
        return [p for a, p in self.calls if a in STOP_ACTIONS]


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout: float = 5.0, step: float = 0.02
) -> None:
    """Wait until ``check()`` is true (subscribers run as background tasks)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(step)
