"""Operator API models of the reservations.

Addressing follows OCPP 2.0.1 (``evse_id`` + ``connector_id``); on a 1.6 station the connector
is ``evse_id`` when given, else ``connector_id``. Neither (or 0): any connector of the station.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from borne.commands.results import IdTokenKind
from borne.reservations.queries import ReservationView

T = TypeVar("T")
EvseId = Annotated[int | None, Field(default=None, ge=0, le=2**31 - 1)]
ConnectorId = Annotated[int | None, Field(default=None, ge=0, le=2**31 - 1)]


class ReservationTargetIn(BaseModel):
    """A reservation for a station given in the path."""

    model_config = ConfigDict(extra="forbid")

    id_token: str = Field(min_length=1, max_length=36, description="1.6: idTag (≤ 20 chars)")
    id_token_type: IdTokenKind = Field("Central", description="2.0.1 only")
    group_id_token: str | None = Field(
        None, min_length=1, max_length=36, description="1.6 parentIdTag / 2.0.1 groupIdToken"
    )
    expiry: AwareDatetime = Field(description="when the reservation lapses (with a time zone)")
    evse_id: EvseId
    connector_id: ConnectorId


class ReservationIn(ReservationTargetIn):
    station_id: str = Field(min_length=1, max_length=48, pattern=r"^[^:]+$")


class ReservationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="Borne's id of the reservation, used in this API's paths")
    reservation_id: int = Field(description="the OCPP reservation id the station knows")
    station_id: str
    ocpp_version: str
    evse_id: int | None = Field(description="None: any connector of the station")
    connector_id: int | None
    id_token: str
    id_token_type: str
    group_id_token: str | None
    expiry: datetime
    status: str = Field(
        description="requested | accepted | rejected | occupied | faulted | unavailable | "
        "failed | used | expired | cancelled"
    )
    active: bool = Field(description="requested or accepted, and not past its expiry")
    reason: str | None = Field(description="why it was refused or ended, when known")
    transaction_pk: int | None = Field(description="the transaction that used it")
    violated_by_transaction_pk: int | None = Field(
        description="a transaction of another token started on the reserved EVSE while active"
    )
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None

    @classmethod
    def of(cls, view: ReservationView) -> ReservationOut:
        return cls.model_validate(view)


class CancelOut(BaseModel):
    reservation: ReservationOut
    station_status: str = Field(description="the station's CancelReservation answer")


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int
