"""Transactions, their meter values and the 2.0.1 event log.

One ``Transaction`` row per charging session as the station knows it, whatever the OCPP version:
``transaction_id`` is the id the station uses (1.6: the integer Borne assigned, as a string;
2.0.1: the station's own ``transactionId``), unique per station. Nothing a station reports is ever
dropped: implausible data is stored and flagged (R13), a stop for an unknown transaction becomes an
ended transaction flagged ``stop_without_start`` (R11).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
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
from borne.core.types import ExactDecimal, UTCDateTime

# Integer primary keys: BIGINT on PostgreSQL, the rowid alias INTEGER on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")

ACTIVE = "active"
ENDED = "ended"
ENERGY_REGISTER = "Energy.Active.Import.Register"


class Transaction(Base):
    __tablename__ = "transactions"
    __table_args__ = (
        UniqueConstraint("station_id", "transaction_id"),
        UniqueConstraint("ocpp16_id"),
        Index("ix_transactions_station_start_fp", "station_id", "start_fingerprint"),
        Index("ix_transactions_id_token_key_state", "id_token_key", "state"),
        Index("ix_transactions_station_connector_state", "station_id", "connector_id", "state"),
        Index("ix_transactions_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(48))
    transaction_id: Mapped[str] = mapped_column(String(64))
    # 1.6 only: the id Borne handed out, unique across all stations (R12).
    ocpp16_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    ocpp_version: Mapped[str] = mapped_column(String(16))
    evse_id: Mapped[int | None] = mapped_column(Integer, default=None)
    connector_id: Mapped[int | None] = mapped_column(Integer, default=None)
    id_token: Mapped[str | None] = mapped_column(String(255), default=None)
    # Upper-cased token: OCPP tokens are case-insensitive (ConcurrentTx checks use this).
    id_token_key: Mapped[str | None] = mapped_column(String(255), default=None)
    id_token_type: Mapped[str | None] = mapped_column(String(32), default=None)
    # The authorization status Borne answered when the token was first seen (R9, R10).
    auth_status: Mapped[str | None] = mapped_column(String(32), default=None)
    state: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    charging_state: Mapped[str | None] = mapped_column(String(32), default=None)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    meter_start_wh: Mapped[Decimal | None] = mapped_column(ExactDecimal, default=None)
    meter_stop_wh: Mapped[Decimal | None] = mapped_column(ExactDecimal, default=None)
    stop_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    remote_start_id: Mapped[int | None] = mapped_column(Integer, default=None)
    reservation_id: Mapped[int | None] = mapped_column(Integer, default=None)
    # 2.0.1: the seqNo of the Ended event (every seqNo seen is in ``transaction_events``).
    ended_seq_no: Mapped[int | None] = mapped_column(Integer, default=None)
    offline: Mapped[bool] = mapped_column(Boolean, default=False)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # What the start and stop messages carried, so that a retried one is recognised (R8, R9).
    start_fingerprint: Mapped[str | None] = mapped_column(String(128), default=None)
    stop_fingerprint: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def add_flags(self, *flags: str) -> None:
        new = [f for f in flags if f not in self.flags]
        if new:
            self.flags = [*self.flags, *new]  # a new list, so the ORM sees the change


class MeterValueSample(Base):
    """One sampled value. ``transaction_pk`` is NULL for values outside any known transaction;
    ``transaction_id`` keeps the id the station sent, even when Borne does not know it."""

    __tablename__ = "meter_values"
    __table_args__ = (
        Index("ix_meter_values_transaction_pk_timestamp", "transaction_pk", "timestamp"),
        Index("ix_meter_values_station_id_timestamp", "station_id", "timestamp"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    transaction_pk: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("transactions.id", ondelete="CASCADE"), default=None
    )
    transaction_id: Mapped[str | None] = mapped_column(String(64), default=None)
    station_id: Mapped[str] = mapped_column(String(48))
    evse_id: Mapped[int | None] = mapped_column(Integer, default=None)
    connector_id: Mapped[int | None] = mapped_column(Integer, default=None)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    measurand: Mapped[str] = mapped_column(String(48), default=ENERGY_REGISTER)
    phase: Mapped[str | None] = mapped_column(String(8), default=None)
    location: Mapped[str | None] = mapped_column(String(16), default=None)
    unit: Mapped[str | None] = mapped_column(String(20), default=None)
    multiplier: Mapped[int | None] = mapped_column(Integer, default=None)
    context: Mapped[str | None] = mapped_column(String(32), default=None)
    # NULL when the raw value is not a number (1.6 SignedData, a broken meter).
    value: Mapped[Decimal | None] = mapped_column(ExactDecimal, default=None)
    raw_value: Mapped[str] = mapped_column(Text)
    format: Mapped[str | None] = mapped_column(String(16), default=None)
    signed: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    flags: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TransactionEventLog(Base):
    """The 2.0.1 TransactionEvent messages of a transaction; (transaction, seqNo) dedupes (R14)."""

    __tablename__ = "transaction_events"
    __table_args__ = (UniqueConstraint("transaction_pk", "seq_no"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    transaction_pk: Mapped[int] = mapped_column(
        BigId, ForeignKey("transactions.id", ondelete="CASCADE")
    )
    seq_no: Mapped[int] = mapped_column(Integer)
    event_type: Mapped[str] = mapped_column(String(16))
    trigger_reason: Mapped[str] = mapped_column(String(32))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    offline: Mapped[bool] = mapped_column(Boolean, default=False)
    charging_state: Mapped[str | None] = mapped_column(String(32), default=None)
    id_token: Mapped[str | None] = mapped_column(String(255), default=None)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
