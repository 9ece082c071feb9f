"""Operator API models of the device model and the 1.6 configuration."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from borne.commands.results import ReportBase
from borne.commands.schemas import Body, EvseId
from borne.device_model import service
from borne.device_model.models import (
    ConfigurationKey,
    ConfigurationSnapshot,
    DeviceAttribute,
    DeviceReport,
    DeviceVariable,
)

Criterion = Literal["Active", "Available", "Enabled", "Problem"]


class ComponentVariableIn(Body):
    """A GetReport ``componentVariable``: no ``variable`` asks for all of the component's."""

    component: str = Field(min_length=1, max_length=50)
    variable: str | None = Field(None, min_length=1, max_length=50)
    component_instance: str | None = Field(None, max_length=50)
    variable_instance: str | None = Field(None, max_length=50)
    evse_id: EvseId
    connector_id: int | None = Field(None, ge=0)

    def address(self) -> service.Address:
        return service.Address(
            component=self.component,
            variable=self.variable or "",
            component_instance=self.component_instance,
            variable_instance=self.variable_instance,
            evse_id=self.evse_id,
            connector_id=self.connector_id,
        )


class RefreshIn(Body):
    """``report_base`` → GetBaseReport; ``criteria`` and/or ``components`` → GetReport."""

    report_base: ReportBase | None = Field(
        None, description="FullInventory replaces the stored model; the others merge into it"
    )
    criteria: list[Criterion] | None = Field(None, min_length=1, max_length=4)
    components: list[ComponentVariableIn] | None = Field(None, min_length=1)
    request_id: int | None = Field(None, ge=0, le=2**31 - 1, description="generated if absent")


class ConfigurationRefreshIn(Body):
    keys: list[str] | None = Field(
        None,
        min_length=1,
        description="only these keys (merged); without keys the whole snapshot is replaced",
    )


class ConfigurationValueIn(Body):
    value: str = Field(max_length=500)


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class AttributeOut(Out):
    type: str = Field(description="Actual | Target | MinSet | MaxSet")
    value: str | None = Field(description="never shown for WriteOnly attributes")
    mutability: str | None
    persistent: bool | None
    constant: bool | None
    source: str = Field(description="where the value comes from: report | get | set")
    updated_at: datetime


class VariableOut(Out):
    component: str
    component_instance: str | None
    evse_id: int | None
    connector_id: int | None
    variable: str
    variable_instance: str | None
    data_type: str | None
    unit: str | None
    min_limit: float | None
    max_limit: float | None
    values_list: str | None
    supports_monitoring: bool | None
    attributes: list[AttributeOut]
    updated_at: datetime

    @classmethod
    def of(cls, v: DeviceVariable) -> VariableOut:
        return cls(
            component=v.component_name,
            component_instance=v.component_instance or None,
            evse_id=v.evse_id or None,
            connector_id=v.connector_id or None,
            variable=v.variable_name,
            variable_instance=v.variable_instance or None,
            data_type=v.data_type,
            unit=v.unit,
            min_limit=v.min_limit,
            max_limit=v.max_limit,
            values_list=v.values_list,
            supports_monitoring=v.supports_monitoring,
            attributes=[_attribute(a) for a in v.attributes],
            updated_at=v.updated_at,
        )


def _attribute(a: DeviceAttribute) -> AttributeOut:
    out = AttributeOut.model_validate(a)
    if a.mutability == "WriteOnly":
        out.value = None
    return out


class ReportRequestOut(Out):
    request_id: int
    kind: str = Field(
        description="FullInventory | ConfigurationInventory | SummaryInventory | "
        "Criteria (GetReport)"
    )
    status: str = Field(description="Sent, the station's answer, Failed, or Complete")
    parts: int
    variables: int
    requested_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, r: DeviceReport) -> ReportRequestOut:
        return cls.model_validate(r)


class ConfigurationKeyOut(Out):
    key: str
    value: str | None = Field(description="never shown for AuthorizationKey")
    readonly: bool
    source: str = Field(description="get (GetConfiguration) | change (accepted change)")
    updated_at: datetime


class ConfigurationSnapshotOut(BaseModel):
    station_id: str
    refreshed_at: datetime | None = Field(description="last full GetConfiguration, if any")
    keys: list[ConfigurationKeyOut]

    @classmethod
    def of(
        cls,
        station_id: str,
        snap: ConfigurationSnapshot | None,
        keys: list[ConfigurationKey],
    ) -> ConfigurationSnapshotOut:
        return cls(
            station_id=station_id,
            refreshed_at=None if snap is None else snap.refreshed_at,
            keys=[ConfigurationKeyOut.model_validate(k) for k in keys],
        )
