"""Borne as an OCPP 2.0.1 CSMS, end to end: the ``ocpp`` package's ChargePoint on a real socket,
the operator API over HTTP. Each test runs on every database backend (``db_url``)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from helpers import (
    BOOT201,
    PASSWORD,
    BorneServer,
    command,
    connect201,
    create_id_token,
    create_station,
    get_json,
    items,
    meter_values_of,
    now_iso,
    raw_connect,
    start_server,
    station_detail,
    stop_server,
    transactions_of,
    unique_id,
)
from ocpp.exceptions import SecurityError
from ocpp.v201 import call as call201


async def _station(server: BorneServer, **kw: Any) -> str:
    station_id = unique_id("CS201")
    async with server.api() as api:
        await create_station(api, station_id, **kw)
    return station_id


def energy(wh: float, context: str | None = None) -> dict[str, Any]:
    sv: dict[str, Any] = {
        "value": wh,
        "measurand": "Energy.Active.Import.Register",
        "unit_of_measure": {"unit": "Wh"},
    }
    if context is not None:
        sv["context"] = context
    return sv


def tx_event(
    event_type: str,
    seq_no: int,
    transaction_id: str,
    trigger: str,
    *,
    at: float,
    samples: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> call201.TransactionEvent:
    info: dict[str, Any] = {"transaction_id": transaction_id}
    info.update(extra.pop("info", {}))
    return call201.TransactionEvent(
        event_type=event_type,
        timestamp=now_iso(at),
        trigger_reason=trigger,
        seq_no=seq_no,
        transaction_info=info,
        meter_value=None
        if samples is None
        else [{"timestamp": now_iso(at), "sampled_value": samples}],
        **extra,
    )


# ------------------------------------------------------------------ station-initiated calls


async def test_boot_accepted_heartbeat_and_status_are_visible(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server)
    async with connect201(borne_server, station_id) as cp, borne_server.api() as api:
        boot = await cp.boot(vendor="Acme", model="Fast-201")
        assert boot.status == "Accepted"
        assert boot.interval == 300
        beat = await cp.call(call201.Heartbeat())
        assert datetime.fromisoformat(beat.current_time) > datetime.now(UTC) - timedelta(minutes=1)
        for at, status in ((-2, "Available"), (-1, "Occupied")):
            await cp.call(
                call201.StatusNotification(
                    timestamp=now_iso(at), connector_status=status, evse_id=1, connector_id=2
                )
            )

        detail = await station_detail(api, station_id)
        assert detail["connected"] is True
        assert detail["ocpp_version"] == "ocpp2.0.1"
        assert detail["last_boot_status"] == "Accepted"
        assert detail["last_boot_reason"] == "PowerUp"
        assert (detail["vendor"], detail["model"]) == ("Acme", "Fast-201")
        assert detail["firmware_version"] == "2.0.1-e2e"
        assert detail["last_heartbeat_at"] is not None
        [connector] = detail["connectors"]
        assert (connector["evse_id"], connector["connector_id"]) == (1, 2)
        assert connector["status"] == "Occupied"

        history = await items(api, f"/stations/{station_id}/status-history", evse_id=1)
        assert [h["status"] for h in history] == ["Occupied", "Available"]


async def test_boot_pending_then_other_calls_refused(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server, registration_status="Pending")
    async with connect201(borne_server, station_id) as cp, borne_server.api() as api:
        boot = await cp.boot()
        assert boot.status == "Pending"
        with pytest.raises(SecurityError):
            await cp.call(call201.Heartbeat())
        detail = await station_detail(api, station_id)
        assert detail["last_boot_status"] == "Pending"
        assert detail["last_heartbeat_at"] is None


async def test_boot_rejected(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server, registration_status="Rejected")
    async with connect201(borne_server, station_id) as cp, borne_server.api() as api:
        boot = await cp.boot()
        assert boot.status == "Rejected"
        with pytest.raises(SecurityError):
            await cp.call(call201.Heartbeat())
        detail = await station_detail(api, station_id)
        assert detail["last_boot_status"] == "Rejected"


async def test_profile_1_station_with_password_boots(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server, profile=1, password=PASSWORD)
    async with connect201(borne_server, station_id, password=PASSWORD) as cp:
        boot = await cp.boot()
        assert boot.status == "Accepted"
    async with borne_server.api() as api:
        detail = await station_detail(api, station_id)
        assert (detail["security_profile"], detail["has_password"]) == (1, True)


async def test_authorize_answers(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server)
    async with borne_server.api() as api:
        await create_id_token(api, "TOKEN-OK")
        await create_id_token(api, "TOKEN-BLOCKED", status="Blocked")
        await create_id_token(api, "TOKEN-OLD", expiry_date=datetime.now(UTC) - timedelta(days=1))
    async with connect201(borne_server, station_id) as cp:
        await cp.boot()
        answers = {}
        for token in ("TOKEN-OK", "TOKEN-BLOCKED", "TOKEN-UNKNOWN", "TOKEN-OLD"):
            answer = await cp.call(
                call201.Authorize(id_token={"id_token": token, "type": "ISO14443"})
            )
            answers[token] = answer.id_token_info["status"]
    assert answers == {
        "TOKEN-OK": "Accepted",
        "TOKEN-BLOCKED": "Blocked",
        "TOKEN-UNKNOWN": "Invalid",
        "TOKEN-OLD": "Expired",
    }


async def test_transaction_events_with_meter_values_are_billed(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server)
    tx_id = "tx-" + unique_id("e2e")
    async with borne_server.api() as api:
        await create_id_token(api, "TOKEN-TX")
    async with connect201(borne_server, station_id) as cp, borne_server.api() as api:
        await cp.boot()
        started = await cp.call(
            tx_event(
                "Started",
                0,
                tx_id,
                "Authorized",
                at=-60,
                samples=[energy(5000, "Transaction.Begin")],
                evse={"id": 1, "connector_id": 1},
                id_token={"id_token": "TOKEN-TX", "type": "ISO14443"},
                info={"charging_state": "EVConnected"},
            )
        )
        assert started.id_token_info["status"] == "Accepted"
        [active] = await transactions_of(api, station_id)
        assert (active["state"], active["transaction_id"]) == ("active", tx_id)
        assert active["charging_state"] == "EVConnected"

        for seq, (at, wh) in enumerate(((-40, 5600), (-20, 6400.25)), start=1):
            await cp.call(
                tx_event(
                    "Updated",
                    seq,
                    tx_id,
                    "MeterValuePeriodic",
                    at=at,
                    samples=[energy(wh, "Sample.Periodic")],
                    info={"charging_state": "Charging"},
                )
            )
        detail = await get_json(api, f"/transactions/{active['id']}")
        assert detail["charging_state"] == "Charging"
        assert Decimal(detail["energy_wh"]) == Decimal("1400.25")  # still charging

        # a MeterValues outside the transaction messages is acknowledged too
        await cp.call(
            call201.MeterValues(
                evse_id=1,
                meter_value=[{"timestamp": now_iso(-10), "sampled_value": [energy(6500)]}],
            )
        )

        await cp.call(
            tx_event(
                "Ended",
                3,
                tx_id,
                "EVCommunicationLost",
                at=-1,
                samples=[energy(7000, "Transaction.End")],
                info={"stopped_reason": "EVDisconnected"},
            )
        )

        [done] = await transactions_of(api, station_id)
        assert done["state"] == "ended"
        assert done["stop_reason"] == "EVDisconnected"
        assert (done["evse_id"], done["connector_id"], done["id_token"]) == (1, 1, "TOKEN-TX")
        detail = await get_json(api, f"/transactions/{done['id']}")
        assert Decimal(detail["meter_start_wh"]) == 5000
        assert Decimal(detail["meter_stop_wh"]) == 7000
        assert Decimal(detail["energy_wh"]) == 2000
        values = await meter_values_of(api, done["id"])
        assert [Decimal(v["value"]) for v in values] == [5000, 5600, Decimal("6400.25"), 7000]
        assert [v["context"] for v in values] == [
            "Transaction.Begin",
            "Sample.Periodic",
            "Sample.Periodic",
            "Transaction.End",
        ]


async def test_data_transfer_from_unknown_vendor(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server)
    async with connect201(borne_server, station_id) as cp, borne_server.api() as api:
        await cp.boot()
        answer = await cp.call(
            call201.DataTransfer(vendor_id="com.example.nobody", message_id="Hi", data={"a": 1})
        )
        assert answer.status == "UnknownVendorId"
        [stored] = await items(api, f"/stations/{station_id}/data-transfers")
        assert (stored["vendor_id"], stored["message_id"]) == ("com.example.nobody", "Hi")
        assert stored["response_status"] == "UnknownVendorId"


async def test_security_firmware_and_log_notifications(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server)
    async with connect201(borne_server, station_id) as cp, borne_server.api() as api:
        await cp.boot()
        await cp.call(
            call201.SecurityEventNotification(
                type="TamperDetectionActivated", timestamp=now_iso(), tech_info="lid open"
            )
        )
        await cp.call(call201.FirmwareStatusNotification(status="Installed", request_id=5))
        await cp.call(call201.LogStatusNotification(status="Uploaded", request_id=6))

        events = await items(api, f"/stations/{station_id}/security-events", source="station")
        assert [(e["type"], e["tech_info"]) for e in events] == [
            ("TamperDetectionActivated", "lid open")
        ]
        notes = await items(api, f"/stations/{station_id}/notifications")
        assert {(n["kind"], n["status"], n["request_id"]) for n in notes} == {
            ("firmware", "Installed", 5),
            ("log", "Uploaded", 6),
        }


async def test_get_base_report_then_notify_report(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server)
    async with connect201(borne_server, station_id) as cp, borne_server.api() as api:
        await cp.boot()
        r = await command(api, station_id, "get-base-report", {"report_base": "FullInventory"})
        assert r.status_code == 200, r.text
        out = r.json()
        assert (out["action"], out["status"]) == ("GetBaseReport", "Accepted")
        asked = await cp.received("GetBaseReport")
        assert asked == {"request_id": out["request_id"], "report_base": "FullInventory"}

        def report(component: str, variable: str, value: str, **kw: Any) -> dict[str, Any]:
            return {
                "component": {"name": component, **kw},
                "variable": {"name": variable},
                "variable_attribute": [
                    {"type": "Actual", "value": value, "mutability": "ReadWrite"}
                ],
                "variable_characteristics": {"data_type": "integer", "supports_monitoring": False},
            }

        await cp.call(
            call201.NotifyReport(
                request_id=out["request_id"],
                generated_at=now_iso(),
                seq_no=0,
                tbc=True,
                report_data=[report("OCPPCommCtrlr", "HeartbeatInterval", "300")],
            )
        )
        await cp.call(
            call201.NotifyReport(
                request_id=out["request_id"],
                generated_at=now_iso(),
                seq_no=1,
                report_data=[report("EVSE", "Power", "22000", evse={"id": 1})],
            )
        )
        variables = await items(api, f"/stations/{station_id}/reported-variables")
        got = {
            (v["component_name"], v["evse_id"], v["variable_name"], v["value"]) for v in variables
        }
        assert got == {
            ("OCPPCommCtrlr", 0, "HeartbeatInterval", "300"),
            ("EVSE", 1, "Power", "22000"),
        }
        assert {v["request_id"] for v in variables} == {out["request_id"]}
        only = await items(api, f"/stations/{station_id}/reported-variables", component="EVSE")
        assert [v["variable_name"] for v in only] == ["Power"]


# ------------------------------------------------------------------- CSMS-initiated calls


async def test_request_start_and_stop(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server)
    async with connect201(borne_server, station_id) as cp, borne_server.api() as api:
        await cp.boot()
        r = await command(
            api,
            station_id,
            "remote-start",
            {"id_token": "TOKEN-R", "evse_id": 2, "remote_start_id": 99},
        )
        assert r.status_code == 200, r.text
        out = r.json()
        assert (out["action"], out["status"], out["ocpp_version"]) == (
            "RequestStartTransaction",
            "Accepted",
            "ocpp2.0.1",
        )
        assert out["remote_start_id"] == 99
        assert await cp.received("RequestStartTransaction") == {
            "id_token": {"id_token": "TOKEN-R", "type": "Central"},
            "evse_id": 2,
            "remote_start_id": 99,
        }

        cp.answers["RequestStopTransaction"] = {
            "status": "Rejected",
            "status_info": {"reason_code": "TxNotFound", "additional_info": "no such tx"},
        }
        r = await command(api, station_id, "remote-stop", {"transaction_id": "tx-404"})
        assert r.status_code == 200, r.text
        out = r.json()
        assert (out["status"], out["reason"], out["reason_info"]) == (
            "Rejected",
            "TxNotFound",
            "no such tx",
        )
        assert await cp.received("RequestStopTransaction") == {"transaction_id": "tx-404"}


async def test_reset_unlock_and_availability(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server)
    async with connect201(borne_server, station_id) as cp, borne_server.api() as api:
        await cp.boot()
        r = await command(api, station_id, "reset", {"type": "hard"})
        assert (r.status_code, r.json()["status"]) == (200, "Accepted")
        assert await cp.received("Reset") == {"type": "Immediate"}

        cp.answers["Reset"] = {"status": "Scheduled"}
        r = await command(api, station_id, "reset", {"type": "soft", "evse_id": 2})
        assert (r.status_code, r.json()["status"]) == (200, "Scheduled")
        assert await cp.received("Reset") == {"type": "OnIdle", "evse_id": 2}

        r = await command(api, station_id, "unlock-connector", {"evse_id": 1, "connector_id": 2})
        assert (r.status_code, r.json()["status"]) == (200, "Unlocked")
        assert await cp.received("UnlockConnector") == {"evse_id": 1, "connector_id": 2}

        r = await command(
            api,
            station_id,
            "change-availability",
            {"availability": "inoperative", "evse_id": 1, "connector_id": 1},
        )
        assert (r.status_code, r.json()["status"]) == (200, "Accepted")
        assert await cp.received("ChangeAvailability") == {
            "operational_status": "Inoperative",
            "evse": {"id": 1, "connector_id": 1},
        }

        # 1.6-only commands are refused before anything is sent
        r = await command(api, station_id, "get-configuration", {})
        assert r.status_code == 422
        assert "GetConfiguration" not in cp.calls


async def test_get_and_set_variables(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server)
    async with connect201(borne_server, station_id) as cp, borne_server.api() as api:
        await cp.boot()
        r = await command(
            api,
            station_id,
            "get-variables",
            {"variables": [{"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval"}]},
        )
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["status"] == "Accepted"
        [result] = out["results"]
        assert (result["component"], result["variable"], result["value"]) == (
            "OCPPCommCtrlr",
            "HeartbeatInterval",
            "300",
        )
        asked = await cp.received("GetVariables")
        assert asked["get_variable_data"] == [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
        ]

        cp.answers["SetVariables"] = {
            "set_variable_result": [
                {
                    "attribute_status": "Accepted",
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"},
                },
                {
                    "attribute_status": "UnknownVariable",
                    "component": {"name": "EVSE", "evse": {"id": 1}},
                    "variable": {"name": "Nope"},
                },
            ]
        }
        r = await command(
            api,
            station_id,
            "set-variables",
            {
                "variables": [
                    {"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval", "value": "60"},
                    {"component": "EVSE", "evse_id": 1, "variable": "Nope", "value": "1"},
                ]
            },
        )
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["status"] == "Partial"
        assert [(x["variable"], x["status"]) for x in out["results"]] == [
            ("HeartbeatInterval", "Accepted"),
            ("Nope", "UnknownVariable"),
        ]
        asked = await cp.received("SetVariables")
        assert asked["set_variable_data"] == [
            {
                "attribute_value": "60",
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
            },
            {
                "attribute_value": "1",
                "component": {"name": "EVSE", "evse": {"id": 1}},
                "variable": {"name": "Nope"},
            },
        ]


async def test_trigger_clear_cache_and_data_transfer(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server)
    async with connect201(borne_server, station_id) as cp, borne_server.api() as api:
        await cp.boot()
        r = await command(
            api, station_id, "trigger-message", {"message": "status_notification", "evse_id": 1}
        )
        assert (r.status_code, r.json()["status"]) == (200, "Accepted")
        assert await cp.received("TriggerMessage") == {
            "requested_message": "StatusNotification",
            "evse": {"id": 1},
        }

        r = await command(api, station_id, "clear-cache")
        assert (r.status_code, r.json()["status"]) == (200, "Accepted")
        assert await cp.received("ClearCache") == {}

        r = await command(
            api,
            station_id,
            "data-transfer",
            {"vendor_id": "com.example", "message_id": "Ping", "data": {"n": [1, 2]}},
        )
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["data"]) == ("Accepted", {"pong": 1})
        assert await cp.received("DataTransfer") == {
            "vendor_id": "com.example",
            "message_id": "Ping",
            "data": {"n": [1, 2]},
        }


async def test_raw_call(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server)
    async with connect201(borne_server, station_id) as cp, borne_server.api() as api:
        await cp.boot()
        r = await command(api, station_id, "raw", {"action": "GetLocalListVersion", "payload": {}})
        assert r.status_code == 200, r.text
        assert r.json()["raw"] == {"versionNumber": 7}
        assert r.json()["ocpp_version"] == "ocpp2.0.1"
        assert await cp.received("GetLocalListVersion") == {}

        # an action of the other version is refused and never sent
        r = await command(
            api, station_id, "raw", {"action": "RemoteStartTransaction", "payload": {}}
        )
        assert r.status_code == 422


async def test_command_to_a_station_not_connected_is_409(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server)
    async with borne_server.api() as api:
        r = await command(api, station_id, "trigger-message", {"message": "heartbeat"})
        assert r.status_code == 409, r.text
    async with connect201(borne_server, station_id) as cp:
        await cp.boot()
    async with borne_server.api() as api:
        for _ in range(50):  # the server notices the close asynchronously
            r = await command(api, station_id, "clear-cache")
            if r.status_code == 409:
                break
            await asyncio.sleep(0.05)
        assert r.status_code == 409, r.text


async def test_station_that_never_answers_is_504(db_url: str) -> None:
    server = await start_server(db_url, ocpp_call_timeout_s=1)
    try:
        station_id = await _station(server)
        async with raw_connect(server, station_id, "ocpp2.0.1") as raw, server.api() as api:
            await raw.result("BootNotification", BOOT201)
            r = await command(api, station_id, "clear-cache")
            assert r.status_code == 504, r.text
            frame = await raw.recv()
            assert frame[0] == 2 and frame[2] == "ClearCache"
    finally:
        await stop_server(server)
