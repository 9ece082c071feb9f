"""Shared helpers of the end-to-end OCPP tests: stations driven by the ``ocpp`` package.

- ``Station16`` / ``Station201``: ``ocpp`` ChargePoints that answer every CSMS-initiated call a
  test needs, record what they received (``await cp.received("Reset")``) and answer with
  ``cp.answers[action]`` (default ``{"status": "Accepted"}`` where the action has a status).
- ``connect16`` / ``connect201``: open a WebSocket to Borne's gateway and run the ChargePoint.
- ``RawStation``: a bare WebSocket for tests that control message ids and frames.
- ``create_station`` / ``create_id_token`` and the read helpers: the operator API.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib.util
import json
import sys
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
from ocpp.routing import on
from ocpp.v16 import ChargePoint as CP16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as CP201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol


def _e2e_conftest() -> ModuleType:
    """``tests/e2e/conftest.py`` as a module of its own (conftests are not importable by name:
    every directory's is called ``conftest``)."""
    name = "borne_e2e_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("conftest.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


_conftest = _e2e_conftest()
BorneServer = _conftest.BorneServer
start_server = _conftest.start_server
stop_server = _conftest.stop_server
TIMEOUT = 10
PASSWORD = "correct-horse-battery-1"  # 16 to 40 characters, as OCPP profile 1 wants


def now_iso(delta_s: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=delta_s)).isoformat()


def basic_auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def unique_id(prefix: str = "CP") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# ------------------------------------------------------------------------ the operator API


async def create_station(
    api: httpx.AsyncClient,
    station_id: str,
    *,
    profile: int = 0,
    password: str | None = None,
    registration_status: str = "Accepted",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "station_id": station_id,
        "security_profile": profile,
        "registration_status": registration_status,
    }
    if password is not None:
        body["password"] = password
    r = await api.post("/stations", json=body)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


async def create_id_token(
    api: httpx.AsyncClient,
    id_token: str,
    *,
    status: str = "Accepted",
    expiry_date: datetime | None = None,
    type: str = "ISO14443",
) -> dict[str, Any]:
    body: dict[str, Any] = {"id_token": id_token, "status": status, "type": type}
    if expiry_date is not None:
        body["expiry_date"] = expiry_date.isoformat()
    r = await api.post("/id-tokens", json=body)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


async def get_json(api: httpx.AsyncClient, path: str, **params: Any) -> Any:
    r = await api.get(path, params=params or None)
    assert r.status_code == 200, f"GET {path}: {r.status_code} {r.text}"
    return r.json()


async def station_detail(api: httpx.AsyncClient, station_id: str) -> dict[str, Any]:
    out: dict[str, Any] = await get_json(api, f"/stations/{station_id}")
    return out


