"""R16 for real: Borne runs as its own process and is killed with SIGKILL the moment a station
has received the CALLRESULT of its stop; a new process on the same database must show the stop.

"The acknowledgement is sent only after commit": Borne's group committer waits up to
``BORNE_COMMIT_BATCH_WAIT_MS`` before a commit. The server under test runs with a wide window
(``COMMIT_WAIT_MS``), so an acknowledgement sent before the commit would be killed with its data
every time, not once in a while. Everything the station sent before the stop is pipelined (sent
without waiting for the answers) so the last messages share a batch with the stop.

Each run uses a database of its own that ``borne run`` migrates with Alembic at start (the
``db_url`` fixture's ``create_all`` schema would collide with the migrations).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

PG_URL = os.environ.get("BORNE_TEST_DATABASE_URL", "")
API_KEY = "crash-test-key"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
CALL_TIMEOUT_S = 15.0
COMMIT_WAIT_MS = 150  # the window an early acknowledgement would fall into
METER_MESSAGES = 12
TAG = "R16-CRASH-TAG"


# ------------------------------------------------------------------------- the database


@pytest.fixture
async def empty_db_url(backend: str, tmp_path: Path) -> str:
    """An empty database (no tables): ``borne run`` creates the schema by migrating."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'crash.db'}"
    engine = create_async_engine(PG_URL)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    except OSError as exc:
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    finally:
        await engine.dispose()
    return PG_URL


# --------------------------------------------------------------------- the Borne process


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class BorneProcess:
    proc: asyncio.subprocess.Process
    ocpp_port: int
    api_port: int
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def ocpp_url(self, station_id: str) -> str:
        return f"ws://127.0.0.1:{self.ocpp_port}/ocpp/{station_id}"

    def api(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{self.api_port}/api/v1",
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=CALL_TIMEOUT_S,
        )

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    async def kill(self) -> None:
        """SIGKILL, no cleanup of any kind; returns once the process is gone."""
        if self.proc.returncode is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        await asyncio.wait_for(self.proc.wait(), STOP_TIMEOUT_S)

    async def terminate(self) -> None:
        """A clean stop (SIGTERM), SIGKILL when it takes too long."""
        if self.proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.terminate()
        try:
            await asyncio.wait_for(self.proc.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            await self.kill()


async def _wait_ready(borne: BorneProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    async with borne.api() as api:
        while True:
            if borne.proc.returncode is not None:
                pytest.fail(f"borne exited with {borne.proc.returncode}:\n{borne.log_tail()}")
            try:
                if (await api.get("/stations")).status_code == 200:
                    # the gateway starts before the API: it is listening now
                    with socket.create_connection(("127.0.0.1", borne.ocpp_port), timeout=1):
                        return
            except (httpx.TransportError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"borne did not start in {START_TIMEOUT_S}s:\n{borne.log_tail()}")
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def running_borne(db_url: str, log_path: Path) -> AsyncIterator[BorneProcess]:
    """``python -m borne run`` on ``db_url``; always gone (terminated or killed) on exit."""
    env = dict(os.environ)
    env.update(
        BORNE_DATABASE_URL=db_url,
        BORNE_OCPP_PORT=str(_free_port()),
        BORNE_API_PORT=str(_free_port()),
        BORNE_API_KEYS=json.dumps([API_KEY]),
        BORNE_REGISTRATION_POLICY="accept",
        BORNE_COMMIT_BATCH_WAIT_MS=str(COMMIT_WAIT_MS),
        BORNE_LOG_LEVEL="INFO",
    )
    with log_path.open("ab") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "borne",
            "run",
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            cwd=log_path.parent,  # a generated API key file would land here, not in the repo
        )
    borne = BorneProcess(proc, int(env["BORNE_OCPP_PORT"]), int(env["BORNE_API_PORT"]), log_path)
    try:
        await _wait_ready(borne)
        yield borne
    finally:
        await borne.terminate()


# --------------------------------------------------------------------------- the station


def _iso(delta_s: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=delta_s)).isoformat()


