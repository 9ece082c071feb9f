"""DataTransfer routing, security events, progress notifications and NotifyReport."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from borne.core.deps import Deps
from borne.ocpp.versions import OcppVersion
from borne.stations import admin
from borne.stations.config import StationsConfig
from borne.stations.models import Station
from borne.stations.unit import Unit
from borne.stations.vendors import DataTransferReply, DataTransferRequestInfo, VendorRegistry

T0 = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def stations_config() -> StationsConfig:
    vendors = VendorRegistry()
    calls: list[DataTransferRequestInfo] = []

    async def acme(unit: Unit, req: DataTransferRequestInfo) -> DataTransferReply:
        calls.append(req)
        if req.message_id != "Ping":
            return DataTransferReply("UnknownMessageId")
        # Vendor handlers run inside the unit of work and may read or write.
        station = await unit.session.get(Station, req.station_id)
        assert station is not None
        return DataTransferReply("Accepted", {"pong": req.data, "station": station.station_id})

    async def strict(unit: Unit, req: DataTransferRequestInfo) -> DataTransferReply:
        return DataTransferReply("Rejected")

    vendors.register_vendor_handler("com.acme", acme)
    vendors.register_vendor_handler("com.strict", strict, message_ids=["Known"])
    return StationsConfig(vendors=vendors)


async def test_data_transfer_is_routed_by_vendor_and_stored(
    deps: Deps, make_station, make_ctx, call, version
) -> None:
    await make_station("CP-1")
    ctx = make_ctx("CP-1", version)

    unknown = await call(ctx, "DataTransfer", {"vendorId": "com.other", "messageId": "Ping"})
    assert unknown == {"status": "UnknownVendorId"}
    no_msg = await call(ctx, "DataTransfer", {"vendorId": "com.acme", "messageId": "Nope"})
    assert no_msg["status"] == "UnknownMessageId"
    filtered = await call(ctx, "DataTransfer", {"vendorId": "com.strict", "messageId": "Other"})
    assert filtered["status"] == "UnknownMessageId"
    assert (await call(ctx, "DataTransfer", {"vendorId": "com.strict", "messageId": "Known"}))[
        "status"
    ] == "Rejected"
    ok = await call(ctx, "DataTransfer", {"vendorId": "com.acme", "messageId": "Ping", "data": "x"})
    assert ok["status"] == "Accepted"
    expected = {"pong": "x", "station": "CP-1"}
    if version is OcppVersion.V16:  # 1.6 data is a string
        assert json.loads(ok["data"]) == expected
    else:
        assert ok["data"] == expected

    async with deps.db.unit_of_work() as uow:
        stored = await admin.list_data_transfers(uow, station_id="CP-1")
    assert stored.total == 5
    assert [(d.vendor_id, d.message_id, d.response_status) for d in reversed(stored.items)] == [
        ("com.other", "Ping", "UnknownVendorId"),
        ("com.acme", "Nope", "UnknownMessageId"),
        ("com.strict", "Other", "UnknownMessageId"),
        ("com.strict", "Known", "Rejected"),
        ("com.acme", "Ping", "Accepted"),
    ]
    assert stored.items[0].data == "x"


async def test_v201_structured_data_is_stored_as_json(
    deps: Deps, make_station, make_ctx, call
) -> None:
    await make_station("CP-1")
    ctx = make_ctx("CP-1", OcppVersion.V201)
    await call(ctx, "DataTransfer", {"vendorId": "com.other", "data": {"a": [1, 2]}})
    async with deps.db.unit_of_work() as uow:
        stored = await admin.list_data_transfers(uow, station_id="CP-1")
    assert json.loads(stored.items[0].data or "") == {"a": [1, 2]}


def test_a_vendor_registers_once() -> None:
    vendors = VendorRegistry()

    async def h(unit: Unit, req: DataTransferRequestInfo) -> DataTransferReply:
        return DataTransferReply("Accepted")

    vendors.register_vendor_handler("v", h)
    with pytest.raises(ValueError):
        vendors.register_vendor_handler("v", h)
    with pytest.raises(ValueError):
        DataTransferReply("Maybe")  # type: ignore[arg-type]


async def test_security_events_are_stored_with_source_station(
    deps: Deps, make_station, make_ctx, call, version
) -> None:
    await make_station("CP-1")
    ctx = make_ctx("CP-1", version)
    payload = {"type": "TamperDetectionActivated", "timestamp": T0.isoformat(), "techInfo": "lid"}
    assert await call(ctx, "SecurityEventNotification", payload) == {}
    async with deps.db.unit_of_work() as uow:
        events = await admin.list_security_events(uow, station_id="CP-1")
    assert [(e.type, e.timestamp, e.tech_info, e.source) for e in events.items] == [
        ("TamperDetectionActivated", T0, "lid", "station")
    ]


async def test_progress_notifications_are_stored(
    deps: Deps, make_station, make_ctx, call, version
) -> None:
    await make_station("CP-1")
    ctx = make_ctx("CP-1", version)
    await call(ctx, "FirmwareStatusNotification", {"status": "Downloading"})
    await call(ctx, "LogStatusNotification", {"status": "Uploaded", "requestId": 7})
    expected = [("firmware", "Downloading", None), ("log", "Uploaded", 7)]
    if version is OcppVersion.V16:
        await call(ctx, "DiagnosticsStatusNotification", {"status": "Uploading"})
        await call(
            ctx, "SignedFirmwareStatusNotification", {"status": "SignatureVerified", "requestId": 3}
        )
        expected += [
            ("diagnostics", "Uploading", None),
            ("signed_firmware", "SignatureVerified", 3),
        ]
    async with deps.db.unit_of_work() as uow:
        page = await admin.list_notifications(uow, station_id="CP-1")
        logs = await admin.list_notifications(uow, station_id="CP-1", kind="log")
    assert [(n.kind, n.status, n.request_id) for n in reversed(page.items)] == expected
    assert logs.total == 1


def report_part(seq_no: int, tbc: bool, value: str, *, extra: bool = False) -> dict:
    data = [
        {
            "component": {"name": "OCPPCommCtrlr"},
            "variable": {"name": "HeartbeatInterval"},
            "variableAttribute": [
                {"type": "Actual", "value": value, "mutability": "ReadWrite"},
                {"type": "MaxSet", "value": "3600", "mutability": "ReadOnly"},
            ],
            "variableCharacteristics": {
                "dataType": "integer",
                "unit": "s",
                "supportsMonitoring": False,
            },
        }
    ]
    if extra:
        data.append(
            {
                "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
                "variable": {"name": "ConnectorType"},
                "variableAttribute": [{"value": "cType2"}],
            }
        )
    return {
        "requestId": 11,
        "generatedAt": T0.isoformat(),
        "seqNo": seq_no,
        "tbc": tbc,
        "reportData": data,
    }


async def test_notify_report_upserts_variables_across_parts(
    deps: Deps, make_station, make_ctx, call
) -> None:
    await make_station("CP-1")
    ctx = make_ctx("CP-1", OcppVersion.V201)
    assert await call(ctx, "NotifyReport", report_part(0, True, "300", extra=True)) == {}
    await call(ctx, "NotifyReport", report_part(1, False, "120"))
    # A part without report data is fine too.
    await call(ctx, "NotifyReport", {"requestId": 12, "generatedAt": T0.isoformat(), "seqNo": 0})

    async with deps.db.unit_of_work() as uow:
        page = await admin.list_reported_variables(uow, station_id="CP-1")
        hb = await admin.list_reported_variables(
            uow, station_id="CP-1", variable_name="HeartbeatInterval"
        )
    rows = {
        (r.component_name, r.evse_id, r.connector_id, r.variable_name, r.attribute_type): r
        for r in page.items
    }
    assert page.total == 3
    actual = rows[("OCPPCommCtrlr", 0, 0, "HeartbeatInterval", "Actual")]
    assert (actual.value, actual.seq_no, actual.mutability) == ("120", 1, "ReadWrite")
    assert (actual.data_type, actual.unit) == ("integer", "s")
    assert rows[("OCPPCommCtrlr", 0, 0, "HeartbeatInterval", "MaxSet")].value == "3600"
    conn = rows[("Connector", 1, 1, "ConnectorType", "Actual")]  # attribute type defaults
    assert (conn.value, conn.seq_no) == ("cType2", 0)
    assert hb.total == 2
