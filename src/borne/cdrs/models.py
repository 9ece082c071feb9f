"""Issued CDRs (immutable rows) and the running cost of each transaction.

A ``Cdr`` row is written once and never updated: the ORM refuses an UPDATE of it
(:func:`_refuse_update`), and the service has no path that deletes one. Corrections are new
rows: a credit CDR (``credit``, ``credit_reference_id``) and, optionally, a corrected CDR
(``replaces_cdr_id``). ``issue_key`` makes every issue idempotent on both backends:
``tx:<pk>`` for a transaction's CDR, ``credit:<cdr id>`` for the credit of a CDR,
``reissue:<cdr id>`` for the correction of a credited CDR.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from borne.core.db import Base
from borne.core.types import ExactDecimal, UTCDateTime

BigId = BigInteger().with_variant(Integer(), "sqlite")

KIND_ORIGINAL = "original"
KIND_CREDIT = "credit"
KIND_CORRECTION = "correction"


class Cdr(Base):
    __tablename__ = "cdrs"
    __table_args__ = (
        Index("ix_cdrs_station_start", "station_id", "start_date_time"),
        Index("ix_cdrs_issued_at", "issued_at"),
        Index("ix_cdrs_transaction_pk", "transaction_pk"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: The OCPI CDR id (CiString(39); 36 for non-credit CDRs).
    cdr_id: Mapped[str] = mapped_column(String(39), unique=True)
    issue_key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    transaction_pk: Mapped[int] = mapped_column(BigId, ForeignKey("transactions.id"))
    station_id: Mapped[str] = mapped_column(String(48))
    transaction_id: Mapped[str] = mapped_column(String(64))
    evse_id: Mapped[int | None] = mapped_column(Integer, default=None)
    connector_id: Mapped[int | None] = mapped_column(Integer, default=None)
    credit: Mapped[bool] = mapped_column(Boolean, default=False)
    credit_reference_id: Mapped[str | None] = mapped_column(String(39), default=None)
    replaces_cdr_id: Mapped[str | None] = mapped_column(String(39), default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    currency: Mapped[str] = mapped_column(String(3))
    start_date_time: Mapped[datetime] = mapped_column(UTCDateTime)
    end_date_time: Mapped[datetime] = mapped_column(UTCDateTime)
    total_excl: Mapped[Decimal | None] = mapped_column(ExactDecimal, default=None)
    total_incl: Mapped[Decimal | None] = mapped_column(ExactDecimal, default=None)
    total_energy_kwh: Mapped[Decimal] = mapped_column(ExactDecimal)
    total_time_h: Mapped[Decimal] = mapped_column(ExactDecimal)
    total_parking_h: Mapped[Decimal] = mapped_column(ExactDecimal)
    tariff_record_id: Mapped[int | None] = mapped_column(BigId, default=None)
    tariff_id: Mapped[str | None] = mapped_column(String(36), default=None)
    #: The OCPI CDR as issued, exact JSON text per version (None: no form in that version).
    ocpi_221: Mapped[str | None] = mapped_column(Text, default=None)
    ocpi_230: Mapped[str] = mapped_column(Text)
    explanation: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)


@event.listens_for(Cdr, "before_update")
def _refuse_update(_mapper: Any, _connection: Any, target: Cdr) -> None:
    raise RuntimeError(f"CDR {target.cdr_id} is immutable: credit it instead")


class SessionCost(Base):
    """The latest running cost of a transaction (its final cost once the CDR is issued)."""

    __tablename__ = "session_costs"

    transaction_pk: Mapped[int] = mapped_column(
        BigId, ForeignKey("transactions.id", ondelete="CASCADE"), primary_key=True
    )
    station_id: Mapped[str] = mapped_column(String(48))
    currency: Mapped[str] = mapped_column(String(3))
    total_excl: Mapped[Decimal | None] = mapped_column(ExactDecimal, default=None)
    total_incl: Mapped[Decimal | None] = mapped_column(ExactDecimal, default=None)
    energy_wh: Mapped[Decimal | None] = mapped_column(ExactDecimal, default=None)
    tariff_record_id: Mapped[int | None] = mapped_column(BigId, default=None)
    #: The moment the cost is computed up to (the latest reading or state change).
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    final: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
