"""The upload endpoint on both backends, through its ASGI app: limits, tokens, replacement."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from borne.api_context import ApiContext
from borne.api_errors import install_error_handlers
from borne.core.deps import Deps
from borne.diagnostics import store
from borne.diagnostics.config import DiagnosticsConfig
from borne.diagnostics.models import REQUESTED, LogRequest
from borne.diagnostics.service import token_hash
from borne.diagnostics.uploads import build_upload_router
from borne.ocpp.outbound import OcppOutbound
from borne.stations.models import Station

TOKEN = "t" * 43
EXPIRED = "e" * 43


@pytest.fixture
async def client(deps: Deps, tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Path]]:
    now = deps.clock.now()
    async with deps.db.unit_of_work() as uow:
        uow.session.add(Station(station_id="CP-U", created_at=now, updated_at=now))
        await uow.session.flush()
        for token, ttl in [(TOKEN, 3600), (EXPIRED, -1)]:
            await store.create_log_request(
                uow,
                LogRequest(
                    station_id="CP-U",
                    ocpp_version="ocpp2.0.1",
                    action="GetLog",
                    log_type="DiagnosticsLog",
                    request_id=1,
                    status=REQUESTED,
                    status_at=now,
                    token_hash=token_hash(token),
                    token_expires_at=now + timedelta(seconds=ttl),
                    created_at=now,
                ),
            )
        await uow.commit()
    uploads = tmp_path / "uploads"
    config = DiagnosticsConfig(uploads_dir=uploads, upload_max_bytes=1000)
    app = FastAPI()
    app.state.context = ApiContext(deps=deps, outbound=OcppOutbound(deps.registry), api_keys=[])
    install_error_handlers(app)
    app.include_router(build_upload_router(config))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://borne") as c:
        yield c, uploads


async def _row(deps: Deps) -> LogRequest:
    async with deps.db.unit_of_work() as uow:
        row = await store.get_log_request(uow, "CP-U", 1)
        uow.session.expunge(row)  # readable after the unit of work ends
        return row


async def test_raw_upload_is_stored_and_a_new_one_replaces_it(
    deps: Deps, client: tuple[httpx.AsyncClient, Path]
) -> None:
    http, uploads = client
    r = await http.put(f"/uploads/{TOKEN}/first.log", content=b"one")
    assert r.status_code == 201 and r.json()["size"] == 3
    first = (await _row(deps)).stored_name
    r = await http.post(
        f"/uploads/{TOKEN}", content=b"second", headers={"content-type": "text/plain"}
    )
    assert r.status_code == 201
    row = await _row(deps)
    assert row.stored_name != first
    assert (uploads / str(row.stored_name)).read_bytes() == b"second"
    assert row.upload_filename is None and row.upload_content_type == "text/plain"
    # Only the current file is kept, no partial files left behind.
    assert sorted(p.name for p in uploads.iterdir()) == [row.stored_name]


async def test_too_large_refused_whether_announced_or_streamed(
    deps: Deps, client: tuple[httpx.AsyncClient, Path]
) -> None:
    http, uploads = client
    r = await http.put(f"/uploads/{TOKEN}/big.log", content=b"x" * 1001)
    assert r.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked
        for _ in range(20):
            yield b"y" * 100
            await asyncio.sleep(0)

    r = await http.put(f"/uploads/{TOKEN}/big.log", content=chunks())
    assert r.status_code == 413
    assert (await _row(deps)).stored_name is None
    assert list(uploads.iterdir()) == []


async def test_unknown_or_expired_tokens_and_bad_multipart(
    client: tuple[httpx.AsyncClient, Path],
) -> None:
    http, _ = client
    assert (await http.put("/uploads/nope/a.log", content=b"a")).status_code == 403
    assert (await http.put(f"/uploads/{EXPIRED}/a.log", content=b"a")).status_code == 403
    r = await http.post(
        f"/uploads/{TOKEN}/",
        content=b'--b\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n--b--\r\n',
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "bad_request"
