"""Operator API models of locations: request bodies and answers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from borne.locations.extras import EvseExtra, LocationExtra
from borne.locations.service import (
    OCPI_ID,
    ConnectorSpec,
    ConnectorView,
    EvseView,
    LocationView,
    StationAtLocation,
)

T = TypeVar("T")

PowerType = Literal["AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC"]
ConnectorFormat = Literal["SOCKET", "CABLE"]
_LAT = r"^-?[0-9]{1,2}\.[0-9]{5,7}$"
_LON = r"^-?[0-9]{1,3}\.[0-9]{5,7}$"
_INT = 2**31 - 1


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LocationIn(Body):
    id: str = Field(min_length=1, max_length=36, pattern=OCPI_ID, description="OCPI location id")
    country_code: str = Field(
        min_length=2, max_length=2, description="ISO 3166-1 alpha-2 of the CPO"
    )
    party_id: str = Field(min_length=3, max_length=3, description="the CPO's party id")
    name: str | None = Field(None, min_length=1, max_length=255)
    address: str = Field(min_length=1, max_length=255)
    city: str = Field(min_length=1, max_length=45)
    postal_code: str | None = Field(None, min_length=1, max_length=10)
    state: str | None = Field(None, min_length=1, max_length=45)
    country: str = Field(min_length=3, max_length=3, description="ISO 3166-1 alpha-3")
    latitude: str = Field(pattern=_LAT, description="decimal degrees as text, e.g. 50.770774")
    longitude: str = Field(pattern=_LON, description="decimal degrees as text, e.g. -126.104965")
    time_zone: str = Field(
        min_length=1, max_length=64, description="IANA time zone, e.g. Europe/Berlin"
    )
    publish: bool = True
    ocpi_extra: LocationExtra | None = Field(
        None, description="OCPI-only details: opening times (default 24/7), facilities, parking"
    )

    def extra(self) -> dict[str, Any] | None:
        return _dump(self.ocpi_extra)


def _dump(extra: LocationExtra | EvseExtra | None) -> dict[str, Any] | None:
    return None if extra is None else extra.model_dump(mode="json", exclude_none=True)


class LocationPatch(Body):
    """Only the fields given change; ``name``, ``postal_code`` and ``state`` may be null."""

    country_code: str | None = Field(None, min_length=2, max_length=2)
    party_id: str | None = Field(None, min_length=3, max_length=3)
    name: str | None = Field(None, min_length=1, max_length=255)
    address: str | None = Field(None, min_length=1, max_length=255)
    city: str | None = Field(None, min_length=1, max_length=45)
    postal_code: str | None = Field(None, min_length=1, max_length=10)
    state: str | None = Field(None, min_length=1, max_length=45)
    country: str | None = Field(None, min_length=3, max_length=3)
    latitude: str | None = Field(None, pattern=_LAT)
    longitude: str | None = Field(None, pattern=_LON)
    time_zone: str | None = Field(None, min_length=1, max_length=64)
    publish: bool | None = None
    ocpi_extra: LocationExtra | None = Field(None, description="replaced whole; null clears it")

    def changes(self) -> dict[str, Any]:
        changes = self.model_dump(exclude_unset=True, exclude={"ocpi_extra"})
        if "ocpi_extra" in self.model_fields_set:
            changes["ocpi_extra"] = _dump(self.ocpi_extra)
        return changes


class ConnectorIn(Body):
    connector_id: int = Field(ge=1, le=_INT)
    standard: str = Field(
        min_length=1,
        max_length=32,
        pattern=r"^[A-Za-z0-9_]+$",
        description="OCPI ConnectorType, e.g. IEC_62196_T2, IEC_62196_T2_COMBO, CHADEMO",
    )
    format: ConnectorFormat
    power_type: PowerType
    max_voltage: int = Field(ge=1, le=_INT, description="V (line to neutral for AC_3_PHASE)")
    max_amperage: int = Field(ge=1, le=_INT, description="A")
    max_electric_power: int | None = Field(None, ge=1, le=_INT, description="W")

    def spec(self) -> ConnectorSpec:
        return ConnectorSpec(
            connector_id=self.connector_id,
            standard=self.standard,
            format=self.format,
            power_type=self.power_type,
            max_voltage=self.max_voltage,
            max_amperage=self.max_amperage,
            max_electric_power=self.max_electric_power,
        )


class EvseIn(Body):
    evse_uid: str = Field(
        min_length=1, max_length=36, pattern=OCPI_ID, description="OCPI EVSE.uid, never reused"
    )
    physical_reference: str | None = Field(None, min_length=1, max_length=16)
    connectors: list[ConnectorIn] = Field(min_length=1, max_length=32)
    ocpi_extra: EvseExtra | None = Field(
        None, description="OCPI-only details: eMI3 evse_id, floor, parking, capabilities"
    )

    def extra(self) -> dict[str, Any] | None:
        return _dump(self.ocpi_extra)


class ConnectorOut(BaseModel):
    connector_id: int
    standard: str
    format: str
    power_type: str
    max_voltage: int
    max_amperage: int
    max_electric_power: int | None
    max_power_w: int = Field(description="max_electric_power, else voltage x amperage x phases")
    updated_at: datetime

    @classmethod
    def of(cls, c: ConnectorView) -> ConnectorOut:
        return cls(
            connector_id=c.connector_id,
            standard=c.standard,
            format=c.format,
            power_type=c.power_type,
            max_voltage=c.max_voltage,
            max_amperage=c.max_amperage,
            max_electric_power=c.max_electric_power,
            max_power_w=c.max_power_w,
            updated_at=c.updated_at,
        )


class EvseOut(BaseModel):
    station_id: str
    evse_id: int
    evse_uid: str
    physical_reference: str | None
    connectors: list[ConnectorOut]
    updated_at: datetime
    ocpi_extra: Mapping[str, Any] | None = None

    @classmethod
    def of(cls, e: EvseView) -> EvseOut:
        return cls(
            station_id=e.station_id,
            evse_id=e.evse_id,
            evse_uid=e.evse_uid,
            physical_reference=e.physical_reference,
            connectors=[ConnectorOut.of(c) for c in e.connectors],
            updated_at=e.updated_at,
            ocpi_extra=e.ocpi_extra,
        )


class StationAtLocationOut(BaseModel):
    station_id: str
    attached_at: datetime
    evses: list[EvseOut]

    @classmethod
    def of(cls, s: StationAtLocation) -> StationAtLocationOut:
        return cls(
            station_id=s.station_id,
            attached_at=s.attached_at,
            evses=[EvseOut.of(e) for e in s.evses],
        )


class LocationOut(BaseModel):
    id: str
    country_code: str
    party_id: str
    name: str | None
    address: str
    city: str
    postal_code: str | None
    state: str | None
    country: str
    latitude: str
    longitude: str
    time_zone: str
    publish: bool
    created_at: datetime
    updated_at: datetime
    stations: list[StationAtLocationOut]
    ocpi_extra: Mapping[str, Any] | None = None

    @classmethod
    def of(cls, v: LocationView) -> LocationOut:
        return cls(
            id=v.id,
            country_code=v.country_code,
            party_id=v.party_id,
            name=v.name,
            address=v.address,
            city=v.city,
            postal_code=v.postal_code,
            state=v.state,
            country=v.country,
            latitude=v.latitude,
            longitude=v.longitude,
            time_zone=v.time_zone,
            publish=v.publish,
            created_at=v.created_at,
            updated_at=v.updated_at,
            stations=[StationAtLocationOut.of(s) for s in v.stations],
            ocpi_extra=v.ocpi_extra,
        )


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int
