"""Operator API models of the transactions and their meter values.

Energy and meter readings are decimals sent as JSON strings (``"1234.5"``): they keep every digit
the meter sent, which a JSON number would not guarantee.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from borne.transactions.queries import MeterValueView, TransactionView

T = TypeVar("T")

Exact = Annotated[Decimal, PlainSerializer(str, return_type=str, when_used="json")]


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int


class TransactionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="Borne's id of the transaction, used in this API's paths")
    station_id: str
    transaction_id: str = Field(description="the id the station uses (unique per station)")
    ocpp_version: str
    evse_id: int | None
    connector_id: int | None
    id_token: str | None
    auth_status: str | None = Field(description="what Borne answered when the token was seen")
    state: str = Field(description="active | ended")
    charging_state: str | None
    started_at: datetime | None
    stopped_at: datetime | None
    meter_start_wh: Exact | None
    meter_stop_wh: Exact | None
    stop_reason: str | None
    remote_start_id: int | None
    flags: list[str] = Field(description="what was implausible or unusual (R13)")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: TransactionView) -> TransactionOut:
        return cls.model_validate(view)


class MeterValueOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    transaction_id: str | None
    evse_id: int | None
    connector_id: int | None
    timestamp: datetime
    measurand: str
    phase: str | None
    location: str | None
    unit: str | None
    multiplier: int | None
    context: str | None
    value: Exact | None = Field(description="null when the raw value is not a number")
    raw_value: str
    format: str | None
    signed: dict[str, Any] | None
    flags: list[str]

    @classmethod
    def of(cls, view: MeterValueView) -> MeterValueOut:
        return cls.model_validate(view)


class MeasurandSummary(BaseModel):
    measurand: str
    samples: int


class MeterSummaryOut(BaseModel):
    samples: int = Field(description="how many sampled values the transaction has")
    first_at: datetime | None
    last_at: datetime | None
    measurands: list[MeasurandSummary]


class TransactionDetailOut(TransactionOut):
    energy_wh: Exact | None = Field(
        description="Wh delivered: meter stop - meter start once ended; for an active "
        "transaction, the latest register reading - meter start; null when readings are missing"
    )
    duration_s: float | None = Field(description="seconds from start to stop (to now while active)")
    meter_summary: MeterSummaryOut
    meter_values: list[MeterValueOut] = Field(
        description="the first sampled values in timestamp order (see meter_values_truncated)"
    )
    meter_values_truncated: bool = Field(
        description="more values exist than shown: page through /transactions/{id}/meter-values"
    )
