"""A real OCPI partner for outbound tests: a Starlette app served by uvicorn on 127.0.0.1.

It records every request and answers with an OCPI envelope. Tests switch it to fail (``fail``:
a queue of (HTTP status, OCPI status) answers consumed first, or ``fail_paths`` per path), slow
it down (``delay_s``), or stop it (connection refused) and start it again on the same port.

Fixed routes: ``/versions``, ``/2.2.1/details`` and ``/items`` (paginated by offset/limit with a
``Link`` carrying every query parameter). Any other path answers 1000 with ``data: null``.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from borne.ocpi.outbox import ResolvedTarget


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def envelope(data: Any = None, code: int = 1000, message: str = "Success") -> dict[str, Any]:
    return {
        "data": data,
        "status_code": code,
        "status_message": message,
        "timestamp": "2025-01-01T00:00:00Z",
    }


@dataclass
class Peer:
    port: int = 0
    requests: list[Recorded] = field(default_factory=list)
    fail: list[tuple[int, int]] = field(default_factory=list)
    fail_paths: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    raw_body: bytes | None = None  # answer this (HTTP 200, text/html) instead of an envelope
    delay_s: float = 0.0
    items: list[dict[str, Any]] = field(default_factory=list)
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[Any] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def on(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    def app(self) -> Starlette:
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        return Starlette(routes=[Route("/{path:path}", self._handle, methods=methods)])

    async def start(self) -> None:
        config = uvicorn.Config(
            self.app(),
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            access_log=False,
            lifespan="off",
        )
        server = uvicorn.Server(config)
        task = asyncio.get_running_loop().create_task(server.serve())
        while not server.started:
            if task.done():
                await task
            await asyncio.sleep(0.01)
        self.port = server.servers[0].sockets[0].getsockname()[1]
        self._server, self._task = server, task

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        await asyncio.wait_for(self._task, 10)
        self._server = self._task = None

    async def _handle(self, request: Request) -> Response:
        path = "/" + request.path_params["path"]
        self.requests.append(
            Recorded(
                request.method,
                path,
                dict(request.query_params),
                {k.lower(): v for k, v in request.headers.items()},
                await request.body(),
            )
        )
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        queue = self.fail_paths.get(path) or self.fail
        if queue:
            http_status, code = queue.pop(0)
            return JSONResponse(envelope(None, code, "scripted failure"), status_code=http_status)
        if self.raw_body is not None:
            return Response(self.raw_body, media_type="text/html")
        if path == "/versions":
            return JSONResponse(
                envelope(
                    [
                        {"version": "2.2.1", "url": f"{self.url}/2.2.1/details"},
                        {"version": "2.3.0", "url": f"{self.url}/2.3.0/details"},
                    ]
                )
            )
        if path == "/2.2.1/details":
            endpoints = [
                {"identifier": "credentials", "role": "SENDER", "url": f"{self.url}/cred"},
                {"identifier": "sessions", "role": "RECEIVER", "url": f"{self.url}/sessions"},
                {"identifier": "tokens", "role": "SENDER", "url": f"{self.url}/tokens"},
            ]
            return JSONResponse(envelope({"version": "2.2.1", "endpoints": endpoints}))
        if path == "/items":
            return self._page(request)
        return JSONResponse(envelope())

    def _page(self, request: Request) -> Response:
        query = dict(request.query_params)
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 2))
        page = self.items[offset : offset + limit]
        headers = {"X-Total-Count": str(len(self.items)), "X-Limit": str(limit)}
        if offset + limit < len(self.items):
            nxt = {**query, "offset": str(offset + limit), "limit": str(limit)}
            headers["Link"] = f'<{self.url}/items?{urlencode(nxt)}>; rel="next"'
        return JSONResponse(envelope(page), headers=headers)


class MovableClock:
    def __init__(self) -> None:
        self.at = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


class DictResolver:
    """Targets per (partner, module, interface); None when absent; ``error`` raises."""

    def __init__(self) -> None:
        self.targets: dict[tuple[int, str, str], ResolvedTarget] = {}
        self.error: Exception | None = None
        self.calls = 0

    async def resolve(self, partner_id: int, module: str, interface: str) -> ResolvedTarget | None:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.targets.get((partner_id, module, interface))
