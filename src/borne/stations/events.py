"""Domain events of the stations domain, published after commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class StationCreated:
    station_id: str
    registration_status: str
    # True when created by the registration policy on first connect, not by an operator.
    auto_registered: bool


@dataclass(frozen=True)
class StationUpdated:
    station_id: str
    registration_status: str
    security_profile: int


@dataclass(frozen=True)
class StationDeleted:
    station_id: str


@dataclass(frozen=True)
class StationConnectionChanged:
    """The station's socket opened (``connected``) or closed; partners see it as online or
    UNKNOWN."""

    station_id: str
    connected: bool
    at: datetime


@dataclass(frozen=True)
class StationBooted:
    station_id: str
    status: str  # what the boot was answered: Accepted | Pending | Rejected
    ocpp_version: str
    reason: str | None
    vendor: str | None
    model: str | None
    firmware_version: str | None
    booted_at: datetime


@dataclass(frozen=True)
class StationStatusChanged:
    station_id: str
    evse_id: int
    connector_id: int
    status: str
    previous_status: str | None
    error_code: str | None
    timestamp: datetime


@dataclass(frozen=True)
class SecurityEventReceived:
    station_id: str
    type: str
    timestamp: datetime
    source: str  # "station" | "csms"
    tech_info: str | None


@dataclass(frozen=True)
class StationNotificationReceived:
    station_id: str
    kind: str  # "firmware" | "signed_firmware" | "diagnostics" | "log"
    status: str
    request_id: int | None
    timestamp: datetime


@dataclass(frozen=True)
class DataTransferReceived:
    station_id: str
    vendor_id: str
    message_id: str | None
    status: str


@dataclass(frozen=True)
class ReportReceived:
    """The last part (``tbc`` false) of a 2.0.1 NotifyReport was stored."""

    station_id: str
    request_id: int
    seq_no: int
