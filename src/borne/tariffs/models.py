"""Stored tariffs and their assignments (SQLAlchemy). The tariff itself is the pure model of
:mod:`borne.tariffs.ocpi_tariff`; a record keeps it as canonical JSON text.

``body`` is the 2.3.0 shape written by ``tariff_to_ocpi`` + ``dumps_exact`` (numbers exact).
``origin_version`` keeps the shape the tariff came in, because the versions read a missing
``vat`` differently (2.2.1: no VAT; 2.3.0 NO: taxes not stated): a 2.2.1 tariff is read back
with ``tax_included = None`` (see docs/tariffs.md).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from borne.core.db import Base
from borne.core.types import UTCDateTime

_Id = BigInteger().with_variant(Integer(), "sqlite")


class TariffRecord(Base):
    __tablename__ = "tariffs"
    __table_args__ = (UniqueConstraint("country_code", "party_id", "ocpi_id"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    # The OCPI Tariff.id (CiString(36)), unique per CPO (country_code, party_id).
    ocpi_id: Mapped[str] = mapped_column(String(36))
    country_code: Mapped[str] = mapped_column(String(2))
    party_id: Mapped[str] = mapped_column(String(3))
    currency: Mapped[str] = mapped_column(String(3))
    origin_version: Mapped[str] = mapped_column(String(5))
    body: Mapped[str] = mapped_column(Text)
    # Validity (the tariff's start_date_time / end_date_time), for the resolver's WHERE.
    start_date_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    end_date_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Scoping: a roaming partner "CC*PPP" and/or an id token group (upper-cased); None: anyone.
    partner: Mapped[str | None] = mapped_column(String(6), default=None)
    token_group: Mapped[str | None] = mapped_column(String(255), default=None)
    # The no-contract tariff, used where no regular tariff applies.
    ad_hoc: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_updated: Mapped[datetime] = mapped_column(UTCDateTime())


class TariffAssignment(Base):
    """A tariff assigned to a connector, an EVSE, a location, or (ad hoc tariffs only) to the
    whole network as the default.

    ``level`` is ``connector`` (station_id, evse_id, connector_id), ``evse`` (station_id,
    evse_id), ``location`` (location_id) or ``default``; ``target`` is the canonical key of the
    target (``"connector:CP-1:1:2"``), unique per tariff where NULLs would not be.
    A location with assignments cannot be deleted; a deleted station takes its assignments
    with it.
    """

    __tablename__ = "tariff_assignments"
    __table_args__ = (
        UniqueConstraint("tariff_id", "target"),
        Index("ix_tariff_assignments_station_evse", "station_id", "evse_id"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    tariff_id: Mapped[int] = mapped_column(_Id, ForeignKey("tariffs.id"), index=True)
    level: Mapped[str] = mapped_column(String(10), index=True)
    target: Mapped[str] = mapped_column(String(120))
    location_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("locations.id"), default=None, index=True
    )
    station_id: Mapped[str | None] = mapped_column(
        String(48), ForeignKey("stations.station_id", ondelete="CASCADE"), default=None
    )
    evse_id: Mapped[int | None] = mapped_column(Integer, default=None)
    connector_id: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
