"""Device model (2.0.1) and configuration (1.6), end to end: ``ocpp`` ChargePoints over real
sockets against the real server, driven through the operator API.

- 2.0.1: GetBaseReport answered, then NotifyReport parts (tbc true/false) stored with
  characteristics and attributes; a second FullInventory replaces the model; GetReport with
  criteria and componentVariable merges; SetVariables (Accepted) and GetVariables update the
  stored values; a refused SetVariables leaves them alone.
- 1.6: GetConfiguration snapshot, ChangeConfiguration Accepted updates it, Rejected does not.
- Refresh after boot (opt-in).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from helpers import (
    BorneServer,
    Station201,
    connect16,
    create_station,
    get_json,
    open_ws,
    start_server,
    stop_server,
    unique_id,
)
from ocpp.routing import after, on
from ocpp.v201 import call as call201

WAIT_S = 10.0


@pytest.fixture
async def borne(db_url: str) -> AsyncIterator[BorneServer]:
    server = await start_server(db_url)
    try:
        yield server
    finally:
        await stop_server(server)


async def eventually(check: Callable[[], Any], timeout: float = WAIT_S) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await check()
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)


# ------------------------------------------------------------------------ the 2.0.1 station


def _rd(component: str, variable: str, value: str, **extra: Any) -> dict[str, Any]:
    comp: dict[str, Any] = {"name": component}
    if "evse" in extra:
        comp["evse"] = extra.pop("evse")
    attrs = extra.pop("attrs", None) or [
        {"type": "Actual", "value": value, "mutability": "ReadWrite", "persistent": True}
    ]
    out: dict[str, Any] = {
        "component": comp,
        "variable": {"name": variable},
        "variable_attribute": attrs,
    }
    if extra:
        out["variable_characteristics"] = extra
    return out


FULL = [
    [
        _rd(
            "OCPPCommCtrlr",
            "HeartbeatInterval",
            "300",
            attrs=[
                {"type": "Actual", "value": "300", "mutability": "ReadWrite", "persistent": True},
                {"type": "MaxSet", "value": "3600", "mutability": "ReadOnly", "constant": True},
            ],
            data_type="integer",
            unit="s",
            min_limit=1,
            max_limit=3600,
            supports_monitoring=False,
        ),
        _rd("AuthCtrlr", "Enabled", "true", data_type="boolean", supports_monitoring=True),
    ],
    [
        _rd(
            "Connector",
            "ConnectorType",
            "cType2",
            evse={"id": 1, "connector_id": 1},
            data_type="OptionList",
            values_list="cType2,cCCS2",
            supports_monitoring=False,
        ),
        _rd(
            "SecurityCtrlr",
            "BasicAuthPassword",
            "",
            attrs=[{"type": "Actual", "value": "secret-never-kept", "mutability": "WriteOnly"}],
            data_type="string",
            supports_monitoring=False,
        ),
    ],
]


class ReportingStation(Station201):
    """Answers GetBaseReport / GetReport, then sends the report as NotifyReport parts."""

    full: list[list[dict[str, Any]]] = FULL
    criteria_report: list[dict[str, Any]] = []

    async def _send_parts(self, request_id: int, parts: list[list[dict[str, Any]]]) -> None:
        for seq, data in enumerate(parts):
            await self.call(
                call201.NotifyReport(
                    request_id=request_id,
                    generated_at=datetime.now(UTC).isoformat(),
                    seq_no=seq,
                    tbc=seq < len(parts) - 1,
                    report_data=data,
                )
            )

    @after("GetBaseReport")
    async def after_base_report(self, request_id: int, report_base: str, **_: Any) -> None:
        await self._send_parts(request_id, self.full)

    @on("GetReport")
    def on_get_report(self, **kw: Any) -> Any:
        return self._reply("GetReport", kw, {"status": "Accepted"})

    @after("GetReport")
    async def after_get_report(self, request_id: int, **_: Any) -> None:
        await self._send_parts(request_id, [self.criteria_report])


@contextlib.asynccontextmanager
async def connect_reporting(server: BorneServer, station_id: str) -> AsyncIterator[Any]:
    ws = await open_ws(server, station_id, "ocpp2.0.1")
    cp = ReportingStation(station_id, ws)
    task = asyncio.get_running_loop().create_task(cp.start())
    try:
        yield cp
    finally:
        task.cancel()
        await ws.close()
        await asyncio.gather(task, return_exceptions=True)


async def device_model(
    api: httpx.AsyncClient, sid: str, **params: Any
) -> dict[tuple[Any, ...], Any]:
    page = await get_json(api, f"/stations/{sid}/device-model", limit=500, **params)
    return {(v["component"], v["evse_id"], v["variable"]): v for v in page["items"]}


def attrs(var: dict[str, Any]) -> dict[str, Any]:
    return {a["type"]: a for a in var["attributes"]}


async def report_complete(api: httpx.AsyncClient, sid: str, request_id: int) -> dict[str, Any]:
    async def check() -> dict[str, Any]:
        page = await get_json(api, f"/stations/{sid}/device-model/reports")
        found = [r for r in page["items"] if r["request_id"] == request_id]
        assert found and found[0]["status"] == "Complete", found
        out: dict[str, Any] = found[0]
        return out

    out: dict[str, Any] = await eventually(check)
    return out


async def test_v201_base_report_get_report_and_variables(borne: BorneServer) -> None:
    sid = unique_id("DM201")
    async with borne.api() as api:
        await create_station(api, sid)
        async with connect_reporting(borne, sid) as cp:
            await cp.boot()
            r = await api.post(
                f"/stations/{sid}/device-model/refresh", json={"report_base": "FullInventory"}
            )
            assert r.status_code == 200, r.text
            assert r.json()["action"] == "GetBaseReport" and r.json()["status"] == "Accepted"
            rid = r.json()["request_id"]
            assert (await cp.received("GetBaseReport"))["report_base"] == "FullInventory"
            report = await report_complete(api, sid, rid)
            assert (report["kind"], report["parts"], report["variables"]) == ("FullInventory", 2, 4)

            dm = await device_model(api, sid)
            assert len(dm) == 4
            hb = dm[("OCPPCommCtrlr", None, "HeartbeatInterval")]
            assert (hb["data_type"], hb["unit"], hb["min_limit"], hb["max_limit"]) == (
                "integer",
                "s",
                1,
                3600,
            )
            assert attrs(hb)["Actual"]["value"] == "300" and attrs(hb)["Actual"]["persistent"]
            assert attrs(hb)["MaxSet"]["constant"] is True
            conn = dm[("Connector", 1, "ConnectorType")]
            assert (conn["connector_id"], conn["values_list"]) == (1, "cType2,cCCS2")
            pwd = dm[("SecurityCtrlr", None, "BasicAuthPassword")]
            assert attrs(pwd)["Actual"]["value"] is None  # WriteOnly: never kept

            # GetReport with criteria and a componentVariable: merged into the model.
            cp.criteria_report = [
                _rd("AuthCtrlr", "Enabled", "false", data_type="boolean", supports_monitoring=True),
                _rd(
                    "EVSE",
                    "Available",
                    "true",
                    evse={"id": 1},
                    data_type="boolean",
                    supports_monitoring=True,
                ),
            ]
            r = await api.post(
                f"/stations/{sid}/device-model/refresh",
                json={
                    "criteria": ["Available", "Problem"],
                    "components": [{"component": "EVSE", "evse_id": 1}],
                },
            )
            assert r.status_code == 200, r.text
            assert r.json()["action"] == "GetReport"
            sent = await cp.received("GetReport")
            assert sent["component_criteria"] == ["Available", "Problem"]
            assert sent["component_variable"] == [
                {"component": {"name": "EVSE", "evse": {"id": 1}}}
            ]
            await report_complete(api, sid, r.json()["request_id"])
            dm = await device_model(api, sid)
            assert len(dm) == 5  # merged: nothing removed
            assert attrs(dm[("AuthCtrlr", None, "Enabled")])["Actual"]["value"] == "false"
            only_evse = await device_model(api, sid, component="EVSE", evse_id=1)
            assert list(only_evse) == [("EVSE", 1, "Available")]

            # SetVariables: an Accepted value is stored, a Rejected one is not.
            body = {
                "variables": [
                    {"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval", "value": "120"},
                    {"component": "AuthCtrlr", "variable": "Enabled", "value": "true"},
                ]
            }
            cp.answers["SetVariables"] = {
                "set_variable_result": [
                    {
                        "attribute_status": "Accepted",
                        "component": {"name": "OCPPCommCtrlr"},
                        "variable": {"name": "HeartbeatInterval"},
                    },
                    {
                        "attribute_status": "Rejected",
                        "component": {"name": "AuthCtrlr"},
                        "variable": {"name": "Enabled"},
                    },
                ]
            }
            r = await api.put(f"/stations/{sid}/device-model/variables", json=body)
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "Partial"
            await cp.received("SetVariables")
            dm = await device_model(api, sid)
            hb_actual = attrs(dm[("OCPPCommCtrlr", None, "HeartbeatInterval")])["Actual"]
            assert (hb_actual["value"], hb_actual["source"]) == ("120", "set")
            assert attrs(dm[("AuthCtrlr", None, "Enabled")])["Actual"]["value"] == "false"

            # The station's password is never set this way (rotation owns it).
            r = await api.put(
                f"/stations/{sid}/device-model/variables",
                json={
                    "variables": [
                        {
                            "component": "SecurityCtrlr",
                            "variable": "BasicAuthPassword",
                            "value": "x" * 20,
                        }
                    ]
                },
            )
            assert r.status_code == 422

            # GetVariables: the station's values are stored (the helper station answers "300").
            r = await api.post(
                f"/stations/{sid}/device-model/variables/read",
                json={
                    "variables": [{"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval"}]
                },
            )
            assert r.status_code == 200, r.text
            dm = await device_model(api, sid)
            hb_actual = attrs(dm[("OCPPCommCtrlr", None, "HeartbeatInterval")])["Actual"]
            assert (hb_actual["value"], hb_actual["source"]) == ("300", "get")

            # A new full inventory replaces the model once its last part is in.
            cp.full = [FULL[0]]
            r = await api.post(
                f"/stations/{sid}/device-model/refresh", json={"report_base": "FullInventory"}
            )
            await report_complete(api, sid, r.json()["request_id"])
            assert set(await device_model(api, sid)) == {
                ("OCPPCommCtrlr", None, "HeartbeatInterval"),
                ("AuthCtrlr", None, "Enabled"),
            }
            # The 1.6 configuration endpoints refuse a 2.0.1 station.
            r = await api.post(f"/stations/{sid}/configuration/refresh", json={})
            assert r.status_code == 422


# ------------------------------------------------------------------------------- 1.6


async def test_v16_configuration_snapshot_and_change(borne: BorneServer) -> None:
    sid = unique_id("DM16")
    async with borne.api() as api:
        await create_station(api, sid)
        r = await api.get(f"/stations/{sid}/configuration")
        assert r.status_code == 200 and r.json()["keys"] == []
        assert r.json()["refreshed_at"] is None
        async with connect16(borne, sid) as cp:
            await cp.boot()
            r = await api.post(f"/stations/{sid}/configuration/refresh", json={})
            assert r.status_code == 200, r.text
            assert r.json()["unknown_keys"] == ["NoSuchKey"]
            snap = await get_json(api, f"/stations/{sid}/configuration")
            assert snap["refreshed_at"] is not None
            keys = {k["key"]: (k["value"], k["readonly"]) for k in snap["keys"]}
            assert keys == {"HeartbeatInterval": ("300", False), "NumberOfConnectors": ("2", True)}

            r = await api.put(
                f"/stations/{sid}/configuration/HeartbeatInterval", json={"value": "120"}
            )
            assert r.status_code == 200 and r.json()["status"] == "Accepted", r.text
            assert (await cp.received("ChangeConfiguration")) == {
                "key": "HeartbeatInterval",
                "value": "120",
            }
            cp.answers["ChangeConfiguration"] = {"status": "Rejected"}
            r = await api.put(
                f"/stations/{sid}/configuration/NumberOfConnectors", json={"value": "4"}
            )
            assert r.status_code == 200 and r.json()["status"] == "Rejected"
            snap = await get_json(api, f"/stations/{sid}/configuration")
            keys = {k["key"]: (k["value"], k["source"]) for k in snap["keys"]}
            assert keys == {
                "HeartbeatInterval": ("120", "change"),
                "NumberOfConnectors": ("2", "get"),
            }
            r = await api.put(
                f"/stations/{sid}/configuration/AuthorizationKey", json={"value": "0" * 16}
            )
            assert r.status_code == 422  # credentials change through rotation only
            # The device-model refresh refuses a 1.6 station.
            r = await api.post(
                f"/stations/{sid}/device-model/refresh", json={"report_base": "FullInventory"}
            )
            assert r.status_code == 422
        r = await api.get("/stations/NOPE-404/configuration")
        assert r.status_code == 404
        r = await api.post(f"/stations/{sid}/configuration/refresh", json={})
        assert r.status_code == 409  # no longer connected


async def test_refresh_after_boot(db_url: str) -> None:
    server = await start_server(
        db_url, device_model_refresh_on_boot=True, device_model_boot_delay_s=0.05
    )
    try:
        sid16, sid201 = unique_id("BOOT16"), unique_id("BOOT201")
        async with server.api() as api:
            await create_station(api, sid16)
            await create_station(api, sid201)
            async with connect16(server, sid16) as cp16, connect_reporting(server, sid201) as cp:
                await cp16.boot()
                await cp.boot()
                await cp16.received("GetConfiguration")
                assert (await cp.received("GetBaseReport"))["report_base"] == "FullInventory"

                async def configured() -> None:
                    snap = await get_json(api, f"/stations/{sid16}/configuration")
                    assert len(snap["keys"]) == 2

                async def modelled() -> None:
                    assert len(await device_model(api, sid201)) == 4

                await eventually(configured)
                await eventually(modelled)
                # Fresh now: a reboot does not ask again.
                await cp16.boot()
                await asyncio.sleep(0.3)
                assert len(cp16.calls["GetConfiguration"]) == 1
    finally:
        await stop_server(server)
