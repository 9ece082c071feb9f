"""Station-initiated use cases, version-agnostic: boot, heartbeat, status, notifications, reports.

The OCPP translators (``ocpp_v16``, ``ocpp_v201``) turn typed messages into these calls. Each
takes a ``Unit`` (unit of work or group-commit batch) and never commits. Operator use cases
(create, update, list…) live in ``admin``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import select, update

from borne.stations.events import (
    DataTransferReceived,
    ReportReceived,
    SecurityEventReceived,
    StationBooted,
    StationNotificationReceived,
    StationStatusChanged,
)
from borne.stations.models import (
    ConnectorStatus,
    ConnectorStatusHistory,
    DataTransferMessage,
    ReportedVariable,
    SecurityEvent,
    Station,
    StationBoot,
    StationNotification,
)
from borne.stations.unit import Unit
from borne.stations.vendors import DataTransferReply, DataTransferRequestInfo, VendorRegistry

NOTIFICATION_KINDS = frozenset({"firmware", "signed_firmware", "diagnostics", "log"})
RegistrationStatus = Literal["Accepted", "Pending", "Rejected"]


@dataclass(frozen=True)
class BootInfo:
    vendor: str
    model: str
    serial_number: str | None = None
    charge_box_serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None
    reason: str | None = None  # 2.0.1 BootReasonEnumType; 1.6 has none


@dataclass(frozen=True)
class BootResult:
    status: RegistrationStatus
    interval: int  # seconds: heartbeat interval when accepted, retry interval otherwise


def admission_status(station: Station) -> RegistrationStatus:
    """The registration status the protocol layer applies to a station's non-boot calls (R22).

    Rejected or Pending by the operator wins; an accepted station is as its last boot was
    answered, and Pending until it has booted.
    """
    if station.registration_status == "Rejected":
        return "Rejected"
    if station.registration_status != "Accepted":
        return "Pending"
    return "Accepted" if station.last_boot_status == "Accepted" else "Pending"


async def record_boot(
    unit: Unit,
    *,
    station_id: str,
    info: BootInfo,
    ocpp_version: str,
    now: datetime,
    heartbeat_interval: int,
    pending_interval: int,
) -> BootResult:
    """Store a BootNotification and answer it with the operator's decision on the station."""
    station = await unit.session.get(Station, station_id, with_for_update=True)
    if station is None:  # deleted while connected: nothing to boot into
        return BootResult("Rejected", pending_interval)
    status = cast(RegistrationStatus, station.registration_status)
    station.last_boot_status = status
    station.last_boot_reason = info.reason
    station.last_boot_at = now
    station.boot_count += 1
    station.ocpp_version = ocpp_version
    station.vendor = info.vendor
    station.model = info.model
    station.serial_number = info.serial_number
    station.charge_box_serial_number = info.charge_box_serial_number
    station.firmware_version = info.firmware_version
    station.iccid = info.iccid
    station.imsi = info.imsi
    station.meter_type = info.meter_type
    station.meter_serial_number = info.meter_serial_number
    station.updated_at = now
    unit.session.add(
        StationBoot(
            station_id=station_id,
            booted_at=now,
            status=status,
            reason=info.reason,
            ocpp_version=ocpp_version,
            firmware_version=info.firmware_version,
        )
    )
    unit.add_event(
        StationBooted(
            station_id=station_id,
            status=status,
            ocpp_version=ocpp_version,
            reason=info.reason,
            vendor=info.vendor,
            model=info.model,
            firmware_version=info.firmware_version,
            booted_at=now,
        )
    )
    interval = heartbeat_interval if status == "Accepted" else pending_interval
    return BootResult(status, interval)


async def record_heartbeat(unit: Unit, *, station_id: str, now: datetime) -> None:
    await unit.session.execute(
        update(Station).where(Station.station_id == station_id).values(last_heartbeat_at=now)
    )


async def record_connector_status(
    unit: Unit,
    *,
    station_id: str,
    evse_id: int,
    connector_id: int,
    status: str,
    timestamp: datetime | None,
    received_at: datetime,
    ocpp_connector_id: int | None = None,
    error_code: str | None = None,
    info: str | None = None,
    vendor_id: str | None = None,
    vendor_error_code: str | None = None,
) -> None:
    """Append to the status history and move the current status forward.

    A status older than the current one (a queued message resent late) goes to the history but
    does not overwrite the newer current status.
    """
    ts = timestamp or received_at
    fields: dict[str, Any] = {
        "ocpp_connector_id": ocpp_connector_id,
        "status": status,
        "error_code": error_code,
        "info": info,
        "vendor_id": vendor_id,
        "vendor_error_code": vendor_error_code,
        "timestamp": ts,
    }
    session = unit.session
    session.add(
        ConnectorStatusHistory(
            station_id=station_id,
            evse_id=evse_id,
            connector_id=connector_id,
            received_at=received_at,
            **fields,
        )
    )
    current = await session.get(ConnectorStatus, (station_id, evse_id, connector_id))
    previous: str | None = None
    if current is None:
        session.add(
            ConnectorStatus(
                station_id=station_id,
                evse_id=evse_id,
                connector_id=connector_id,
                updated_at=received_at,
                **fields,
            )
        )
    else:
        if ts < current.timestamp:
            return
        previous = current.status
        changed = current.status != status or current.error_code != error_code
        for name, value in fields.items():
            setattr(current, name, value)
        current.updated_at = received_at
        if not changed:
            return
    unit.add_event(
        StationStatusChanged(
            station_id=station_id,
            evse_id=evse_id,
            connector_id=connector_id,
            status=status,
            previous_status=previous,
            error_code=error_code,
            timestamp=ts,
        )
    )


