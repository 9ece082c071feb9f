"""Helpers of the notifications tests: an in-memory receiver that checks signatures."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from borne.core.deps import Deps
from borne.notifications import service
from borne.notifications.signing import HEADER, verify


class Receiver:
    """Answers webhook POSTs: ``fail_next`` failures (HTTP 503) first, then 204. Every request
    is kept, with whether its signature verified against ``secrets[url]``."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        self.fail_next = 0
        self.requests: list[dict[str, Any]] = []

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        body = request.content
        secret = self.secrets.get(str(request.url), "")
        self.requests.append(
            {
                "url": str(request.url),
                "headers": dict(request.headers),
                "json": json.loads(body),
                "verified": verify(
                    secret, request.headers.get(HEADER, ""), body, now=int(time.time())
                ),
            }
        )
        if self.fail_next > 0:
            self.fail_next -= 1
            return httpx.Response(503)
        return httpx.Response(204)

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [r["json"] for r in self.requests if r["json"]["type"] == event_type]


async def subscribe(
    deps: Deps,
    receiver: Receiver,
    event_types: list[str],
    *,
    url: str = "http://receiver.test/hook",
    soc_threshold: int = 80,
) -> int:
    async with deps.db.unit_of_work() as uow:
        sub, secret = await service.create_subscription(
            uow,
            url=url,
            event_types=event_types,
            now=datetime.now(UTC),
            allow_http=True,
            soc_threshold=soc_threshold,
        )
        await uow.commit()
    receiver.secrets[url] = secret
    return sub.id


async def deliveries(deps: Deps, subscription_id: int) -> list[service.DeliveryView]:
    async with deps.db.unit_of_work() as uow:
        return (await service.list_deliveries(uow, subscription_id, limit=500)).items


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout: float = 5.0, step: float = 0.02
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(step)