class Wire:
    """A raw OCPP-J socket: CALLs may be pipelined, answers are matched by message id."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, action: str, payload: dict[str, Any]) -> str:
        mid = str(uuid.uuid4())
        await self.ws.send(json.dumps([2, mid, action, payload]))
        return mid

    async def answers(self, mids: list[str]) -> dict[str, dict[str, Any]]:
        """The CALLRESULT payload of each of ``mids``; a CALLERROR fails the test."""
        wanted, got = set(mids), {}
        async with asyncio.timeout(CALL_TIMEOUT_S):
            while wanted:
                frame = json.loads(await self.ws.recv())
                if frame[0] == 2:  # a call from Borne: nothing here expects one
                    continue
                assert frame[0] == 3, f"CALLERROR {frame}"
                if frame[1] in wanted:
                    wanted.discard(frame[1])
                    got[frame[1]] = frame[2]
        return got

    async def result(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        mid = await self.send(action, payload)
        return (await self.answers([mid]))[mid]


@contextlib.asynccontextmanager
async def station_socket(borne: BorneProcess, station_id: str, version: str) -> AsyncIterator[Wire]:
    ws = await connect(
        borne.ocpp_url(station_id),
        subprotocols=[Subprotocol("ocpp" + version)],
        open_timeout=CALL_TIMEOUT_S,
        close_timeout=1,
    )
    try:
        yield Wire(ws)
    finally:
        with contextlib.suppress(Exception):
            await ws.close()


def _register(wh: int, context: str = "Sample.Periodic") -> dict[str, Any]:
    return {"value": str(wh), "measurand": "Energy.Active.Import.Register", "context": context}


@dataclass
class Expected:
    transaction_id: str
    meter_stop_wh: int
    stop_reason: str
    meter_values_wh: list[int]


async def _session16(borne: BorneProcess, station_id: str) -> Expected:
    """Boot, start, meter values, stop; SIGKILL right after the stop's CALLRESULT."""
    async with station_socket(borne, station_id, "1.6") as wire:
        boot = await wire.result(
            "BootNotification", {"chargePointVendor": "E2E", "chargePointModel": "Crash-16"}
        )
        assert boot["status"] == "Accepted"
        start = await wire.result(
            "StartTransaction",
            {"connectorId": 1, "idTag": TAG, "meterStart": 1000, "timestamp": _iso(-600)},
        )
        tx_id = start["transactionId"]
        sampled = [1000 + 100 * (i + 1) for i in range(METER_MESSAGES)]
        mids = [
            await wire.send(
                "MeterValues",
                {
                    "connectorId": 1,
                    "transactionId": tx_id,
                    "meterValue": [
                        {"timestamp": _iso(-500 + 30 * i), "sampledValue": [_register(wh)]}
                    ],
                },
            )
            for i, wh in enumerate(sampled)
        ]
        stop_wh = sampled[-1] + 500
        stop_mid = await wire.send(
            "StopTransaction",
            {
                "transactionId": tx_id,
                "meterStop": stop_wh,
                "timestamp": _iso(-5),
                "reason": "EVDisconnected",
                "transactionData": [
                    {"timestamp": _iso(-5), "sampledValue": [_register(stop_wh, "Transaction.End")]}
                ],
            },
        )
        await wire.answers([*mids, stop_mid])
        await borne.kill()  # the stop is acknowledged: nothing else may be needed to keep it
    return Expected(str(tx_id), stop_wh, "EVDisconnected", [*sampled, stop_wh])


def _event201(event: str, seq_no: int, tx_id: str, wh: int, at: float) -> dict[str, Any]:
    context = {"Started": "Transaction.Begin", "Ended": "Transaction.End"}.get(
        event, "Sample.Periodic"
    )
    info: dict[str, Any] = {"transactionId": tx_id}
    if event == "Ended":
        info["stoppedReason"] = "EVDisconnected"
    payload: dict[str, Any] = {
        "eventType": event,
        "timestamp": _iso(at),
        "triggerReason": {"Started": "Authorized", "Ended": "EVCommunicationLost"}.get(
            event, "MeterValuePeriodic"
        ),
        "seqNo": seq_no,
        "transactionInfo": info,
        "meterValue": [
            {
                "timestamp": _iso(at),
                "sampledValue": [
                    {"value": wh, "measurand": "Energy.Active.Import.Register", "context": context}
                ],
            }
        ],
    }
    if event == "Started":
        payload["idToken"] = {"idToken": TAG, "type": "ISO14443"}
        payload["evse"] = {"id": 1, "connectorId": 1}
    return payload


async def _session201(borne: BorneProcess, station_id: str) -> Expected:
    tx_id = str(uuid.uuid4())
    async with station_socket(borne, station_id, "2.0.1") as wire:
        boot = await wire.result(
            "BootNotification",
            {"chargingStation": {"vendorName": "E2E", "model": "Crash-201"}, "reason": "PowerUp"},
        )
        assert boot["status"] == "Accepted"
        await wire.result("TransactionEvent", _event201("Started", 0, tx_id, 1000, -600))
        sampled = [1000 + 100 * (i + 1) for i in range(METER_MESSAGES)]
        mids = [
            await wire.send(
                "TransactionEvent", _event201("Updated", i + 1, tx_id, wh, 30 * i - 500)
            )
            for i, wh in enumerate(sampled)
        ]
        stop_wh = sampled[-1] + 500
        stop_mid = await wire.send(
            "TransactionEvent", _event201("Ended", METER_MESSAGES + 1, tx_id, stop_wh, -5)
        )
        await wire.answers([*mids, stop_mid])
        await borne.kill()
    return Expected(tx_id, stop_wh, "EVDisconnected", [1000, *sampled, stop_wh])


# -------------------------------------------------------------------------------- tests


@pytest.fixture
def log_path(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "borne.log"
    yield path
    # the password and the API key must never reach the log, whatever happened (R24, R27)
    if path.exists():
        assert API_KEY not in path.read_text(errors="replace")


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_r16_stop_acknowledged_then_sigkill_survives_restart(
    empty_db_url: str, log_path: Path, version: str
) -> None:
    station_id = f"R16K-{uuid.uuid4().hex[:8]}"
    async with running_borne(empty_db_url, log_path) as borne:
        async with borne.api() as api:
            r = await api.post("/id-tokens", json={"id_token": TAG, "type": "ISO14443"})
            assert r.status_code == 201, r.text
        session = _session16 if version == "1.6" else _session201
        expected = await session(borne, station_id)
        assert borne.proc.returncode == -signal.SIGKILL

    async with running_borne(empty_db_url, log_path) as borne, borne.api() as api:
        r = await api.get("/transactions", params={"station_id": station_id})
        assert r.status_code == 200, r.text
        [tx] = r.json()["items"]
        assert tx["transaction_id"] == expected.transaction_id
        assert tx["state"] == "ended"
        assert tx["stopped_at"] is not None
        assert Decimal(tx["meter_stop_wh"]) == expected.meter_stop_wh
        assert tx["stop_reason"] == expected.stop_reason
        r = await api.get(f"/transactions/{tx['id']}/meter-values")
        assert r.status_code == 200, r.text
        values = r.json()["items"]
        assert [Decimal(v["value"]) for v in values] == expected.meter_values_wh