async def record_security_event(
    unit: Unit,
    *,
    station_id: str,
    type: str,
    timestamp: datetime,
    received_at: datetime,
    tech_info: str | None = None,
    source: str = "station",
) -> None:
    if source not in ("station", "csms"):
        raise ValueError(f"unknown security event source {source!r}")
    unit.session.add(
        SecurityEvent(
            station_id=station_id,
            type=type,
            timestamp=timestamp,
            tech_info=tech_info,
            source=source,
            received_at=received_at,
        )
    )
    unit.add_event(
        SecurityEventReceived(
            station_id=station_id,
            type=type,
            timestamp=timestamp,
            source=source,
            tech_info=tech_info,
        )
    )


async def record_notification(
    unit: Unit,
    *,
    station_id: str,
    kind: str,
    status: str,
    timestamp: datetime,
    request_id: int | None = None,
) -> None:
    """Firmware, signed firmware, diagnostics or log upload progress."""
    if kind not in NOTIFICATION_KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    unit.session.add(
        StationNotification(
            station_id=station_id,
            kind=kind,
            status=status,
            request_id=request_id,
            timestamp=timestamp,
        )
    )
    unit.add_event(
        StationNotificationReceived(
            station_id=station_id,
            kind=kind,
            status=status,
            request_id=request_id,
            timestamp=timestamp,
        )
    )


async def handle_data_transfer(
    unit: Unit,
    vendors: VendorRegistry,
    *,
    station_id: str,
    ocpp_version: str,
    vendor_id: str,
    message_id: str | None,
    data: Any,
    received_at: datetime,
) -> DataTransferReply:
    """Route a DataTransfer to its vendor's handler and store it with the answer given."""
    request = DataTransferRequestInfo(station_id, ocpp_version, vendor_id, message_id, data)
    reply = await vendors.dispatch(unit, request)
    stored = data if data is None or isinstance(data, str) else json.dumps(data)
    unit.session.add(
        DataTransferMessage(
            station_id=station_id,
            vendor_id=vendor_id,
            message_id=message_id,
            data=stored,
            response_status=reply.status,
            received_at=received_at,
        )
    )
    unit.add_event(DataTransferReceived(station_id, vendor_id, message_id, reply.status))
    return reply


@dataclass(frozen=True)
class ReportedAttribute:
    """One variable attribute of a 2.0.1 NotifyReport, flattened."""

    component_name: str
    variable_name: str
    component_instance: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    variable_instance: str | None = None
    attribute_type: str | None = None  # default "Actual"
    value: str | None = None
    mutability: str | None = None
    data_type: str | None = None
    unit: str | None = None

    def key(self) -> tuple[Any, ...]:
        return (
            self.component_name,
            self.component_instance or "",
            self.evse_id or 0,
            self.connector_id or 0,
            self.variable_name,
            self.variable_instance or "",
            self.attribute_type or "Actual",
        )


async def store_report(
    unit: Unit,
    *,
    station_id: str,
    request_id: int,
    seq_no: int,
    tbc: bool,
    attributes: Sequence[ReportedAttribute],
    now: datetime,
) -> int:
    """Upsert one part of a device-model report; returns how many attributes it held.

    Existing rows of the components in this part are loaded in one query and updated in place;
    a later part or report overwrites an earlier value for the same attribute.
    """
    session = unit.session
    latest: dict[tuple[Any, ...], ReportedAttribute] = {a.key(): a for a in attributes}
    names = {a.component_name for a in latest.values()}
    existing: dict[tuple[Any, ...], ReportedVariable] = {}
    if names:
        rows = await session.scalars(
            select(ReportedVariable).where(
                ReportedVariable.station_id == station_id,
                ReportedVariable.component_name.in_(sorted(names)),
            )
        )
        existing = {row.key(): row for row in rows}
    for key, attr in latest.items():
        row = existing.get(key)
        if row is None:
            row = ReportedVariable(
                station_id=station_id,
                component_name=key[0],
                component_instance=key[1],
                evse_id=key[2],
                connector_id=key[3],
                variable_name=key[4],
                variable_instance=key[5],
                attribute_type=key[6],
            )
            session.add(row)
        row.value = attr.value
        row.mutability = attr.mutability
        row.data_type = attr.data_type
        row.unit = attr.unit
        row.request_id = request_id
        row.seq_no = seq_no
        row.updated_at = now
    if not tbc:
        unit.add_event(ReportReceived(station_id, request_id, seq_no))
    return len(attributes)
