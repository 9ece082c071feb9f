"""Operator API models of the commands: request bodies and the results sent back.

Addressing follows OCPP 2.0.1 (``evse_id`` + ``connector_id``); on a 1.6 station the connector
is ``evse_id`` when given, else ``connector_id`` (a 1.6 connector is a 2.0.1 EVSE).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field

from borne.commands.results import (
    AttributeKind,
    Availability,
    CommandResult,
    IdTokenKind,
    RawResult,
    ReportBase,
    ResetKind,
    TriggerKind,
    VariableGet,
    VariableOutcome,
    VariableRef,
    VariableSet,
    VariablesResult,
)

EvseId = Annotated[int | None, Field(default=None, ge=0, description="2.0.1 EVSE id")]
ConnectorId = Annotated[int | None, Field(default=None, ge=0, description="connector id")]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RemoteStartIn(Body):
    id_token: str = Field(min_length=1, max_length=36, description="1.6: idTag (≤ 20 chars)")
    id_token_type: IdTokenKind = Field("Central", description="2.0.1 only")
    evse_id: EvseId
    connector_id: ConnectorId
    remote_start_id: int | None = Field(
        None, description="2.0.1 only; generated when absent and returned in the result"
    )


class RemoteStopIn(Body):
    transaction_id: Annotated[str, Field(min_length=1, max_length=36)] | int = Field(
        description="the station's transaction id (an integer on 1.6)"
    )


class ResetIn(Body):
    type: ResetKind = Field(description="2.0.1: hard → Immediate, soft → OnIdle")
    evse_id: EvseId


class UnlockConnectorIn(Body):
    evse_id: EvseId
    connector_id: ConnectorId


class ReserveNowIn(Body):
    reservation_id: int = Field(ge=0, description="chosen by the caller; cancels refer to it")
    id_token: str = Field(min_length=1, max_length=36, description="1.6: idTag (≤ 20 chars)")
    id_token_type: IdTokenKind = Field("Central", description="2.0.1 only")
    expiry: datetime = Field(description="when the reservation lapses (with a time zone)")
    evse_id: EvseId
    connector_id: ConnectorId
    group_id_token: str | None = Field(
        None, max_length=36, description="1.6 parentIdTag / 2.0.1 groupIdToken"
    )


class CancelReservationIn(Body):
    reservation_id: int = Field(ge=0)


class ChangeAvailabilityIn(Body):
    availability: Availability
    evse_id: EvseId
    connector_id: ConnectorId = Field(None, ge=0, description="1.6: 0 or absent = the station")


class GetConfigurationIn(Body):
    keys: list[Annotated[str, Field(min_length=1, max_length=50)]] | None = None


class ChangeConfigurationIn(Body):
    key: str = Field(min_length=1, max_length=50)
    value: str = Field(max_length=500)


class VariableRefIn(Body):
    component: str = Field(min_length=1, max_length=50)
    variable: str = Field(min_length=1, max_length=50)
    component_instance: str | None = Field(None, max_length=50)
    variable_instance: str | None = Field(None, max_length=50)
    evse_id: EvseId
    connector_id: ConnectorId

    def ref(self) -> VariableRef:
        return VariableRef(
            component=self.component,
            variable=self.variable,
            component_instance=self.component_instance,
            variable_instance=self.variable_instance,
            evse_id=self.evse_id,
            connector_id=self.connector_id,
        )


class GetVariableIn(VariableRefIn):
    attribute_type: AttributeKind | None = None

    def item(self) -> VariableGet:
        return VariableGet(ref=self.ref(), attribute_type=self.attribute_type)


class SetVariableIn(VariableRefIn):
    attribute_type: AttributeKind | None = None
    value: str = Field(max_length=1000)

    def item(self) -> VariableSet:
        return VariableSet(ref=self.ref(), value=self.value, attribute_type=self.attribute_type)


class GetVariablesIn(Body):
    variables: list[GetVariableIn] = Field(min_length=1)


class SetVariablesIn(Body):
    variables: list[SetVariableIn] = Field(min_length=1)


class GetBaseReportIn(Body):
    report_base: ReportBase
    request_id: int | None = Field(None, description="generated when absent")


class TriggerMessageIn(Body):
    message: TriggerKind
    evse_id: EvseId
    connector_id: ConnectorId


class DataTransferIn(Body):
    vendor_id: str = Field(min_length=1, max_length=255)
    message_id: str | None = Field(None, max_length=50)
    data: Any = Field(None, description="1.6: a string; other values are sent as JSON text")


class RawCallIn(Body):
    action: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")
    payload: dict[str, Any] = Field(default_factory=dict)


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class CommandOut(Out):
    station_id: str
    ocpp_version: str
    action: str = Field(description="the OCPP action sent")
    status: str = Field(description="the station's status word, e.g. Accepted")
    reason: str | None = Field(None, description="2.0.1 statusInfo.reasonCode")
    reason_info: str | None = Field(None, description="2.0.1 statusInfo.additionalInfo")
    raw: dict[str, Any] = Field(description="the station's answer, as received")

    @classmethod
    def of(cls, result: CommandResult) -> Self:
        return cls.model_validate(result)


class RemoteStartOut(CommandOut):
    remote_start_id: int | None = None
    transaction_id: str | None = None


class ReportOut(CommandOut):
    request_id: int


class DataTransferOut(CommandOut):
    data: Any = None


class ConfigurationEntryOut(Out):
    key: str
    value: str | None
    readonly: bool


class ConfigurationOut(CommandOut):
    entries: list[ConfigurationEntryOut]
    unknown_keys: list[str]


class VariableOutcomeOut(BaseModel):
    component: str
    variable: str
    component_instance: str | None = None
    variable_instance: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    status: str
    attribute_type: str | None = None
    value: str | None = None
    reason: str | None = None
    reason_info: str | None = None

    @classmethod
    def of(cls, o: VariableOutcome) -> VariableOutcomeOut:
        return cls(
            component=o.ref.component,
            variable=o.ref.variable,
            component_instance=o.ref.component_instance,
            variable_instance=o.ref.variable_instance,
            evse_id=o.ref.evse_id,
            connector_id=o.ref.connector_id,
            status=o.status,
            attribute_type=o.attribute_type,
            value=o.value,
            reason=o.reason,
            reason_info=o.reason_info,
        )


class VariablesOut(CommandOut):
    status: str = Field(
        description="Accepted when every variable succeeded, Rejected when none did, else Partial"
    )
    results: list[VariableOutcomeOut]

    @classmethod
    def of_variables(cls, result: VariablesResult) -> VariablesOut:
        return cls(
            station_id=result.station_id,
            ocpp_version=result.ocpp_version,
            action=result.action,
            status=result.status,
            reason=result.reason,
            reason_info=result.reason_info,
            raw=result.raw,
            results=[VariableOutcomeOut.of(o) for o in result.results],
        )


class RawCallOut(Out):
    station_id: str
    ocpp_version: str
    action: str
    raw: dict[str, Any] = Field(description="the station's CALLRESULT payload")

    @classmethod
    def of(cls, result: RawResult) -> RawCallOut:
        return cls.model_validate(result)
