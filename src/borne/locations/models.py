"""Locations, the stations they hold, and EVSE / connector descriptors (OCPI-ready).

Coordinates are strings, as OCPI sends them, so no digit is lost through a float.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from borne.core.db import Base
from borne.core.types import UTCDateTime

_STATION_FK = "stations.station_id"


class Location(Base):
    """An OCPI Location: ``id`` is the OCPI location id (CiString(36)), never changed."""

    __tablename__ = "locations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    country_code: Mapped[str] = mapped_column(String(2))
    party_id: Mapped[str] = mapped_column(String(3))
    name: Mapped[str | None] = mapped_column(String(255), default=None)
    address: Mapped[str] = mapped_column(String(255))
    city: Mapped[str] = mapped_column(String(45))
    postal_code: Mapped[str | None] = mapped_column(String(10), default=None)
    state: Mapped[str | None] = mapped_column(String(45), default=None)
    # ISO 3166-1 alpha-3
    country: Mapped[str] = mapped_column(String(3))
    latitude: Mapped[str] = mapped_column(String(10))
    longitude: Mapped[str] = mapped_column(String(11))
    # IANA time zone: tariff restrictions are read in it.
    time_zone: Mapped[str] = mapped_column(String(64))
    publish: Mapped[bool] = mapped_column(Boolean, default=True)
    # OCPI-only details (opening times, facilities, parking, ...) checked by
    # ``borne.locations.extras.LocationExtra``; None: none given.
    ocpi_extra: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StationLocation(Base):
    """A station belongs to at most one location (the primary key says so)."""

    __tablename__ = "station_locations"

    station_id: Mapped[str] = mapped_column(
        String(48), ForeignKey(_STATION_FK, ondelete="CASCADE"), primary_key=True
    )
    location_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("locations.id", ondelete="CASCADE"), index=True
    )
    attached_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EvseDescriptor(Base):
    """What OCPI and price displays need to know of one EVSE of a station."""

    __tablename__ = "evse_descriptors"

    station_id: Mapped[str] = mapped_column(
        String(48), ForeignKey(_STATION_FK, ondelete="CASCADE"), primary_key=True
    )
    evse_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # OCPI EVSE.uid: unique within the platform, never reused.
    evse_uid: Mapped[str] = mapped_column(String(36), unique=True)
    physical_reference: Mapped[str | None] = mapped_column(String(16), default=None)
    # OCPI-only details (floor, parking, eMI3 id, capabilities, ...): ``extras.EvseExtra``.
    ocpi_extra: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ConnectorDescriptor(Base):
    """An OCPI Connector: standard, format, power type and ratings."""

    __tablename__ = "connector_descriptors"
    __table_args__ = (
        ForeignKeyConstraint(
            ["station_id", "evse_id"],
            ["evse_descriptors.station_id", "evse_descriptors.evse_id"],
            ondelete="CASCADE",
        ),
        Index("ix_connector_descriptors_station", "station_id", "evse_id"),
    )

    station_id: Mapped[str] = mapped_column(String(48), primary_key=True)
    evse_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    connector_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    standard: Mapped[str] = mapped_column(String(32))
    format: Mapped[str] = mapped_column(String(8))
    power_type: Mapped[str] = mapped_column(String(16))
    max_voltage: Mapped[int] = mapped_column(Integer)
    max_amperage: Mapped[int] = mapped_column(Integer)
    # Watts; None: voltage x amperage (x 3 for AC_3_PHASE) is the limit.
    max_electric_power: Mapped[int | None] = mapped_column(Integer, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
