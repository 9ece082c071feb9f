"""Tables of the device model (2.0.1 NotifyReport / Get/SetVariables) and 1.6 configuration.

Absent instances are stored as ``""`` and an absent EVSE or connector as ``0`` (2.0.1 EVSE and
connector ids are > 0), so unique keys also hold where NULLs are all distinct.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from borne.core.db import Base
from borne.core.types import UTCDateTime

_Id = BigInteger().with_variant(Integer(), "sqlite")
_STATION_FK = "stations.station_id"


class DeviceVariable(Base):
    """One variable of one component of a station, with its characteristics."""

    __tablename__ = "device_variables"
    __table_args__ = (
        UniqueConstraint(
            "station_id",
            "component_name",
            "component_instance",
            "evse_id",
            "connector_id",
            "variable_name",
            "variable_instance",
        ),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(48), ForeignKey(_STATION_FK, ondelete="CASCADE"))
    component_name: Mapped[str] = mapped_column(String(50))
    component_instance: Mapped[str] = mapped_column(String(50), default="")
    evse_id: Mapped[int] = mapped_column(Integer, default=0)
    connector_id: Mapped[int] = mapped_column(Integer, default=0)
    variable_name: Mapped[str] = mapped_column(String(50))
    variable_instance: Mapped[str] = mapped_column(String(50), default="")
    # variableCharacteristics (None until a report described the variable)
    data_type: Mapped[str | None] = mapped_column(String(16), default=None)
    unit: Mapped[str | None] = mapped_column(String(16), default=None)
    min_limit: Mapped[float | None] = mapped_column(Float, default=None)
    max_limit: Mapped[float | None] = mapped_column(Float, default=None)
    values_list: Mapped[str | None] = mapped_column(String(1000), default=None)
    supports_monitoring: Mapped[bool | None] = mapped_column(Boolean, default=None)
    # The report that last listed this variable (None: known from Get/SetVariables only).
    report_request_id: Mapped[int | None] = mapped_column(Integer, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    attributes: Mapped[list[DeviceAttribute]] = relationship(
        back_populates="variable",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="selectin",
        order_by="DeviceAttribute.type",
    )


class DeviceAttribute(Base):
    """One attribute (Actual, Target, MinSet, MaxSet) of a variable."""

    __tablename__ = "device_attributes"
    __table_args__ = (UniqueConstraint("variable_id", "type"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    variable_id: Mapped[int] = mapped_column(
        _Id, ForeignKey("device_variables.id", ondelete="CASCADE")
    )
    type: Mapped[str] = mapped_column(String(16), default="Actual")
    # Never the value of a WriteOnly attribute (passwords, keys): see ``service``.
    value: Mapped[str | None] = mapped_column(Text, default=None)
    mutability: Mapped[str | None] = mapped_column(String(16), default=None)
    persistent: Mapped[bool | None] = mapped_column(Boolean, default=None)
    constant: Mapped[bool | None] = mapped_column(Boolean, default=None)
    # Where the value comes from: "report" | "get" | "set".
    source: Mapped[str] = mapped_column(String(8), default="report")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    variable: Mapped[DeviceVariable] = relationship(back_populates="attributes")


class DeviceReport(Base):
    """A report Borne asked for (GetBaseReport / GetReport) and how far its parts came."""

    __tablename__ = "device_reports"
    __table_args__ = (
        UniqueConstraint("station_id", "request_id"),
        Index("ix_device_reports_station_at", "station_id", "requested_at"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(48), ForeignKey(_STATION_FK, ondelete="CASCADE"))
    request_id: Mapped[int] = mapped_column(Integer)
    # FullInventory | ConfigurationInventory | SummaryInventory | Criteria (GetReport)
    kind: Mapped[str] = mapped_column(String(32))
    # Sent | Accepted | Rejected | NotSupported | EmptyResultSet | Failed | Complete
    status: Mapped[str] = mapped_column(String(16))
    parts: Mapped[int] = mapped_column(Integer, default=0)
    variables: Mapped[int] = mapped_column(Integer, default=0)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class ConfigurationKey(Base):
    """One key of a 1.6 station's configuration, as GetConfiguration (or an accepted
    ChangeConfiguration) last showed it."""

    __tablename__ = "configuration_keys"

    station_id: Mapped[str] = mapped_column(
        String(48), ForeignKey(_STATION_FK, ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str | None] = mapped_column(String(500), default=None)
    readonly: Mapped[bool] = mapped_column(Boolean, default=False)
    # "get" (GetConfiguration) | "change" (an accepted ChangeConfiguration)
    source: Mapped[str] = mapped_column(String(8), default="get")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ConfigurationSnapshot(Base):
    """When a 1.6 station's whole configuration was last read."""

    __tablename__ = "configuration_snapshots"

    station_id: Mapped[str] = mapped_column(
        String(48), ForeignKey(_STATION_FK, ondelete="CASCADE"), primary_key=True
    )
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    keys: Mapped[int] = mapped_column(Integer, default=0)
