"""Stations: identity and credentials, boot data, connector status, and what stations report.

Connector addressing is the 2.0.1 one for both versions: ``(evse_id, connector_id)``. A 1.6
``connectorId`` N is EVSE N with connector 1 (the OCPP 2.0.1 migration rule); 1.6 connector 0,
the whole station, is ``(0, 0)``. ``ocpp_connector_id`` keeps the number the 1.6 station sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from borne.core.db import Base
from borne.core.types import UTCDateTime

# BigInteger on PostgreSQL, INTEGER (and so a rowid alias with autoincrement) on SQLite.
_Id = BigInteger().with_variant(Integer(), "sqlite")
_STATION_FK = "stations.station_id"


class Station(Base):
    __tablename__ = "stations"

    station_id: Mapped[str] = mapped_column(String(48), primary_key=True)
    security_profile: Mapped[int] = mapped_column(Integer, default=0)
    # ``pbkdf2_sha256$iterations$salt$hash`` (see ``passwords``); never the password itself.
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    # A password being rotated in (R24): accepted alongside the current one until the station
    # logs in with it, which makes it current.
    pending_password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    # The operator's admission decision: Accepted | Pending | Rejected.
    registration_status: Mapped[str] = mapped_column(String(16), default="Accepted")
    # What the last BootNotification was answered (None: never booted).
    last_boot_status: Mapped[str | None] = mapped_column(String(16), default=None)
    last_boot_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    vendor: Mapped[str | None] = mapped_column(String(255), default=None)
    model: Mapped[str | None] = mapped_column(String(255), default=None)
    serial_number: Mapped[str | None] = mapped_column(String(255), default=None)
    charge_box_serial_number: Mapped[str | None] = mapped_column(String(255), default=None)
    firmware_version: Mapped[str | None] = mapped_column(String(255), default=None)
    iccid: Mapped[str | None] = mapped_column(String(255), default=None)
    imsi: Mapped[str | None] = mapped_column(String(255), default=None)
    meter_type: Mapped[str | None] = mapped_column(String(255), default=None)
    meter_serial_number: Mapped[str | None] = mapped_column(String(255), default=None)
    ocpp_version: Mapped[str | None] = mapped_column(String(16), default=None)
    boot_count: Mapped[int] = mapped_column(Integer, default=0)
    last_boot_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    disconnected_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_remote: Mapped[str | None] = mapped_column(String(255), default=None)
    # Leniency flags (known schema deviations tolerated for this station), e.g. "long-serial".
    leniency: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:  # never shows credentials, even hashed (R24, R27)
        return f"Station({self.station_id!r}, profile={self.security_profile})"


class StationBoot(Base):
    """One row per BootNotification: the boot history."""

    __tablename__ = "station_boots"
    __table_args__ = (Index("ix_station_boots_station_at", "station_id", "booted_at"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(48), ForeignKey(_STATION_FK, ondelete="CASCADE"))
    booted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32), default=None)
    ocpp_version: Mapped[str | None] = mapped_column(String(16), default=None)
    firmware_version: Mapped[str | None] = mapped_column(String(255), default=None)


class ConnectorStatus(Base):
    """The current status of one connector (or, with ``(0, 0)``, of the whole station)."""

    __tablename__ = "connector_statuses"

    station_id: Mapped[str] = mapped_column(
        String(48), ForeignKey(_STATION_FK, ondelete="CASCADE"), primary_key=True
    )
    evse_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    connector_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ocpp_connector_id: Mapped[int | None] = mapped_column(Integer, default=None)
    status: Mapped[str] = mapped_column(String(32))
    error_code: Mapped[str | None] = mapped_column(String(50), default=None)
    info: Mapped[str | None] = mapped_column(String(255), default=None)
    vendor_id: Mapped[str | None] = mapped_column(String(255), default=None)
    vendor_error_code: Mapped[str | None] = mapped_column(String(255), default=None)
    # The station's timestamp of the status (the receive time when it sent none).
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ConnectorStatusHistory(Base):
    __tablename__ = "connector_status_history"
    __table_args__ = (
        Index("ix_connector_status_history_station", "station_id", "evse_id", "connector_id"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(48), ForeignKey(_STATION_FK, ondelete="CASCADE"))
    evse_id: Mapped[int] = mapped_column(Integer)
    connector_id: Mapped[int] = mapped_column(Integer)
    ocpp_connector_id: Mapped[int | None] = mapped_column(Integer, default=None)
    status: Mapped[str] = mapped_column(String(32))
    error_code: Mapped[str | None] = mapped_column(String(50), default=None)
    info: Mapped[str | None] = mapped_column(String(255), default=None)
    vendor_id: Mapped[str | None] = mapped_column(String(255), default=None)
    vendor_error_code: Mapped[str | None] = mapped_column(String(255), default=None)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SecurityEvent(Base):
    """A security event: sent by a station, or raised by Borne about one (failed logins).

    No foreign key: failed logins are recorded for station ids Borne does not know (R25).
    """

    __tablename__ = "security_events"
    __table_args__ = (Index("ix_security_events_station_ts", "station_id", "timestamp"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(64))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime())
    tech_info: Mapped[str | None] = mapped_column(Text, default=None)
    source: Mapped[str] = mapped_column(String(8))  # "station" | "csms"
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StationNotification(Base):
    """Progress reports: firmware, signed firmware, diagnostics and log upload statuses."""

    __tablename__ = "station_notifications"
    __table_args__ = (Index("ix_station_notifications_station_kind", "station_id", "kind"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(48), ForeignKey(_STATION_FK, ondelete="CASCADE"))
    # "firmware" | "signed_firmware" | "diagnostics" | "log"
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(50))
    request_id: Mapped[int | None] = mapped_column(Integer, default=None)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime())


class DataTransferMessage(Base):
    """Every DataTransfer a station sent, with the answer it got."""

    __tablename__ = "data_transfers"
    __table_args__ = (Index("ix_data_transfers_station_at", "station_id", "received_at"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(48), ForeignKey(_STATION_FK, ondelete="CASCADE"))
    vendor_id: Mapped[str] = mapped_column(String(255))
    message_id: Mapped[str | None] = mapped_column(String(255), default=None)
    # 1.6 data is a string; 2.0.1 data is any JSON value, stored JSON-encoded.
    data: Mapped[str | None] = mapped_column(Text, default=None)
    response_status: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReportedVariable(Base):
    """A device-model variable attribute from a 2.0.1 NotifyReport, the latest value kept.

    Absent instances are stored as ``""`` and an absent EVSE or connector as ``0`` (EVSE and
    connector ids are > 0 in 2.0.1), so the unique key also works where NULLs are all distinct.
    """

    __tablename__ = "reported_variables"
    __table_args__ = (
        UniqueConstraint(
            "station_id",
            "component_name",
            "component_instance",
            "evse_id",
            "connector_id",
            "variable_name",
            "variable_instance",
            "attribute_type",
        ),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(48), ForeignKey(_STATION_FK, ondelete="CASCADE"))
    component_name: Mapped[str] = mapped_column(String(50))
    component_instance: Mapped[str] = mapped_column(String(50), default="")
    evse_id: Mapped[int] = mapped_column(Integer, default=0)
    connector_id: Mapped[int] = mapped_column(Integer, default=0)
    variable_name: Mapped[str] = mapped_column(String(50))
    variable_instance: Mapped[str] = mapped_column(String(50), default="")
    attribute_type: Mapped[str] = mapped_column(String(16), default="Actual")
    value: Mapped[str | None] = mapped_column(Text, default=None)
    mutability: Mapped[str | None] = mapped_column(String(16), default=None)
    data_type: Mapped[str | None] = mapped_column(String(16), default=None)
    unit: Mapped[str | None] = mapped_column(String(16), default=None)
    request_id: Mapped[int] = mapped_column(Integer)
    seq_no: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    def key(self) -> tuple[Any, ...]:
        return (
            self.component_name,
            self.component_instance,
            self.evse_id,
            self.connector_id,
            self.variable_name,
            self.variable_instance,
            self.attribute_type,
        )
