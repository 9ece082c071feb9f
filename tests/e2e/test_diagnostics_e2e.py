"""Diagnostics end to end: real server, ``ocpp`` ChargePoints over real sockets, uploads with httpx.

The server is Borne as ``bootstrap`` builds it; stations upload to its own ``/uploads`` (the
``public_base_url`` that ``start_server`` derives from the API port), kept under ``tmp_path``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import (
    BorneServer,
    Station16,
    Station201,
    _run,
    create_station,
    get_json,
    now_iso,
    open_ws,
    start_server,
    stop_server,
    unique_id,
)
from ocpp.routing import on
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from sqlalchemy import update

import borne.diagnostics.models as diag_models


@pytest.fixture
async def diag_server(db_url: str, tmp_path: Path) -> AsyncIterator[BorneServer]:
    borne = await start_server(db_url, uploads_dir=str(tmp_path / "uploads"))
    try:
        yield borne
    finally:
        await stop_server(borne)


class Diag16(Station16):
    @on("GetDiagnostics")
    def on_get_diagnostics(self, **kw: Any) -> Any:
        self._record("GetDiagnostics", kw)
        from ocpp.v16 import call_result as result16

        return result16.GetDiagnostics(file_name="diagnostics-16.txt")


class SecurityLog16(Station16):
    """A 1.6 station with the security whitepaper's GetLog (and no GetDiagnostics handler)."""

    @on("GetLog")
    def on_get_log(self, **kw: Any) -> Any:
        return self._reply("GetLog", kw, {"status": "Accepted", "filename": "security.log"})


class Diag201(Station201):
    @on("GetLog")
    def on_get_log(self, **kw: Any) -> Any:
        return self._reply("GetLog", kw, {"status": "Accepted", "filename": "log-201.zip"})

    @on("CustomerInformation")
    def on_customer_information(self, **kw: Any) -> Any:
        return self._reply("CustomerInformation", kw, {"status": "Accepted"})

    @on("SetVariableMonitoring")
    def on_set_variable_monitoring(self, **kw: Any) -> Any:
        self._record("SetVariableMonitoring", kw)
        results = [
            {
                "id": 100 + i,
                "status": "Accepted",
                "type": d["type"],
                "severity": d["severity"],
                "component": d["component"],
                "variable": d["variable"],
            }
            for i, d in enumerate(kw["set_monitoring_data"])
        ]
        return result201.SetVariableMonitoring(set_monitoring_result=results)

    @on("ClearVariableMonitoring")
    def on_clear_variable_monitoring(self, **kw: Any) -> Any:
        self._record("ClearVariableMonitoring", kw)
        results = [{"id": i, "status": "Accepted"} for i in kw["id"]]
        return result201.ClearVariableMonitoring(clear_monitoring_result=results)

    @on("SetMonitoringBase")
    def on_set_monitoring_base(self, **kw: Any) -> Any:
        return self._reply("SetMonitoringBase", kw, {"status": "Accepted"})

    @on("SetMonitoringLevel")
    def on_set_monitoring_level(self, **kw: Any) -> Any:
        return self._reply("SetMonitoringLevel", kw, {"status": "Accepted"})

    @on("GetMonitoringReport")
    def on_get_monitoring_report(self, **kw: Any) -> Any:
        return self._reply("GetMonitoringReport", kw, {"status": "Accepted"})


async def _connect(server: BorneServer, station_id: str, cls: type, proto: str) -> Any:
    ws = await open_ws(server, station_id, proto)
    return _run(cls(station_id, ws), ws)


