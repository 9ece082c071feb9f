"""Operator reservations: one row per ReserveNow Borne sends on an operator's behalf.

``reservation_id`` is the OCPP ``reservationId`` (1.6) / ``id`` (2.0.1) the station knows; Borne
draws it at random from the upper half of the positive 31-bit range (see ``service``), so it
cannot meet the small sequential ids of ``roaming_reservations`` (OCPI commands).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from borne.core.db import Base
from borne.core.types import UTCDateTime

BigId = BigInteger().with_variant(Integer(), "sqlite")

# Statuses. Active: the connector is (or may be) held for the token.
REQUESTED = "requested"  # ReserveNow sent, no answer yet (or the answer timed out)
ACCEPTED = "accepted"
# The station's refusals (its ReserveNow status, lower-cased).
REJECTED = "rejected"
OCCUPIED = "occupied"
FAULTED = "faulted"
UNAVAILABLE = "unavailable"
FAILED = "failed"  # never reached the station (CALLERROR, value its schema refuses)
USED = "used"  # a transaction started with it
EXPIRED = "expired"
CANCELLED = "cancelled"

ACTIVE = frozenset({REQUESTED, ACCEPTED})
STATUSES = (
    REQUESTED,
    ACCEPTED,
    REJECTED,
    OCCUPIED,
    FAULTED,
    UNAVAILABLE,
    FAILED,
    USED,
    EXPIRED,
    CANCELLED,
)


class Reservation(Base):
    __tablename__ = "reservations"
    __table_args__ = (
        UniqueConstraint("reservation_id"),
        Index("ix_reservations_station_status", "station_id", "status"),
        Index("ix_reservations_status_expiry", "status", "expiry"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    reservation_id: Mapped[int] = mapped_column(Integer)
    station_id: Mapped[str] = mapped_column(String(48))
    ocpp_version: Mapped[str] = mapped_column(String(16))
    # None: any EVSE/connector of the station (1.6 connectorId 0, 2.0.1 without evseId).
    # 1.6 connectors are recorded as both, as transactions do.
    evse_id: Mapped[int | None] = mapped_column(Integer, default=None)
    connector_id: Mapped[int | None] = mapped_column(Integer, default=None)
    id_token: Mapped[str] = mapped_column(String(255))
    id_token_type: Mapped[str] = mapped_column(String(32))
    group_id_token: Mapped[str | None] = mapped_column(String(255), default=None)
    expiry: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=REQUESTED)
    # Why it ended or was refused: the station's statusInfo, an error, "removed_by_station"...
    reason: Mapped[str | None] = mapped_column(String(255), default=None)
    # The transaction that used it.
    transaction_pk: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # A transaction of another token that started on the reserved EVSE/connector while active.
    violated_by_transaction_pk: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
