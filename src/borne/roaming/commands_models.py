"""OCPI commands received from partners, and the reservations they made.

- ``RoamingCommand``: one row per command a partner sent (START_SESSION, STOP_SESSION,
  RESERVE_NOW, CANCEL_RESERVATION, UNLOCK_CONNECTOR). Written before the CommandResponse is
  answered; ``result`` is filled when the station answers (or the deadline passes), in the same
  transaction as the CommandResult's outbox row, so a result is never lost nor sent twice.
- ``RoamingReservation``: OCPI reservation ids are strings chosen by the eMSP; OCPP needs an
  integer. The row's primary key is the OCPP ``reservationId``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from borne.core.db import Base
from borne.core.types import UTCDateTime

_Id = BigInteger().with_variant(Integer(), "sqlite")

PENDING = "pending"
DONE = "done"


class RoamingCommand(Base):
    __tablename__ = "roaming_commands"
    __table_args__ = (Index("ix_roaming_commands_pending", "status", "deadline"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    partner_id: Mapped[int] = mapped_column(Integer, index=True)
    command: Mapped[str] = mapped_column(String(32))
    station_id: Mapped[str | None] = mapped_column(String(48), default=None)
    request: Mapped[dict[str, object]] = mapped_column(JSON)
    response_url: Mapped[str] = mapped_column(String(2048))
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    #: The OCPI CommandResultType sent back (None while pending).
    result: Mapped[str | None] = mapped_column(String(32), default=None)
    #: Why, in words (the station's status, or the error), for operators.
    detail: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class RoamingReservation(Base):
    __tablename__ = "roaming_reservations"
    __table_args__ = (UniqueConstraint("partner_id", "reservation_id"),)

    #: The OCPP reservationId.
    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    partner_id: Mapped[int] = mapped_column(Integer)
    reservation_id: Mapped[str] = mapped_column(String(36))
    station_id: Mapped[str] = mapped_column(String(48))
    evse_id: Mapped[int | None] = mapped_column(Integer, default=None)
    token_uid: Mapped[str] = mapped_column(String(36))
    expiry: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
