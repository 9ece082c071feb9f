"""Operator API models of the stations: request bodies and what is sent back.

Passwords are write-only (R27): request bodies take them as ``SecretStr`` (masked in reprs and
logs) and no response carries a password or its hash, only ``has_password`` and
``password_rotation_pending``. Device-model values a station should never report (write-only
variables such as ``BasicAuthPassword``) are masked as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from borne.stations import passwords
from borne.stations.admin import StationView
from borne.stations.models import ConnectorStatus, ReportedVariable
from borne.stations.rotation import RotationResult
from borne.stations.unit import Page

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

RegistrationStatus = Literal["Accepted", "Pending", "Rejected"]
NotificationKind = Literal["firmware", "signed_firmware", "diagnostics", "log"]
SecurityEventSource = Literal["station", "csms"]
# Printable ASCII only: nothing that a database refuses (NUL) or a log would mangle.
PRINTABLE = r"^[\x20-\x7e]+$"
# A station id: printable ASCII without spaces or ':' ('/' cannot reach a path segment).
STATION_ID = r"^[\x21-\x39\x3b-\x7e]+$"
LeniencyFlag = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")]


def _hashable(value: SecretStr) -> SecretStr:
    # A JSON "\ud800" escape gives a lone surrogate, which cannot be encoded to be hashed.
    try:
        value.get_secret_value().encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


Password = Annotated[
    SecretStr,
    AfterValidator(_hashable),
    Field(
        min_length=passwords.MIN_LENGTH,
        max_length=passwords.MAX_LENGTH,
        description=f"write-only, {passwords.MIN_LENGTH} to {passwords.MAX_LENGTH} characters; "
        "stored salted and hashed, never returned",
    ),
]
# Variables whose value is a secret: a station should not report them, and if it does, the
# API does not repeat them (R27).
SECRET_VARIABLES = frozenset({"BasicAuthPassword", "AuthorizationKey"})


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StationIn(Body):
    station_id: str = Field(
        min_length=1,
        max_length=48,
        description="the station's identity: 1 to 48 printable ASCII characters, "
        "no spaces, ':' or '/'",
    )
    security_profile: int = Field(1, ge=0, le=3, description="OCPP security profile 0 to 3")
    password: Password | None = Field(None, description="required for security profiles 1-3")
    registration_status: RegistrationStatus = "Accepted"
    leniency: list[LeniencyFlag] = Field(
        default_factory=list, max_length=32, description="schema deviations tolerated"
    )


class StationPatch(Body):
    """Only the fields given change; ``null`` or an absent field leaves it as it is."""

    registration_status: RegistrationStatus | None = None
    security_profile: int | None = Field(None, ge=0, le=3)
    password: Password | None = Field(
        None, description="replaces the current password at once (cancels a pending rotation)"
    )
    leniency: list[LeniencyFlag] | None = Field(None, max_length=32)


class PasswordRotationIn(Body):
    new_password: Password = Field(
        description="write-only, 16 to 40 printable ASCII characters without spaces; sent to "
        "the station, stored salted and hashed, never returned"
    )


class PasswordRotationOut(BaseModel):
    """The station's answer to the new password (R24)."""

    station_id: str
    ocpp_version: str
    action: str = Field(description="ChangeConfiguration (1.6) or SetVariables (2.0.1)")
    status: str = Field(
        description="the station's answer: Accepted, RebootRequired, Rejected, NotSupported..."
    )
    accepted: bool = Field(description="whether the station will use the new password")
    password_rotation_pending: bool = Field(
        description="the new password is valid beside the current one until the station logs "
        "in with it; then the current one is retired"
    )
    reason: str | None = Field(None, description="2.0.1 statusInfo.reasonCode")

    @classmethod
    def of(cls, result: RotationResult) -> PasswordRotationOut:
        return cls(
            station_id=result.station_id,
            ocpp_version=result.ocpp_version.value,
            action=result.action,
            status=result.status,
            accepted=result.accepted,
            password_rotation_pending=result.pending,
            reason=result.reason,
        )


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int


def page_out(out: type[M], page: Page[Any]) -> PageOut[M]:
    """A ``PageOut`` of a service page, each row read into ``out``."""
    return PageOut(
        items=[out.model_validate(row) for row in page.items],
        total=page.total,
        offset=page.offset,
        limit=page.limit,
    )


class ConnectorStatusOut(Out):
    evse_id: int = Field(description="0 with connector 0: the whole station")
    connector_id: int
    ocpp_connector_id: int | None = Field(description="the 1.6 connectorId as sent")
    status: str
    error_code: str | None
    info: str | None
    vendor_id: str | None
    vendor_error_code: str | None
    timestamp: datetime
    updated_at: datetime


