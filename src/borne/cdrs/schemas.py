"""Operator API models of the CDRs. Money and volumes are decimals sent as JSON strings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from borne.cdrs.service import CdrView

T = TypeVar("T")

Exact = Annotated[Decimal, PlainSerializer(str, return_type=str, when_used="json")]


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int


class CdrOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    cdr_id: str = Field(description="the OCPI CDR id")
    kind: str = Field(description="original | credit | correction")
    transaction_pk: int = Field(description="Borne's id of the transaction")
    station_id: str
    transaction_id: str
    evse_id: int | None
    connector_id: int | None
    credit: bool
    credit_reference_id: str | None
    replaces_cdr_id: str | None = Field(description="the credited CDR a correction replaces")
    reason: str | None
    currency: str
    start_date_time: datetime
    end_date_time: datetime
    total_excl: Exact | None = Field(description="total before taxes (None: unknown)")
    total_incl: Exact | None = Field(description="total after taxes (None: unknown)")
    total_energy_kwh: Exact
    total_time_h: Exact
    total_parking_h: Exact
    tariff_id: str | None
    issued_at: datetime = Field(description="OCPI last_updated: a CDR never changes")
    versions: list[str] = Field(description="OCPI versions this CDR can be read in")

    @classmethod
    def of(cls, view: CdrView) -> CdrOut:
        return cls.model_validate(view)


class CreditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=255, description="why (the credit's remark)")
    reissue: bool = Field(
        default=False,
        description="also issue a corrected CDR computed from the transaction's data as it is now",
    )


class CreditOut(BaseModel):
    credit: CdrOut
    correction: CdrOut | None
