"""Roaming state of charging sessions: which eMSP a session belongs to, and what was pushed.

``roaming_sessions`` has a row only for a transaction whose token an OCPI partner owns (a token
the partner pushed, authorized in real time, or given in START_SESSION). Sessions of Borne's own
(local) tokens have no row: they are visible to no partner and pushed to nobody. The row keeps
the token identity resolved once (``cdr_token``), the authorization data, the session's OCPI
``last_updated`` (the pull order) and the push progress, so a retried or replayed event never
sends a second PUT nor a PATCH after ``COMPLETED``.

``roaming_cdr_posts`` records each (partner, CDR) put in the outbox: a CDR is posted to a
partner once, whatever happens to the events that announce it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from borne.core.db import Base
from borne.core.types import UTCDateTime

_Id = BigInteger().with_variant(Integer(), "sqlite")


class RoamingSession(Base):
    __tablename__ = "roaming_sessions"
    __table_args__ = (
        Index("ix_roaming_sessions_owner_last_updated", "token_country_code", "token_party_id",
              "last_updated", "transaction_pk"),
    )  # fmt: skip

    transaction_pk: Mapped[int] = mapped_column(
        _Id, ForeignKey("transactions.id", ondelete="CASCADE"), primary_key=True
    )
    session_id: Mapped[str] = mapped_column(String(36), unique=True)
    # The partner that owns the token (``ocpi_partners.id``; no FK: a partner deleted later
    # must not erase the billing history).
    partner_id: Mapped[int] = mapped_column(Integer, index=True)
    token_country_code: Mapped[str] = mapped_column(String(2))
    token_party_id: Mapped[str] = mapped_column(String(3))
    token_uid: Mapped[str] = mapped_column(String(36))
    token_type: Mapped[str] = mapped_column(String(16))
    contract_id: Mapped[str] = mapped_column(String(36))
    auth_method: Mapped[str] = mapped_column(String(16))
    authorization_reference: Mapped[str | None] = mapped_column(String(36), default=None)
    #: The Session's OCPI ``last_updated``: moved by every change the subscriber sees.
    last_updated: Mapped[datetime] = mapped_column(UTCDateTime)
    put_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    completed_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RoamingCdrPost(Base):
    __tablename__ = "roaming_cdr_posts"
    __table_args__ = (UniqueConstraint("partner_id", "cdr_id"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    partner_id: Mapped[int] = mapped_column(Integer)
    cdr_id: Mapped[str] = mapped_column(String(39))
    outbox_id: Mapped[int | None] = mapped_column(_Id, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
