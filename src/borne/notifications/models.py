"""Webhook subscriptions, the delivery outbox and its attempt log.

- ``WebhookSubscription``: where to send (``url``), the secret that signs each request, the
  event types wanted, whether it is active, and the state-of-charge threshold (percent) of
  ``session.soc_threshold``. The secret is stored as given (it is needed to sign) and is never
  returned by the API after creation.
- ``WebhookDelivery``: the outbox, one row per (subscription, event). ``event_id`` is stable
  (derived from the event type, the transaction and, for the SoC event, the threshold), so a
  subscriber that runs twice inserts nothing new, and receivers can deduplicate on it. ``body``
  is the exact JSON sent at every attempt. ``status``: ``pending`` → ``delivered`` or, after
  ``max_attempts`` failures, ``dead`` (dead letter, re-queued only by the operator).
  ``awaiting_cost``: a ``session.ended`` held back until the CDR brings its cost, or until
  ``next_attempt_at`` (the grace period) passes.
- ``WebhookAttempt``: the delivery log, one row per HTTP attempt.
"""

from __future__ import annotations

from datetime import datetime

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
from borne.core.types import UTCDateTime

_Id = BigInteger().with_variant(Integer(), "sqlite")

PENDING = "pending"
DELIVERED = "delivered"
DEAD = "dead"


class WebhookSubscription(Base):
    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(255))
    event_types: Mapped[list[str]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    soc_threshold: Mapped[int] = mapped_column(Integer, default=80)
    description: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_transaction_pk", "transaction_pk"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    subscription_id: Mapped[int] = mapped_column(
        _Id, ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(48))
    transaction_pk: Mapped[int | None] = mapped_column(_Id, default=None)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    awaiting_cost: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(String(255), default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery_id", "delivery_id"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        _Id, ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(String(255), default=None)
    duration_ms: Mapped[int] = mapped_column(Integer)
