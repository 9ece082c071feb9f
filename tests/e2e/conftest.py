"""The real server for end-to-end tests: Borne's runtime on ephemeral loopback ports.

The OCPP gateway and the operator API (uvicorn) listen on real sockets; tests drive them with
independent clients (the ``ocpp`` package's ChargePoint, ``websockets``, ``httpx``).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from borne.bootstrap import Runtime, build_runtime
from borne.settings import Settings

API_KEY = "e2e-operator-key"


@dataclass
class BorneServer:
    runtime: Runtime
    ocpp_url: str  # ws://127.0.0.1:<port>/ocpp  (append /<station_id>)
    api_url: str  # http://127.0.0.1:<port>
    api_key: str
    http_server: uvicorn.Server
    http_task: asyncio.Task[Any]
    # wss://127.0.0.1:<port>/ocpp when the gateway serves TLS (``ocpp_tls_*`` settings), else
    # None; with TLS replacing ws:// (no ``ocpp_tls_port``) ``ocpp_url`` is wss:// too.
    ocpp_wss_url: str | None = None

    @property
    def ocpi_versions_url(self) -> str:
        return self.api_url + "/ocpi/versions"

    def api(self) -> httpx.AsyncClient:
        """An HTTP client for the operator API, authenticated."""
        return httpx.AsyncClient(
            base_url=self.api_url + "/api/v1",
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=30,
        )


async def start_server(db_url: str, *, api_port: int = 0, **overrides: Any) -> BorneServer:
    """Borne on loopback. The API socket is bound first, so the OCPI base URL (which partners
    call back) names the real port; ``api_port`` reuses a port, e.g. across a restart."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", api_port))
    port = sock.getsockname()[1]
    overrides.setdefault("ocpi_base_url", f"http://127.0.0.1:{port}/ocpi")
    overrides.setdefault("public_base_url", f"http://127.0.0.1:{port}")
    settings = Settings(
        database_url=db_url,
        ocpp_port=0,
        api_port=port,
        commit_batch_wait_ms=0.5,
        **overrides,
    )
    runtime = build_runtime(settings, api_keys=[API_KEY])
    await runtime.start()
    config = uvicorn.Config(
        runtime.app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            await task
        await asyncio.sleep(0.01)
    gateway = runtime.gateway
    wss_port = gateway.tls_port if gateway.tls_port is not None else gateway.port
    tls_only = gateway.tls and gateway.tls_port is None
    borne = BorneServer(
        runtime=runtime,
        ocpp_url=f"{'wss' if tls_only else 'ws'}://127.0.0.1:{gateway.port}/ocpp",
        ocpp_wss_url=f"wss://127.0.0.1:{wss_port}/ocpp" if gateway.tls else None,
        api_url=f"http://127.0.0.1:{port}",
        api_key=API_KEY,
        http_server=server,
        http_task=task,
    )
    return borne


async def stop_server(borne: BorneServer) -> None:
    borne.http_server.should_exit = True
    await asyncio.wait_for(borne.http_task, 10)
    await borne.runtime.stop()


@pytest.fixture
async def borne_server(db_url: str) -> AsyncIterator[BorneServer]:
    """Borne with registration policy ``reject`` (stations must be created first)."""
    borne = await start_server(db_url)
    try:
        yield borne
    finally:
        await stop_server(borne)