async def _until(check: Callable[[], Awaitable[bool]], timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def _wait_status(api: httpx.AsyncClient, station_id: str, log_id: int, status: str) -> None:
    async def reached() -> bool:
        log = await get_json(api, f"/stations/{station_id}/logs/{log_id}")
        return bool(log["status"] == status)

    await _until(reached)


async def test_get_diagnostics_16_upload_and_download(diag_server: BorneServer) -> None:
    sid = unique_id("D16")
    content = b"boot ok\nrelay fault at 12:00\n" * 1000
    async with diag_server.api() as api:
        await create_station(api, sid)
        async with await _connect(diag_server, sid, Diag16, "ocpp1.6") as cp:
            await cp.boot()
            r = await api.post(f"/stations/{sid}/logs", json={"retries": 2, "retry_interval": 30})
            assert r.status_code == 201, r.text
            out = r.json()
            assert out["command"]["action"] == "GetDiagnostics"
            assert out["log"]["status"] == "Accepted"
            assert out["log"]["filename"] == "diagnostics-16.txt"
            sent = await cp.received("GetDiagnostics")
            assert sent["retries"] == 2 and sent["retry_interval"] == 30
            location: str = sent["location"]
            assert location.startswith(diag_server.api_url + "/uploads/")
            # The station uploads where it was told: HTTP PUT of location + file name.
            async with httpx.AsyncClient() as station_http:
                up = await station_http.put(location + "diagnostics-16.txt", content=content)
            assert up.status_code == 201, up.text
            await cp.call(call16.DiagnosticsStatusNotification(status="Uploading"))
            await cp.call(call16.DiagnosticsStatusNotification(status="Uploaded"))
            log_id = out["log"]["id"]
            await _wait_status(api, sid, log_id, "Uploaded")
            log = await get_json(api, f"/stations/{sid}/logs/{log_id}")
            assert log["file"]["size"] == len(content)
            assert log["file"]["filename"] == "diagnostics-16.txt"
            dl = await api.get(f"/stations/{sid}/logs/{log_id}/file")
            assert dl.status_code == 200
            assert dl.content == content
            listed = await get_json(api, f"/stations/{sid}/logs")
            assert [x["id"] for x in listed["items"]] == [log_id]
            # The operator deletes the file; the request and its status stay.
            assert (await api.delete(f"/stations/{sid}/logs/{log_id}/file")).status_code == 204
            assert (await api.get(f"/stations/{sid}/logs/{log_id}/file")).status_code == 404
            log = await get_json(api, f"/stations/{sid}/logs/{log_id}")
            assert log["file"] is None and log["status"] == "Uploaded"
            assert (await api.delete(f"/stations/{sid}/logs/{log_id}/file")).status_code == 404


async def test_get_log_201_multipart_upload_and_download(diag_server: BorneServer) -> None:
    sid = unique_id("D201")
    content = bytes(range(256)) * 300
    async with diag_server.api() as api:
        await create_station(api, sid)
        async with await _connect(diag_server, sid, Diag201, "ocpp2.0.1") as cp:
            await cp.boot()
            body = {
                "log_type": "SecurityLog",
                "oldest_timestamp": now_iso(-3600),
                "latest_timestamp": now_iso(),
            }
            r = await api.post(f"/stations/{sid}/logs", json=body)
            assert r.status_code == 201, r.text
            out = r.json()
            assert out["command"]["action"] == "GetLog"
            assert out["log"]["filename"] == "log-201.zip"
            sent = await cp.received("GetLog")
            assert sent["log_type"] == "SecurityLog"
            assert sent["request_id"] == out["log"]["request_id"]
            assert sent["log"]["oldest_timestamp"]
            location = sent["log"]["remote_location"]
            # HTTP POST, multipart/form-data, to the location itself.
            async with httpx.AsyncClient() as station_http:
                files = {"file": ("log-201.zip", content, "application/zip")}
                up = await station_http.post(location, files=files, data={"note": "x"})
            assert up.status_code == 201, up.text
            rid = sent["request_id"]
            await cp.call(call201.LogStatusNotification(status="Uploading", request_id=rid))
            await cp.call(call201.LogStatusNotification(status="Uploaded", request_id=rid))
            log_id = out["log"]["id"]
            await _wait_status(api, sid, log_id, "Uploaded")
            dl = await api.get(f"/stations/{sid}/logs/{log_id}/file")
            assert dl.status_code == 200
            assert dl.content == content
            log = await get_json(api, f"/stations/{sid}/logs/{log_id}")
            assert log["file"]["content_type"] == "application/zip"


async def test_upload_with_wrong_or_expired_token_is_refused(diag_server: BorneServer) -> None:
    sid = unique_id("DTOK")
    async with diag_server.api() as api:
        await create_station(api, sid)
        async with await _connect(diag_server, sid, Diag201, "ocpp2.0.1") as cp:
            await cp.boot()
            r = await api.post(f"/stations/{sid}/logs", json={})
            assert r.status_code == 201, r.text
            location = (await cp.received("GetLog"))["log"]["remote_location"]
            log_id = r.json()["log"]["id"]
        async with httpx.AsyncClient() as http:
            wrong = await http.put(diag_server.api_url + "/uploads/not-a-token/x.log", content=b"x")
            assert wrong.status_code == 403
            # The operator API key does not open uploads either, nor the API to stations.
            assert (
                await http.get(f"{diag_server.api_url}/api/v1/stations/{sid}/logs")
            ).status_code == 401
            # Expire the token.
            async with diag_server.runtime.deps.db.unit_of_work() as uow:
                await uow.session.execute(
                    update(diag_models.LogRequest)
                    .where(diag_models.LogRequest.id == log_id)
                    .values(token_expires_at=datetime.now(UTC) - timedelta(seconds=1))
                )
                await uow.commit()
            expired = await http.put(location + "late.log", content=b"late")
            assert expired.status_code == 403
        dl = await api.get(f"/stations/{sid}/logs/{log_id}/file")
        assert dl.status_code == 404


async def test_notify_event_stored_and_listed(diag_server: BorneServer) -> None:
    sid = unique_id("DEV")
    async with diag_server.api() as api:
        await create_station(api, sid)
        async with await _connect(diag_server, sid, Diag201, "ocpp2.0.1") as cp:
            await cp.boot()
            event = {
                "event_id": 7,
                "timestamp": now_iso(),
                "trigger": "Alerting",
                "actual_value": "87.5",
                "tech_code": "OVERTEMP",
                "tech_info": "sensor 2",
                "cleared": False,
                "component": {"name": "EVSE", "evse": {"id": 1}},
                "variable": {"name": "Temperature"},
                "variable_monitoring_id": 100,
                "event_notification_type": "CustomMonitor",
            }
            periodic = {
                **event,
                "event_id": 8,
                "trigger": "Periodic",
                "tech_code": None,
                "variable_monitoring_id": None,
                "event_notification_type": "HardWiredNotification",
                "variable": {"name": "Power"},
                "actual_value": "7000",
            }
            periodic = {k: v for k, v in periodic.items() if v is not None}
            await cp.call(
                call201.NotifyEvent(generated_at=now_iso(), seq_no=0, event_data=[event, periodic])
            )
            alerts = await get_json(api, f"/stations/{sid}/events", trigger="Alerting")
            assert alerts["total"] == 1
            got = alerts["items"][0]
            assert got["actual_value"] == "87.5"
            assert got["tech_code"] == "OVERTEMP"
            assert got["component"] == "EVSE" and got["evse_id"] == 1
            assert got["variable"] == "Temperature"
            assert got["cleared"] is False
            everything = await get_json(api, "/station-events", station_id=sid)
            assert everything["total"] == 2
            hard = await get_json(api, "/station-events", station_id=sid, from_monitor="false")
            assert [e["event_id"] for e in hard["items"]] == [8]


async def test_variable_monitoring_round_trip(diag_server: BorneServer) -> None:
    sid = unique_id("DMON")
    async with diag_server.api() as api:
        await create_station(api, sid)
        async with await _connect(diag_server, sid, Diag201, "ocpp2.0.1") as cp:
            await cp.boot()
            body = {
                "monitors": [
                    {
                        "component": "EVSE",
                        "evse_id": 1,
                        "variable": "Temperature",
                        "type": "UpperThreshold",
                        "value": 80,
                        "severity": 2,
                    }
                ]
            }
            r = await api.post(f"/stations/{sid}/monitoring/monitors", json=body)
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "Accepted"
            assert r.json()["results"][0]["id"] == 100
            sent = await cp.received("SetVariableMonitoring")
            assert sent["set_monitoring_data"][0]["component"] == {
                "name": "EVSE",
                "evse": {"id": 1},
            }
            mon = await get_json(api, f"/stations/{sid}/monitoring")
            assert [(m["monitor_id"], m["value"], m["source"]) for m in mon["monitors"]] == [
                (100, 80.0, "set")
            ]
            r = await api.post(f"/stations/{sid}/monitoring/base", json={"monitoring_base": "All"})
            assert r.status_code == 200 and r.json()["status"] == "Accepted"
            r = await api.post(f"/stations/{sid}/monitoring/level", json={"severity": 4})
            assert r.status_code == 200 and r.json()["status"] == "Accepted"
            r = await api.post(
                f"/stations/{sid}/monitoring/report", json={"criteria": ["ThresholdMonitoring"]}
            )
            assert r.status_code == 200, r.text
            rid = r.json()["request_id"]
            assert (await cp.received("GetMonitoringReport"))["request_id"] == rid
            await cp.call(
                call201.NotifyMonitoringReport(
                    request_id=rid,
                    seq_no=0,
                    generated_at=now_iso(),
                    monitor=[
                        {
                            "component": {"name": "ChargingStation"},
                            "variable": {"name": "Power"},
                            "variable_monitoring": [
                                {
                                    "id": 5,
                                    "transaction": False,
                                    "value": 1000,
                                    "type": "Delta",
                                    "severity": 8,
                                }
                            ],
                        }
                    ],
                )
            )
            mon = await get_json(api, f"/stations/{sid}/monitoring")
            assert mon["monitoring_base"] == "All" and mon["monitoring_level"] == 4
            assert sorted(m["monitor_id"] for m in mon["monitors"]) == [5, 100]
            r = await api.post(f"/stations/{sid}/monitoring/clear", json={"ids": [100]})
            assert r.status_code == 200 and r.json()["results"] == [
                {"id": 100, "status": "Accepted", "reason": None, "reason_info": None}
            ]
            mon = await get_json(api, f"/stations/{sid}/monitoring")
            assert [m["monitor_id"] for m in mon["monitors"]] == [5]


async def test_customer_information_with_parts(diag_server: BorneServer) -> None:
    sid = unique_id("DCI")
    async with diag_server.api() as api:
        await create_station(api, sid)
        async with await _connect(diag_server, sid, Diag201, "ocpp2.0.1") as cp:
            await cp.boot()
            body = {"report": True, "clear": True, "id_token": "TAG-1", "id_token_type": "ISO14443"}
            r = await api.post(f"/stations/{sid}/customer-information", json=body)
            assert r.status_code == 201, r.text
            out = r.json()
            assert out["command"]["status"] == "Accepted"
            pk = out["customer_information"]["id"]
            sent = await cp.received("CustomerInformation")
            assert sent["id_token"] == {"id_token": "TAG-1", "type": "ISO14443"}
            rid = sent["request_id"]
            for seq, (data, tbc) in enumerate([("sessions: 3; ", True), ("last: today", False)]):
                await cp.call(
                    call201.NotifyCustomerInformation(
                        data=data, seq_no=seq, generated_at=now_iso(), request_id=rid, tbc=tbc
                    )
                )
            got = await get_json(api, f"/stations/{sid}/customer-information/{pk}")
            assert got["complete"] is True
            assert got["data"] == "sessions: 3; last: today"
            assert [p["seq_no"] for p in got["parts"]] == [0, 1]
            bad = await api.post(f"/stations/{sid}/customer-information", json={"report": True})
            assert bad.status_code == 422


async def test_get_log_16_security_whitepaper(diag_server: BorneServer) -> None:
    sid = unique_id("DSEC")
    async with diag_server.api() as api:
        await create_station(api, sid)
        async with await _connect(diag_server, sid, SecurityLog16, "ocpp1.6") as cp:
            await cp.boot()
            r = await api.post(f"/stations/{sid}/logs", json={"log_type": "SecurityLog"})
            assert r.status_code == 201, r.text
            out = r.json()
            assert out["command"]["action"] == "GetLog"
            sent = await cp.received("GetLog")
            async with httpx.AsyncClient() as station_http:
                up = await station_http.put(
                    sent["log"]["remote_location"] + "security.log", content=b"sec events"
                )
            assert up.status_code == 201
            rid = sent["request_id"]
            await cp.call(call16.LogStatusNotification(status="Uploaded", request_id=rid))
            await _wait_status(api, sid, out["log"]["id"], "Uploaded")
            dl = await api.get(f"/stations/{sid}/logs/{out['log']['id']}/file")
            assert dl.content == b"sec events"
            # This station has no GetDiagnostics: its CALLERROR is a 502, the request CallFailed.
            r = await api.post(f"/stations/{sid}/logs", json={"action": "GetDiagnostics"})
            assert r.status_code == 502, r.text
            logs = await get_json(api, f"/stations/{sid}/logs")
            assert logs["items"][0]["status"] == "CallFailed"
            # Monitoring is 2.0.1 only.
            r = await api.post(f"/stations/{sid}/monitoring/level", json={"severity": 3})
            assert r.status_code == 422


async def test_version_mismatches_and_offline_station(diag_server: BorneServer) -> None:
    sid = unique_id("DVER")
    async with diag_server.api() as api:
        await create_station(api, sid)
        r = await api.post(f"/stations/{sid}/logs", json={})
        assert r.status_code == 409  # not connected: nothing stored
        assert (await get_json(api, f"/stations/{sid}/logs"))["total"] == 0
        async with await _connect(diag_server, sid, Diag201, "ocpp2.0.1") as cp:
            await cp.boot()
            r = await api.post(f"/stations/{sid}/logs", json={"action": "GetDiagnostics"})
            assert r.status_code == 422
            assert (await api.get(f"/stations/{sid}/logs/999999/file")).status_code == 404
