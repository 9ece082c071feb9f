"""Borne as an OCPP 1.6J CSMS, end to end: the ``ocpp`` package's ChargePoint on a real socket,
the operator API over HTTP. Each test runs on every database backend (``db_url``)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from helpers import (
    PASSWORD,
    BorneServer,
    command,
    connect16,
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
from ocpp.v16 import call as call16


async def _station(server: BorneServer, **kw: Any) -> str:
    station_id = unique_id("CP16")
    async with server.api() as api:
        await create_station(api, station_id, **kw)
    return station_id


# ------------------------------------------------------------------ station-initiated calls


async def test_boot_accepted_heartbeat_and_status_are_visible(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server)
    async with connect16(borne_server, station_id) as cp, borne_server.api() as api:
        boot = await cp.boot(vendor="Acme", model="Fast-16")
        assert boot.status == "Accepted"
        assert boot.interval == 300
        beat = await cp.call(call16.Heartbeat())
        assert datetime.fromisoformat(beat.current_time) > datetime.now(UTC) - timedelta(minutes=1)
        await cp.call(
            call16.StatusNotification(
                connector_id=1, error_code="NoError", status="Available", timestamp=now_iso(-2)
            )
        )
        await cp.call(
            call16.StatusNotification(
                connector_id=1,
                error_code="NoError",
                status="Preparing",
                timestamp=now_iso(-1),
                info="cable in",
            )
        )

        detail = await station_detail(api, station_id)
        assert detail["connected"] is True
        assert detail["ocpp_version"] == "ocpp1.6"
        assert detail["last_boot_status"] == "Accepted"
        assert (detail["vendor"], detail["model"]) == ("Acme", "Fast-16")
        assert detail["serial_number"] == "SN-16"
        assert detail["firmware_version"] == "1.2.3"
        assert detail["last_heartbeat_at"] is not None
        [connector] = detail["connectors"]
        assert (connector["evse_id"], connector["ocpp_connector_id"]) == (1, 1)
        assert connector["status"] == "Preparing"
        assert connector["info"] == "cable in"

        history = await items(api, f"/stations/{station_id}/status-history")
        assert [h["status"] for h in history] == ["Preparing", "Available"]
        boots = await items(api, f"/stations/{station_id}/boots")
        assert [b["status"] for b in boots] == ["Accepted"]


async def test_boot_pending_then_other_calls_refused(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server, registration_status="Pending")
    async with connect16(borne_server, station_id) as cp, borne_server.api() as api:
        boot = await cp.boot()
        assert boot.status == "Pending"
        with pytest.raises(SecurityError):
            await cp.call(call16.Heartbeat())
        detail = await station_detail(api, station_id)
        assert detail["last_boot_status"] == "Pending"
        assert detail["last_heartbeat_at"] is None


async def test_boot_rejected(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server, registration_status="Rejected")
    async with connect16(borne_server, station_id) as cp, borne_server.api() as api:
        boot = await cp.boot()
        assert boot.status == "Rejected"
        with pytest.raises(SecurityError):
            await cp.call(
                call16.StatusNotification(connector_id=1, error_code="NoError", status="Available")
            )
        detail = await station_detail(api, station_id)
        assert detail["last_boot_status"] == "Rejected"
        assert detail["connectors"] == []


async def test_profile_1_station_with_password_boots(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server, profile=1, password=PASSWORD)
    async with connect16(borne_server, station_id, password=PASSWORD) as cp:
        boot = await cp.boot()
        assert boot.status == "Accepted"
    async with borne_server.api() as api:
        detail = await station_detail(api, station_id)
        assert detail["security_profile"] == 1
        assert detail["has_password"] is True
        assert "password" not in detail


async def test_authorize_answers(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server)
    async with borne_server.api() as api:
        await create_id_token(api, "TAG-OK")
        await create_id_token(api, "TAG-BLOCKED", status="Blocked")
        await create_id_token(api, "TAG-OLD", expiry_date=datetime.now(UTC) - timedelta(days=1))
    async with connect16(borne_server, station_id) as cp:
        await cp.boot()
        answers = {}
        for tag in ("TAG-OK", "tag-ok", "TAG-BLOCKED", "TAG-UNKNOWN", "TAG-OLD"):
            answers[tag] = (await cp.call(call16.Authorize(id_tag=tag))).id_tag_info["status"]
    assert answers == {
        "TAG-OK": "Accepted",
        "tag-ok": "Accepted",  # id tokens are case-insensitive
        "TAG-BLOCKED": "Blocked",
        "TAG-UNKNOWN": "Invalid",
        "TAG-OLD": "Expired",
    }


async def test_transaction_with_meter_values_is_billed(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server)
    async with borne_server.api() as api:
        await create_id_token(api, "TAG-TX")
    async with connect16(borne_server, station_id) as cp, borne_server.api() as api:
        await cp.boot()
        start = await cp.call(
            call16.StartTransaction(
                connector_id=2, id_tag="TAG-TX", meter_start=10_000, timestamp=now_iso(-60)
            )
        )
        assert start.id_tag_info["status"] == "Accepted"
        tx_id = start.transaction_id
        assert isinstance(tx_id, int) and tx_id > 0

        [active] = await transactions_of(api, station_id)
        assert active["state"] == "active"
        assert active["transaction_id"] == str(tx_id)

        for seconds, wh in ((-40, "10500"), (-20, "11250.5")):
            await cp.call(
                call16.MeterValues(
                    connector_id=2,
                    transaction_id=tx_id,
                    meter_value=[
                        {
                            "timestamp": now_iso(seconds),
                            "sampled_value": [
                                {
                                    "value": wh,
                                    "measurand": "Energy.Active.Import.Register",
                                    "unit": "Wh",
                                },
                                {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"},
                            ],
                        }
                    ],
                )
            )
        detail = await get_json(api, f"/transactions/{active['id']}")
        assert Decimal(detail["energy_wh"]) == Decimal("1250.5")  # still charging

        stop = await cp.call(
            call16.StopTransaction(
                transaction_id=tx_id,
                meter_stop=12_000,
                timestamp=now_iso(-1),
                id_tag="TAG-TX",
                reason="EVDisconnected",
            )
        )
        assert stop.id_tag_info["status"] == "Accepted"

        [ended] = await transactions_of(api, station_id)
        assert ended["state"] == "ended"
        assert ended["stop_reason"] == "EVDisconnected"
        assert (ended["evse_id"], ended["connector_id"]) == (2, 2)
        assert ended["id_token"] == "TAG-TX"
        detail = await get_json(api, f"/transactions/{ended['id']}")
        assert Decimal(detail["meter_start_wh"]) == 10_000
        assert Decimal(detail["meter_stop_wh"]) == 12_000
        assert Decimal(detail["energy_wh"]) == 2000
        assert detail["stopped_at"] is not None

        values = await meter_values_of(api, ended["id"])
        energy = [v for v in values if v["measurand"] == "Energy.Active.Import.Register"]
        assert [Decimal(v["value"]) for v in energy] == [Decimal("10500"), Decimal("11250.5")]
        power = [v for v in values if v["measurand"] == "Power.Active.Import"]
        assert [(v["raw_value"], v["unit"]) for v in power] == [("7.2", "kW"), ("7.2", "kW")]


async def test_data_transfer_from_unknown_vendor(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server)
    async with connect16(borne_server, station_id) as cp, borne_server.api() as api:
        await cp.boot()
        answer = await cp.call(
            call16.DataTransfer(vendor_id="com.example.nobody", message_id="Hello", data="x=1")
        )
        assert answer.status == "UnknownVendorId"
        [stored] = await items(api, f"/stations/{station_id}/data-transfers")
        assert stored["vendor_id"] == "com.example.nobody"
        assert (stored["message_id"], stored["data"]) == ("Hello", "x=1")
        assert stored["response_status"] == "UnknownVendorId"


async def test_security_firmware_diagnostics_and_log_notifications(
    borne_server: BorneServer,
) -> None:
    station_id = await _station(borne_server)
    async with connect16(borne_server, station_id) as cp, borne_server.api() as api:
        await cp.boot()
        await cp.call(
            call16.SecurityEventNotification(
                type="FirmwareUpdated", timestamp=now_iso(), tech_info="1.2.3 → 1.2.4"
            )
        )
        await cp.call(call16.FirmwareStatusNotification(status="Downloading"))
        await cp.call(call16.DiagnosticsStatusNotification(status="Uploaded"))
        await cp.call(call16.LogStatusNotification(status="Uploading", request_id=42))

        events = await items(api, f"/stations/{station_id}/security-events", source="station")
        assert [(e["type"], e["tech_info"]) for e in events] == [
            ("FirmwareUpdated", "1.2.3 → 1.2.4")
        ]
        notes = await items(api, f"/stations/{station_id}/notifications")
        assert {(n["kind"], n["status"], n["request_id"]) for n in notes} == {
            ("firmware", "Downloading", None),
            ("diagnostics", "Uploaded", None),
            ("log", "Uploading", 42),
        }


# ------------------------------------------------------------------- CSMS-initiated calls


async def test_remote_start_and_stop(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server)
    async with connect16(borne_server, station_id) as cp, borne_server.api() as api:
        await cp.boot()
        r = await command(api, station_id, "remote-start", {"id_token": "TAG-R", "connector_id": 1})
        assert r.status_code == 200, r.text
        out = r.json()
        assert (out["action"], out["status"], out["ocpp_version"]) == (
            "RemoteStartTransaction",
            "Accepted",
            "ocpp1.6",
        )
        assert await cp.received("RemoteStartTransaction") == {"id_tag": "TAG-R", "connector_id": 1}

        cp.answers["RemoteStopTransaction"] = {"status": "Rejected"}
        r = await command(api, station_id, "remote-stop", {"transaction_id": 4711})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "Rejected"
        assert r.json()["raw"] == {"status": "Rejected"}
        assert await cp.received("RemoteStopTransaction") == {"transaction_id": 4711}


async def test_reset_unlock_and_availability(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server)
    async with connect16(borne_server, station_id) as cp, borne_server.api() as api:
        await cp.boot()
        r = await command(api, station_id, "reset", {"type": "soft"})
        assert (r.status_code, r.json()["status"]) == (200, "Accepted")
        assert await cp.received("Reset") == {"type": "Soft"}

        cp.answers["UnlockConnector"] = {"status": "UnlockFailed"}
        r = await command(api, station_id, "unlock-connector", {"connector_id": 2})
        assert (r.status_code, r.json()["status"]) == (200, "UnlockFailed")
        assert await cp.received("UnlockConnector") == {"connector_id": 2}

        cp.answers["ChangeAvailability"] = {"status": "Scheduled"}
        r = await command(
            api, station_id, "change-availability", {"availability": "inoperative", "evse_id": 1}
        )
        assert (r.status_code, r.json()["status"]) == (200, "Scheduled")
        assert await cp.received("ChangeAvailability") == {"connector_id": 1, "type": "Inoperative"}

        # 2.0.1-only commands are refused before anything is sent
        r = await command(
            api, station_id, "get-variables", {"variables": [{"component": "C", "variable": "V"}]}
        )
        assert r.status_code == 422
        assert "GetVariables" not in cp.calls


async def test_get_and_change_configuration(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server)
    async with connect16(borne_server, station_id) as cp, borne_server.api() as api:
        await cp.boot()
        r = await command(
            api, station_id, "get-configuration", {"keys": ["HeartbeatInterval", "NoSuchKey"]}
        )
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["entries"] == [
            {"key": "HeartbeatInterval", "value": "300", "readonly": False},
            {"key": "NumberOfConnectors", "value": "2", "readonly": True},
        ]
        assert out["unknown_keys"] == ["NoSuchKey"]
        assert await cp.received("GetConfiguration") == {"key": ["HeartbeatInterval", "NoSuchKey"]}

        cp.answers["ChangeConfiguration"] = {"status": "RebootRequired"}
        r = await command(
            api, station_id, "change-configuration", {"key": "HeartbeatInterval", "value": "60"}
        )
        assert (r.status_code, r.json()["status"]) == (200, "RebootRequired")
        assert await cp.received("ChangeConfiguration") == {
            "key": "HeartbeatInterval",
            "value": "60",
        }


async def test_trigger_clear_cache_and_data_transfer(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server)
    async with connect16(borne_server, station_id) as cp, borne_server.api() as api:
        await cp.boot()
        r = await command(
            api,
            station_id,
            "trigger-message",
            {"message": "status_notification", "connector_id": 1},
        )
        assert (r.status_code, r.json()["action"], r.json()["status"]) == (
            200,
            "TriggerMessage",
            "Accepted",
        )
        assert await cp.received("TriggerMessage") == {
            "requested_message": "StatusNotification",
            "connector_id": 1,
        }

        cp.answers["ClearCache"] = {"status": "Rejected"}
        r = await command(api, station_id, "clear-cache")
        assert (r.status_code, r.json()["status"]) == (200, "Rejected")
        assert await cp.received("ClearCache") == {}

        r = await command(
            api,
            station_id,
            "data-transfer",
            {"vendor_id": "com.example", "message_id": "Ping", "data": {"n": 1}},
        )
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["data"]) == ("Accepted", "pong")
        # 1.6 data is a string: a JSON value travels as its JSON text
        assert await cp.received("DataTransfer") == {
            "vendor_id": "com.example",
            "message_id": "Ping",
            "data": '{"n":1}',
        }


async def test_raw_call(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server)
    async with connect16(borne_server, station_id) as cp, borne_server.api() as api:
        await cp.boot()
        r = await command(api, station_id, "raw", {"action": "GetLocalListVersion", "payload": {}})
        assert r.status_code == 200, r.text
        assert r.json()["raw"] == {"listVersion": 7}
        assert r.json()["action"] == "GetLocalListVersion"
        assert await cp.received("GetLocalListVersion") == {}

        # a payload that breaks the schema is refused and never sent
        r = await command(
            api, station_id, "raw", {"action": "Reset", "payload": {"type": "Sideways"}}
        )
        assert r.status_code == 422
        assert "Reset" not in cp.calls


async def test_station_callerror_is_a_502(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server)
    async with connect16(borne_server, station_id) as cp, borne_server.api() as api:
        await cp.boot()
        # the ocpp ChargePoint answers NotImplemented for an action it has no handler for
        r = await command(
            api,
            station_id,
            "raw",
            {"action": "CancelReservation", "payload": {"reservationId": 3}},
        )
        assert r.status_code == 502, r.text
        assert r.json()["error"]["details"]["error_code"] == "NotImplemented"


async def test_command_to_a_station_not_connected_is_409(borne_server: BorneServer) -> None:
    station_id = await _station(borne_server)
    async with borne_server.api() as api:
        r = await command(api, station_id, "reset", {"type": "hard"})
        assert r.status_code == 409, r.text
        assert r.json()["error"]["code"]
    # after a connection ended, too
    async with connect16(borne_server, station_id) as cp:
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
        async with raw_connect(server, station_id, "ocpp1.6") as raw, server.api() as api:
            await raw.result(
                "BootNotification", {"chargePointVendor": "E", "chargePointModel": "M"}
            )
            r = await command(api, station_id, "reset", {"type": "hard"})
            assert r.status_code == 504, r.text
            # the station did get the CALL; it just never answered
            frame = await raw.recv()
            assert frame[0] == 2 and frame[2] == "Reset"
            assert frame[3] == {"type": "Hard"}
    finally:
        await stop_server(server)
