"""Operator API models of diagnostics: log requests and files, customer information,
variable monitoring and station events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, Self, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from borne.commands.results import IdTokenKind, VariableRef
from borne.commands.schemas import CommandOut, VariableRefIn
from borne.diagnostics.models import (
    CustomerInformationPart,
    CustomerInformationRequest,
    LogRequest,
)
from borne.diagnostics.results import (
    ClearMonitorsResult,
    LogAction,
    LogType,
    MonitoringBase,
    MonitoringCriterion,
    MonitorSet,
    MonitorType,
    SetMonitorsResult,
)

T = TypeVar("T")
Severity = Annotated[int, Field(ge=0, le=9, description="0 Danger … 9 Debug")]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int


# ------------------------------------------------------------------------------------ logs


class LogRequestIn(Body):
    log_type: LogType = "DiagnosticsLog"
    action: LogAction | None = Field(
        None,
        description="GetDiagnostics (1.6 only) or GetLog; default: GetDiagnostics for a 1.6 "
        "diagnostics log, GetLog otherwise",
    )
    oldest_timestamp: AwareDatetime | None = Field(None, description="1.6 startTime")
    latest_timestamp: AwareDatetime | None = Field(None, description="1.6 stopTime")
    retries: int | None = Field(None, ge=0, le=100)
    retry_interval: int | None = Field(None, ge=0, le=86_400, description="seconds")


class LogFileOut(Out):
    filename: str | None
    content_type: str | None
    size: int
    sha256: str
    uploaded_at: datetime


class LogRequestOut(Out):
    id: int = Field(description="Borne's id of the log request, used in this API's paths")
    station_id: str
    ocpp_version: str
    action: str
    log_type: str
    request_id: int | None = Field(description="GetLog requestId")
    oldest_timestamp: datetime | None
    latest_timestamp: datetime | None
    retries: int | None
    retry_interval: int | None
    status: str = Field(
        description="Requested, the station's answer (Accepted, Rejected, AcceptedCanceled, "
        "NoFile), CallFailed, then its notifications (Uploading, Uploaded, UploadFailed, ...)"
    )
    status_info: str | None
    status_at: datetime
    filename: str | None = Field(description="the file name the station announced")
    token_expires_at: datetime = Field(description="the upload URL is refused after this")
    created_at: datetime
    file: LogFileOut | None = Field(description="the file received, if any")

    @classmethod
    def of(cls, row: LogRequest) -> LogRequestOut:
        file = None
        if row.stored_name is not None and row.uploaded_at is not None:
            file = LogFileOut(
                filename=row.upload_filename,
                content_type=row.upload_content_type,
                size=row.upload_size or 0,
                sha256=row.upload_sha256 or "",
                uploaded_at=row.uploaded_at,
            )
        fields = {k: getattr(row, k) for k in cls.model_fields if k != "file"}
        return cls(**fields, file=file)


class LogCommandOut(BaseModel):
    command: CommandOut
    log: LogRequestOut


# ---------------------------------------------------------------------- customer information


class CertificateHashIn(Body):
    hash_algorithm: Literal["SHA256", "SHA384", "SHA512"]
    issuer_name_hash: str = Field(min_length=1, max_length=128)
    issuer_key_hash: str = Field(min_length=1, max_length=128)
    serial_number: str = Field(min_length=1, max_length=40)


class CustomerInformationIn(Body):
    report: bool = Field(True, description="send the customer's data (NotifyCustomerInformation)")
    clear: bool = Field(False, description="delete the customer's data on the station")
    customer_identifier: str | None = Field(None, min_length=1, max_length=64)
    id_token: str | None = Field(None, min_length=1, max_length=36)
    id_token_type: IdTokenKind | None = None
    customer_certificate: CertificateHashIn | None = None

    @model_validator(mode="after")
    def _one_customer(self) -> Self:
        given = [self.customer_identifier, self.id_token, self.customer_certificate]
        if sum(x is not None for x in given) != 1:
            raise ValueError(
                "exactly one of customer_identifier, id_token, customer_certificate is required"
            )
        if not (self.report or self.clear):
            raise ValueError("report or clear (or both) must be true")
        return self


class CustomerInformationPartOut(Out):
    seq_no: int
    tbc: bool
    data: str
    generated_at: datetime
    received_at: datetime


class CustomerInformationOut(Out):
    id: int
    station_id: str
    request_id: int
    report: bool
    clear: bool
    customer_identifier: str | None
    id_token: str | None
    id_token_type: str | None
    customer_certificate: dict[str, Any] | None
    status: str
    status_info: str | None
    created_at: datetime
    complete: bool = Field(description="the last part (tbc false) was received")
    data: str = Field(description="the parts' data, in seqNo order")
    parts: list[CustomerInformationPartOut]

    @classmethod
    def of(
        cls, row: CustomerInformationRequest, parts: list[CustomerInformationPart]
    ) -> CustomerInformationOut:
        names = set(cls.model_fields) - {"complete", "data", "parts"}
        return cls(
            **{k: getattr(row, k) for k in names},
            complete=any(not p.tbc for p in parts),
            data="".join(p.data for p in parts),
            parts=[CustomerInformationPartOut.model_validate(p) for p in parts],
        )


class CustomerInformationCommandOut(BaseModel):
    command: CommandOut
    customer_information: CustomerInformationOut


# ---------------------------------------------------------------------------- monitoring


class MonitorIn(VariableRefIn):
    type: MonitorType
    value: float = Field(description="threshold, delta or interval (seconds) by type")
    severity: Severity
    id: int | None = Field(None, ge=0, description="the station's id of a monitor to replace")
    transaction: bool = False

    def item(self) -> MonitorSet:
        return MonitorSet(
            ref=self.ref(),
            type=self.type,
            value=self.value,
            severity=self.severity,
            id=self.id,
            transaction=self.transaction,
        )


class SetMonitoringIn(Body):
    monitors: list[MonitorIn] = Field(min_length=1, max_length=100)


class MonitorOutcomeOut(BaseModel):
    id: int | None
    component: str
    variable: str
    component_instance: str | None
    variable_instance: str | None
    evse_id: int | None
    connector_id: int | None
    type: str
    severity: int
    status: str
    reason: str | None
    reason_info: str | None


def _ref_fields(ref: VariableRef) -> dict[str, Any]:
    return {
        "component": ref.component,
        "variable": ref.variable,
        "component_instance": ref.component_instance,
        "variable_instance": ref.variable_instance,
        "evse_id": ref.evse_id,
        "connector_id": ref.connector_id,
    }


class SetMonitoringOut(CommandOut):
    results: list[MonitorOutcomeOut]

    @classmethod
    def of_result(cls, r: SetMonitorsResult) -> SetMonitoringOut:
        return cls(
            **CommandOut.of(r).model_dump(),
            results=[
                MonitorOutcomeOut(
                    id=o.id,
                    type=o.type,
                    severity=o.severity,
                    status=o.status,
                    reason=o.reason,
                    reason_info=o.reason_info,
                    **_ref_fields(o.ref),
                )
                for o in r.results
            ],
        )


class ClearMonitoringIn(Body):
    ids: list[Annotated[int, Field(ge=0)]] = Field(min_length=1, max_length=100)


class ClearOutcomeOut(Out):
    id: int
    status: str
    reason: str | None
    reason_info: str | None


class ClearMonitoringOut(CommandOut):
    results: list[ClearOutcomeOut]

    @classmethod
    def of_result(cls, r: ClearMonitorsResult) -> ClearMonitoringOut:
        return cls(
            **CommandOut.of(r).model_dump(),
            results=[ClearOutcomeOut.model_validate(o) for o in r.results],
        )


class MonitoringBaseIn(Body):
    monitoring_base: MonitoringBase


class MonitoringLevelIn(Body):
    severity: Severity


class ComponentVariableIn(Body):
    component: str = Field(min_length=1, max_length=50)
    component_instance: str | None = Field(None, max_length=50)
    evse_id: int | None = Field(None, ge=0)
    connector_id: int | None = Field(None, ge=0)
    variable: str | None = Field(None, min_length=1, max_length=50)
    variable_instance: str | None = Field(None, max_length=50)

    def ref(self) -> VariableRef:
        return VariableRef(
            component=self.component,
            variable=self.variable or "",
            component_instance=self.component_instance,
            variable_instance=self.variable_instance,
            evse_id=self.evse_id,
            connector_id=self.connector_id,
        )


class MonitoringReportIn(Body):
    criteria: list[MonitoringCriterion] | None = None
    component_variables: list[ComponentVariableIn] | None = None
    request_id: int | None = Field(None, ge=0, description="generated when absent")


class MonitorOut(Out):
    monitor_id: int
    component: str
    component_instance: str | None
    evse_id: int | None
    connector_id: int | None
    variable: str
    variable_instance: str | None
    type: str
    value: float
    severity: int
    transaction: bool
    source: str = Field(description="set (through this API) or report (NotifyMonitoringReport)")
    updated_at: datetime


class MonitoringOut(BaseModel):
    station_id: str
    monitoring_base: str | None
    monitoring_level: int | None
    monitors: list[MonitorOut]


# -------------------------------------------------------------------------------- events


class StationEventOut(Out):
    id: int
    station_id: str
    event_id: int
    timestamp: datetime
    trigger: str
    cause: int | None
    actual_value: str
    tech_code: str | None
    tech_info: str | None
    cleared: bool
    transaction_id: str | None
    component: str
    component_instance: str | None
    evse_id: int | None
    connector_id: int | None
    variable: str
    variable_instance: str | None
    variable_monitoring_id: int | None
    event_notification_type: str
    generated_at: datetime
    received_at: datetime