class StationOut(BaseModel):
    station_id: str
    security_profile: int
    registration_status: str
    admission_status: str = Field(description="what the OCPP layer applies now")
    has_password: bool
    password_rotation_pending: bool
    leniency: list[str]
    connected: bool = Field(description="whether the station has a live connection now")
    ocpp_version: str | None = Field(description="the live connection's OCPP version")
    last_ocpp_version: str | None = Field(description="the version of the last connection")
    connected_at: datetime | None
    disconnected_at: datetime | None
    boot_count: int
    last_boot_at: datetime | None
    last_boot_status: str | None
    last_boot_reason: str | None
    last_heartbeat_at: datetime | None
    vendor: str | None
    model: str | None
    serial_number: str | None
    charge_box_serial_number: str | None
    firmware_version: str | None
    iccid: str | None
    imsi: str | None
    meter_type: str | None
    meter_serial_number: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: StationView, *, live_version: str | None) -> StationOut:
        """``live_version``: the live connection's version, None when not connected."""
        return cls(
            station_id=view.station_id,
            security_profile=view.security_profile,
            registration_status=view.registration_status,
            admission_status=view.admission_status,
            has_password=view.has_password,
            password_rotation_pending=view.password_rotation_pending,
            leniency=list(view.leniency),
            connected=live_version is not None,
            ocpp_version=live_version,
            last_ocpp_version=view.ocpp_version,
            connected_at=view.connected_at,
            disconnected_at=view.disconnected_at,
            boot_count=view.boot_count,
            last_boot_at=view.last_boot_at,
            last_boot_status=view.last_boot_status,
            last_boot_reason=view.last_boot_reason,
            last_heartbeat_at=view.last_heartbeat_at,
            vendor=view.vendor,
            model=view.model,
            serial_number=view.serial_number,
            charge_box_serial_number=view.charge_box_serial_number,
            firmware_version=view.firmware_version,
            iccid=view.iccid,
            imsi=view.imsi,
            meter_type=view.meter_type,
            meter_serial_number=view.meter_serial_number,
            created_at=view.created_at,
            updated_at=view.updated_at,
        )


class StationDetailOut(StationOut):
    connectors: list[ConnectorStatusOut] = Field(description="current status of each connector")

    @classmethod
    def of_detail(
        cls,
        view: StationView,
        connectors: Sequence[ConnectorStatus],
        *,
        live_version: str | None,
    ) -> StationDetailOut:
        base = StationOut.of(view, live_version=live_version)
        return cls(
            **base.model_dump(),
            connectors=[ConnectorStatusOut.model_validate(c) for c in connectors],
        )


class StatusHistoryOut(Out):
    id: int
    evse_id: int
    connector_id: int
    ocpp_connector_id: int | None
    status: str
    error_code: str | None
    info: str | None
    vendor_id: str | None
    vendor_error_code: str | None
    timestamp: datetime
    received_at: datetime


class SecurityEventOut(Out):
    id: int
    station_id: str
    type: str
    timestamp: datetime
    tech_info: str | None
    source: str = Field(description="'station' (reported by it) or 'csms' (raised by Borne)")
    received_at: datetime


class BootOut(Out):
    id: int
    booted_at: datetime
    status: str
    reason: str | None
    ocpp_version: str | None
    firmware_version: str | None


class NotificationOut(Out):
    id: int
    kind: str
    status: str
    request_id: int | None
    timestamp: datetime


class StationDataTransferOut(Out):
    id: int
    vendor_id: str
    message_id: str | None
    data: str | None = Field(description="1.6: the string sent; 2.0.1: the value as JSON text")
    response_status: str
    received_at: datetime


class ReportedVariableOut(BaseModel):
    component_name: str
    component_instance: str
    evse_id: int
    connector_id: int
    variable_name: str
    variable_instance: str
    attribute_type: str
    value: str | None
    value_hidden: bool = Field(description="the value is a secret and is not shown")
    mutability: str | None
    data_type: str | None
    unit: str | None
    request_id: int
    seq_no: int
    updated_at: datetime

    @classmethod
    def of(cls, r: ReportedVariable) -> ReportedVariableOut:
        hidden = r.mutability == "WriteOnly" or r.variable_name in SECRET_VARIABLES
        return cls(
            component_name=r.component_name,
            component_instance=r.component_instance,
            evse_id=r.evse_id,
            connector_id=r.connector_id,
            variable_name=r.variable_name,
            variable_instance=r.variable_instance,
            attribute_type=r.attribute_type,
            value=None if hidden else r.value,
            value_hidden=hidden and r.value is not None,
            mutability=r.mutability,
            data_type=r.data_type,
            unit=r.unit,
            request_id=r.request_id,
            seq_no=r.seq_no,
            updated_at=r.updated_at,
        )
