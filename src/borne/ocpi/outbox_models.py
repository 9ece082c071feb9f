"""The OCPI outbox table: one row per outbound push or command result (R33).

Rows are written in the same transaction as the change they announce, so a push is never lost
nor sent for a change that rolled back. ``status``: ``pending`` → ``delivered``, or ``failed``
when the sender gave up (an operator replays it). ``(partner_id, key)`` orders deliveries: a row
is sent only when no older pending row of the same partner and key exists. ``partner_id`` is a
plain integer: the partners table belongs to the roaming domain, which this package never
imports.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from borne.core.db import Base
from borne.core.types import UTCDateTime

_Id = BigInteger().with_variant(Integer(), "sqlite")

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
STATUSES = (PENDING, DELIVERED, FAILED)


class OcpiOutboxRow(Base):
    __tablename__ = "ocpi_outbox"
    __table_args__ = (
        # the sender's due scan
        Index("ix_ocpi_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        # "is there an older pending row of this key?" and the superseded check
        Index("ix_ocpi_outbox_partner_id_key_status", "partner_id", "key", "status", "id"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    partner_id: Mapped[int] = mapped_column(_Id, index=True)
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(8))
    module: Mapped[str] = mapped_column(String(32))
    interface: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(1024), default="")
    url: Mapped[str | None] = mapped_column(String(2048), default=None)
    body: Mapped[str | None] = mapped_column(Text, default=None)
    correlation_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    last_http_status: Mapped[int | None] = mapped_column(Integer, default=None)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
