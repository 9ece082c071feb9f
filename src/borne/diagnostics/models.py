"""Diagnostics tables: log requests and their uploaded files, customer information, variable
monitors and the events stations notify.

Component addressing follows the 2.0.1 device model: component (name, instance, EVSE,
connector) + variable (name, instance).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
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

# BigInteger on PostgreSQL, INTEGER (a rowid alias with autoincrement) on SQLite.
_Id = BigInteger().with_variant(Integer(), "sqlite")
_STATION_FK = "stations.station_id"

# Statuses Borne gives a log request itself; the others are the station's own words.
REQUESTED = "Requested"  # stored, the call not answered yet
CALL_FAILED = "CallFailed"  # the station did not answer or answered a CALLERROR
NO_FILE = "NoFile"  # 1.6 GetDiagnostics answered without a file name: nothing to upload


class LogRequest(Base):
    """One GetDiagnostics (1.6) or GetLog (both versions), its status and its uploaded file."""

    __tablename__ = "diagnostics_log_requests"
    __table_args__ = (
        Index("ix_diagnostics_log_requests_station", "station_id", "id"),
        Index("ix_diagnostics_log_requests_station_request", "station_id", "request_id"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(48), ForeignKey(_STATION_FK, ondelete="CASCADE"))
    ocpp_version: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))  # GetDiagnostics | GetLog
    log_type: Mapped[str] = mapped_column(String(32))  # DiagnosticsLog | SecurityLog
    # GetLog's requestId; None for GetDiagnostics, whose notifications carry none.
    request_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    oldest_timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    latest_timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    retries: Mapped[int | None] = mapped_column(Integer, default=None)
    retry_interval: Mapped[int | None] = mapped_column(Integer, default=None)
    status: Mapped[str] = mapped_column(String(32))
    status_info: Mapped[str | None] = mapped_column(Text, default=None)
    status_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The file name the station announced in its answer.
    filename: Mapped[str | None] = mapped_column(String(255), default=None)
    # SHA-256 of the upload token: the token itself is only in the URL given to the station.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The received file: stored as ``<uploads_dir>/<stored_name>``, never under a station's name.
    stored_name: Mapped[str | None] = mapped_column(String(64), default=None)
    upload_filename: Mapped[str | None] = mapped_column(String(255), default=None)
    upload_content_type: Mapped[str | None] = mapped_column(String(255), default=None)
    upload_size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    upload_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class CustomerInformationRequest(Base):
    """A 2.0.1 CustomerInformation request; its report arrives in NotifyCustomerInformation."""

    __tablename__ = "diagnostics_customer_information"
    __table_args__ = (
        Index("ix_diagnostics_customer_information_station", "station_id", "request_id"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(48), ForeignKey(_STATION_FK, ondelete="CASCADE"))
    request_id: Mapped[int] = mapped_column(BigInteger)
    report: Mapped[bool] = mapped_column(Boolean)
    clear: Mapped[bool] = mapped_column(Boolean)
    customer_identifier: Mapped[str | None] = mapped_column(String(64), default=None)
    id_token: Mapped[str | None] = mapped_column(String(36), default=None)
    id_token_type: Mapped[str | None] = mapped_column(String(20), default=None)
    # CertificateHashDataType in its wire (camelCase) form.
    customer_certificate: Mapped[dict[str, str] | None] = mapped_column(JSON, default=None)
    status: Mapped[str] = mapped_column(String(32))
    status_info: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CustomerInformationPart(Base):
    """One NotifyCustomerInformation message; the report is the parts' data in seqNo order."""

    __tablename__ = "diagnostics_customer_information_parts"
    __table_args__ = (
        UniqueConstraint("station_id", "request_id", "seq_no", name="uq_diag_ci_parts_seq"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(48), ForeignKey(_STATION_FK, ondelete="CASCADE"))
    request_id: Mapped[int] = mapped_column(BigInteger)
    seq_no: Mapped[int] = mapped_column(Integer)
    tbc: Mapped[bool] = mapped_column(Boolean)
    data: Mapped[str] = mapped_column(Text)
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class VariableMonitor(Base):
    """A monitor the station has, as set through SetVariableMonitoring or reported by
    NotifyMonitoringReport; cleared monitors are deleted."""

    __tablename__ = "diagnostics_variable_monitors"
    __table_args__ = (
        UniqueConstraint("station_id", "monitor_id", name="uq_diag_monitors_station_id"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(48), ForeignKey(_STATION_FK, ondelete="CASCADE"))
    monitor_id: Mapped[int] = mapped_column(Integer)  # the station's id of the monitor
    component: Mapped[str] = mapped_column(String(50))
    component_instance: Mapped[str | None] = mapped_column(String(50), default=None)
    evse_id: Mapped[int | None] = mapped_column(Integer, default=None)
    connector_id: Mapped[int | None] = mapped_column(Integer, default=None)
    variable: Mapped[str] = mapped_column(String(50))
    variable_instance: Mapped[str | None] = mapped_column(String(50), default=None)
    type: Mapped[str] = mapped_column(String(32))  # MonitorEnumType
    value: Mapped[float] = mapped_column(Float)
    severity: Mapped[int] = mapped_column(Integer)
    transaction: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(8))  # "set" | "report"
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MonitoringSettings(Base):
    """The monitoring base and level a station accepted (SetMonitoringBase/Level)."""

    __tablename__ = "diagnostics_monitoring_settings"

    station_id: Mapped[str] = mapped_column(
        String(48), ForeignKey(_STATION_FK, ondelete="CASCADE"), primary_key=True
    )
    monitoring_base: Mapped[str | None] = mapped_column(String(16), default=None)
    monitoring_level: Mapped[int | None] = mapped_column(Integer, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StationEvent(Base):
    """One eventData of a 2.0.1 NotifyEvent."""

    __tablename__ = "diagnostics_station_events"
    __table_args__ = (
        Index("ix_diagnostics_station_events_station_at", "station_id", "timestamp"),
        Index("ix_diagnostics_station_events_at", "timestamp"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(48), ForeignKey(_STATION_FK, ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(Integer)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime())
    trigger: Mapped[str] = mapped_column(String(16))  # Alerting | Delta | Periodic
    cause: Mapped[int | None] = mapped_column(Integer, default=None)
    actual_value: Mapped[str] = mapped_column(String(2500))
    tech_code: Mapped[str | None] = mapped_column(String(50), default=None)
    tech_info: Mapped[str | None] = mapped_column(Text, default=None)
    cleared: Mapped[bool] = mapped_column(Boolean, default=False)
    transaction_id: Mapped[str | None] = mapped_column(String(36), default=None)
    component: Mapped[str] = mapped_column(String(50))
    component_instance: Mapped[str | None] = mapped_column(String(50), default=None)
    evse_id: Mapped[int | None] = mapped_column(Integer, default=None)
    connector_id: Mapped[int | None] = mapped_column(Integer, default=None)
    variable: Mapped[str] = mapped_column(String(50))
    variable_instance: Mapped[str | None] = mapped_column(String(50), default=None)
    variable_monitoring_id: Mapped[int | None] = mapped_column(Integer, default=None)
    event_notification_type: Mapped[str] = mapped_column(String(32))
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    seq_no: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
