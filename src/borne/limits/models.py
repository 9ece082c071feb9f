"""Session limits, per-token defaults and the record of each enforcement.

- ``SessionLimit``: the limits of one transaction (at most one row per transaction). ``max_cost``
  is an amount in ``currency`` **including taxes** (compared with the live cost's
  ``total_incl``; with ``total_excl`` when the tariff gives no tax-inclusive total).
  ``max_energy_wh`` is energy delivered in the session (register now - register at start), in
  Wh; ``max_duration_s`` is counted from the transaction's start. ``source`` says who set them:
  ``operator`` (API), ``token`` (copied from the token's defaults at start) or ``ocpi``.
  ``started_at``, ``meter_start_wh`` and the station ids are copied from the transaction so the
  checks need no other table; ``ended`` is set when the transaction ends.
- ``TokenLimit``: defaults for every session of an id token, keyed by the upper-cased token
  (OCPP tokens are case-insensitive), copied into the session's limits when it starts.
- ``LimitEnforcement``: one row per transaction whose limit fired (its primary key makes the
  stop request idempotent across tasks and nodes): which limit, the limit and the value at the
  trigger, the stop reason (``limit:cost`` | ``limit:energy`` | ``limit:duration``), each stop
  attempt's outcome and when the next one is due. The transaction's own ``stop_reason`` is what
  the station reports (usually ``Remote``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from borne.core.db import Base
from borne.core.types import ExactDecimal, UTCDateTime

_Id = BigInteger().with_variant(Integer(), "sqlite")

COST = "cost"
ENERGY = "energy"
DURATION = "duration"
KINDS = (COST, ENERGY, DURATION)


def reason_of(kind: str) -> str:
    """The stop reason recorded for a limit kind: ``limit:cost`` and so on."""
    return f"limit:{kind}"


class SessionLimit(Base):
    __tablename__ = "session_limits"
    __table_args__ = (Index("ix_session_limits_ended_duration", "ended", "max_duration_s"),)

    transaction_pk: Mapped[int] = mapped_column(
        _Id, ForeignKey("transactions.id", ondelete="CASCADE"), primary_key=True
    )
    station_id: Mapped[str] = mapped_column(String(48))
    transaction_id: Mapped[str] = mapped_column(String(64))
    max_cost: Mapped[Decimal | None] = mapped_column(ExactDecimal, default=None)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    max_energy_wh: Mapped[Decimal | None] = mapped_column(ExactDecimal, default=None)
    max_duration_s: Mapped[int | None] = mapped_column(Integer, default=None)
    source: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    meter_start_wh: Mapped[Decimal | None] = mapped_column(ExactDecimal, default=None)
    ended: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TokenLimit(Base):
    __tablename__ = "id_token_limits"

    id_token_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    id_token: Mapped[str] = mapped_column(String(255))
    max_cost: Mapped[Decimal | None] = mapped_column(ExactDecimal, default=None)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    max_energy_wh: Mapped[Decimal | None] = mapped_column(ExactDecimal, default=None)
    max_duration_s: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LimitEnforcement(Base):
    __tablename__ = "limit_enforcements"
    __table_args__ = (Index("ix_limit_enforcements_closed_next", "closed", "next_attempt_at"),)

    transaction_pk: Mapped[int] = mapped_column(
        _Id, ForeignKey("transactions.id", ondelete="CASCADE"), primary_key=True
    )
    station_id: Mapped[str] = mapped_column(String(48))
    transaction_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # cost | energy | duration
    reason: Mapped[str] = mapped_column(String(32))  # limit:cost | limit:energy | limit:duration
    limit_value: Mapped[Decimal] = mapped_column(ExactDecimal)
    value_at_trigger: Mapped[Decimal] = mapped_column(ExactDecimal)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    triggered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The first time the station accepted the stop request.
    stop_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # The last attempt: the station's status word, or the error that prevented an answer.
    last_status: Mapped[str | None] = mapped_column(String(32), default=None)
    last_error: Mapped[str | None] = mapped_column(String(255), default=None)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # The transaction has ended (or is gone): nothing more to do.
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