async def items(api: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    """The ``items`` of a paged list."""
    page = await get_json(api, path, **params)
    out: list[dict[str, Any]] = page["items"]
    return out


async def transactions_of(api: httpx.AsyncClient, station_id: str) -> list[dict[str, Any]]:
    return await items(api, "/transactions", station_id=station_id)


async def meter_values_of(api: httpx.AsyncClient, tx_pk: int) -> list[dict[str, Any]]:
    return await items(api, f"/transactions/{tx_pk}/meter-values")


async def command(
    api: httpx.AsyncClient, station_id: str, name: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    return await api.post(f"/stations/{station_id}/commands/{name}", json=body or {})


# ------------------------------------------------------------------------- the stations


class _Recorder:
    """What the CSMS asked the station, per action, in arrival order."""

    def _init_recorder(self) -> None:
        self.answers: dict[str, Any] = {}
        self._queues: dict[str, asyncio.Queue[dict[str, Any]]] = defaultdict(asyncio.Queue)
        self.calls: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def _record(self, action: str, payload: dict[str, Any]) -> None:
        self.calls[action].append(payload)
        self._queues[action].put_nowait(payload)

    async def received(self, action: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next request of ``action`` the station received (snake_case keys)."""
        return await asyncio.wait_for(self._queues[action].get(), timeout)

    def answer(self, action: str, default: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = self.answers.get(action, default)
        return out


class Station16(CP16, _Recorder):
    def __init__(self, station_id: str, connection: ClientConnection) -> None:
        super().__init__(station_id, connection, response_timeout=TIMEOUT)
        self._init_recorder()

    async def call(self, payload: Any, suppress: bool = False, **kw: Any) -> Any:
        """A CALLERROR answer raises (the ``ocpp`` default would return None)."""
        return await super().call(payload, suppress=suppress, **kw)

    def _reply(self, action: str, payload: dict[str, Any], default: dict[str, Any]) -> Any:
        self._record(action, payload)
        return getattr(result16, action)(**self.answer(action, default))

    @on("RemoteStartTransaction")
    def on_remote_start(self, **kw: Any) -> Any:
        return self._reply("RemoteStartTransaction", kw, {"status": "Accepted"})

    @on("RemoteStopTransaction")
    def on_remote_stop(self, **kw: Any) -> Any:
        return self._reply("RemoteStopTransaction", kw, {"status": "Accepted"})

    @on("Reset")
    def on_reset(self, **kw: Any) -> Any:
        return self._reply("Reset", kw, {"status": "Accepted"})

    @on("UnlockConnector")
    def on_unlock(self, **kw: Any) -> Any:
        return self._reply("UnlockConnector", kw, {"status": "Unlocked"})

    @on("ChangeAvailability")
    def on_change_availability(self, **kw: Any) -> Any:
        return self._reply("ChangeAvailability", kw, {"status": "Accepted"})

    @on("GetConfiguration")
    def on_get_configuration(self, **kw: Any) -> Any:
        default = {
            "configuration_key": [
                {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
                {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
            ],
            "unknown_key": ["NoSuchKey"],
        }
        return self._reply("GetConfiguration", kw, default)

    @on("ChangeConfiguration")
    def on_change_configuration(self, **kw: Any) -> Any:
        return self._reply("ChangeConfiguration", kw, {"status": "Accepted"})

    @on("TriggerMessage")
    def on_trigger(self, **kw: Any) -> Any:
        return self._reply("TriggerMessage", kw, {"status": "Accepted"})

    @on("ClearCache")
    def on_clear_cache(self, **kw: Any) -> Any:
        return self._reply("ClearCache", kw, {"status": "Accepted"})

    @on("DataTransfer")
    def on_data_transfer(self, **kw: Any) -> Any:
        return self._reply("DataTransfer", kw, {"status": "Accepted", "data": "pong"})

    @on("GetLocalListVersion")
    def on_get_local_list_version(self, **kw: Any) -> Any:
        return self._reply("GetLocalListVersion", kw, {"list_version": 7})

    async def boot(self, vendor: str = "E2E", model: str = "Model-16") -> Any:
        return await self.call(
            call16.BootNotification(
                charge_point_vendor=vendor,
                charge_point_model=model,
                charge_point_serial_number="SN-16",
                firmware_version="1.2.3",
            )
        )


class Station201(CP201, _Recorder):
    def __init__(self, station_id: str, connection: ClientConnection) -> None:
        super().__init__(station_id, connection, response_timeout=TIMEOUT)
        self._init_recorder()

    async def call(self, payload: Any, suppress: bool = False, **kw: Any) -> Any:
        """A CALLERROR answer raises (the ``ocpp`` default would return None)."""
        return await super().call(payload, suppress=suppress, **kw)

    def _reply(self, action: str, payload: dict[str, Any], default: dict[str, Any]) -> Any:
        self._record(action, payload)
        return getattr(result201, action)(**self.answer(action, default))

    @on("RequestStartTransaction")
    def on_request_start(self, **kw: Any) -> Any:
        return self._reply("RequestStartTransaction", kw, {"status": "Accepted"})

    @on("RequestStopTransaction")
    def on_request_stop(self, **kw: Any) -> Any:
        return self._reply("RequestStopTransaction", kw, {"status": "Accepted"})

    @on("Reset")
    def on_reset(self, **kw: Any) -> Any:
        return self._reply("Reset", kw, {"status": "Accepted"})

    @on("UnlockConnector")
    def on_unlock(self, **kw: Any) -> Any:
        return self._reply("UnlockConnector", kw, {"status": "Unlocked"})

    @on("ChangeAvailability")
    def on_change_availability(self, **kw: Any) -> Any:
        return self._reply("ChangeAvailability", kw, {"status": "Accepted"})

    @on("GetVariables")
    def on_get_variables(self, **kw: Any) -> Any:
        results = [
            {
                "attribute_status": "Accepted",
                "attribute_type": "Actual",
                "attribute_value": "300",
                "component": d["component"],
                "variable": d["variable"],
            }
            for d in kw["get_variable_data"]
        ]
        return self._reply("GetVariables", kw, {"get_variable_result": results})

    @on("SetVariables")
    def on_set_variables(self, **kw: Any) -> Any:
        results = [
            {
                "attribute_status": "Accepted",
                "component": d["component"],
                "variable": d["variable"],
            }
            for d in kw["set_variable_data"]
        ]
        return self._reply("SetVariables", kw, {"set_variable_result": results})

    @on("GetBaseReport")
    def on_get_base_report(self, **kw: Any) -> Any:
        return self._reply("GetBaseReport", kw, {"status": "Accepted"})

    @on("TriggerMessage")
    def on_trigger(self, **kw: Any) -> Any:
        return self._reply("TriggerMessage", kw, {"status": "Accepted"})

    @on("ClearCache")
    def on_clear_cache(self, **kw: Any) -> Any:
        return self._reply("ClearCache", kw, {"status": "Accepted"})

    @on("DataTransfer")
    def on_data_transfer(self, **kw: Any) -> Any:
        return self._reply("DataTransfer", kw, {"status": "Accepted", "data": {"pong": 1}})

    @on("GetLocalListVersion")
    def on_get_local_list_version(self, **kw: Any) -> Any:
        return self._reply("GetLocalListVersion", kw, {"version_number": 7})

    async def boot(self, vendor: str = "E2E", model: str = "Model-201") -> Any:
        return await self.call(
            call201.BootNotification(
                charging_station={
                    "vendor_name": vendor,
                    "model": model,
                    "serial_number": "SN-201",
                    "firmware_version": "2.0.1-e2e",
                },
                reason="PowerUp",
            )
        )


def ws_url(server: BorneServer, station_id: str) -> str:
    return f"{server.ocpp_url}/{station_id}"


async def open_ws(
    server: BorneServer, station_id: str, subprotocol: str, password: str | None = None
) -> ClientConnection:
    headers = basic_auth(station_id, password) if password is not None else None
    return await connect(
        ws_url(server, station_id),
        subprotocols=[Subprotocol(subprotocol)],
        additional_headers=headers,
        open_timeout=TIMEOUT,
        close_timeout=2,
    )


@contextlib.asynccontextmanager
async def _run(cp: Any, ws: ClientConnection) -> AsyncIterator[Any]:
    task = asyncio.get_running_loop().create_task(cp.start())
    try:
        yield cp
    finally:
        task.cancel()
        await ws.close()
        await asyncio.gather(task, return_exceptions=True)


@contextlib.asynccontextmanager
async def connect16(
    server: BorneServer, station_id: str, password: str | None = None
) -> AsyncIterator[Station16]:
    ws = await open_ws(server, station_id, "ocpp1.6", password)
    async with _run(Station16(station_id, ws), ws) as cp:
        yield cp


@contextlib.asynccontextmanager
async def connect201(
    server: BorneServer, station_id: str, password: str | None = None
) -> AsyncIterator[Station201]:
    ws = await open_ws(server, station_id, "ocpp2.0.1", password)
    async with _run(Station201(station_id, ws), ws) as cp:
        yield cp


class RawStation:
    """A bare WebSocket: frames are written and read as JSON arrays, message ids chosen."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send_text(self, text: str) -> None:
        await self.ws.send(text)

    async def recv(self, timeout: float = TIMEOUT) -> list[Any]:
        frame: list[Any] = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        return frame

    async def call(
        self, action: str, payload: dict[str, Any], message_id: str | None = None
    ) -> list[Any]:
        """Send a CALL and return the answer (CALLRESULT or CALLERROR) with its message id."""
        mid = message_id or str(uuid.uuid4())
        await self.ws.send(json.dumps([2, mid, action, payload]))
        while True:
            frame = await self.recv()
            if frame[0] in (3, 4) and frame[1] == mid:
                return frame

    async def result(
        self, action: str, payload: dict[str, Any], message_id: str | None = None
    ) -> dict[str, Any]:
        """The CALLRESULT payload; fails on a CALLERROR."""
        frame = await self.call(action, payload, message_id)
        assert frame[0] == 3, f"{action} answered {frame}"
        out: dict[str, Any] = frame[2]
        return out


@contextlib.asynccontextmanager
async def raw_connect(
    server: BorneServer, station_id: str, subprotocol: str, password: str | None = None
) -> AsyncIterator[RawStation]:
    ws = await open_ws(server, station_id, subprotocol, password)
    try:
        yield RawStation(ws)
    finally:
        await ws.close()


BOOT16 = {"chargePointVendor": "E2E", "chargePointModel": "Raw-16"}
BOOT201 = {"chargingStation": {"vendorName": "E2E", "model": "Raw-201"}, "reason": "PowerUp"}
