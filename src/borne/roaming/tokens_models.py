"""Partners' tokens (OCPI Tokens module, CPO receiver) and real-time authorizations.

``roaming_tokens``: one row per token an eMSP pushed; ``raw`` is the whole object as stored
(with fields Borne does not model, 2.3.0 forward compatibility) and is what GET answers.
OCPI ``CiString`` values are case-insensitive: country_code and party_id are stored upper-cased
and ``uid_key`` (upper-cased uid) is what uniqueness and lookups use, like Borne's own tokens.

``roaming_authorizations``: every decision taken for a token Borne does not know locally
(real-time answer, whitelist, offline fallback), with the eMSP's ``authorization_reference``.
Sessions and CDRs find it by (station_id, token) around their start time, then pin it with
``transaction_id``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from borne.core.db import Base
from borne.core.types import UTCDateTime

_Id = BigInteger().with_variant(Integer(), "sqlite")


class RoamingToken(Base):
    __tablename__ = "roaming_tokens"
    __table_args__ = (
        UniqueConstraint("country_code", "party_id", "uid_key", "type", name="uq_roaming_tokens"),
        Index("ix_roaming_tokens_uid_key", "uid_key", "type"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    # The partner that pushed it (ocpi_partners.id): its tokens endpoint answers real-time
    # authorization. No foreign key: a partner's removal must not erase settled tokens.
    partner_id: Mapped[int] = mapped_column(Integer, index=True)
    country_code: Mapped[str] = mapped_column(String(2))
    party_id: Mapped[str] = mapped_column(String(3))
    uid: Mapped[str] = mapped_column(String(36))
    uid_key: Mapped[str] = mapped_column(String(36))
    # RFID | APP_USER | AD_HOC_USER | OTHER (+ EMAID and any other value in 2.3.0, an OpenEnum)
    type: Mapped[str] = mapped_column(String(32))
    contract_id: Mapped[str] = mapped_column(String(36))
    visual_number: Mapped[str | None] = mapped_column(String(64), default=None)
    issuer: Mapped[str] = mapped_column(String(64))
    group_id: Mapped[str | None] = mapped_column(String(36), default=None)
    valid: Mapped[bool] = mapped_column(Boolean)
    whitelist: Mapped[str] = mapped_column(String(16))  # ALWAYS|ALLOWED|ALLOWED_OFFLINE|NEVER
    language: Mapped[str | None] = mapped_column(String(2), default=None)
    default_profile_type: Mapped[str | None] = mapped_column(String(16), default=None)
    energy_contract: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[str] = mapped_column(String(8))  # OCPI version of the last write
    last_updated: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RoamingAuthorization(Base):
    __tablename__ = "roaming_authorizations"
    __table_args__ = (
        Index("ix_roaming_auth_station_token", "station_id", "token_uid_key", "decided_at"),
        Index("ix_roaming_auth_token", "token_uid_key", "decided_at"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    # The eMSP that answered or owns the stored token (None: nobody answered).
    partner_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    country_code: Mapped[str | None] = mapped_column(String(2), default=None)
    party_id: Mapped[str | None] = mapped_column(String(3), default=None)
    token_uid: Mapped[str] = mapped_column(String(255))  # as the station sent it
    token_uid_key: Mapped[str] = mapped_column(String(255))
    token_type: Mapped[str] = mapped_column(String(32))  # OCPI TokenType asked for
    contract_id: Mapped[str | None] = mapped_column(String(36), default=None)
    station_id: Mapped[str] = mapped_column(String(48))
    evse_id: Mapped[int | None] = mapped_column(Integer, default=None)
    location_id: Mapped[str | None] = mapped_column(String(36), default=None)
    # ALLOWED | BLOCKED | EXPIRED | NO_CREDIT | NOT_ALLOWED (the eMSP's AllowedType or ours),
    # UNKNOWN (nobody knows it), NO_ANSWER (no eMSP answered and the whitelist said no).
    result: Mapped[str] = mapped_column(String(16))
    allowed: Mapped[bool] = mapped_column(Boolean)
    # realtime | whitelist | offline: how the decision was reached.
    source: Mapped[str] = mapped_column(String(16))
    authorization_reference: Mapped[str | None] = mapped_column(String(36), default=None)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Until when StartTransaction / TransactionEvent may rely on it without asking again.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set by the session builder once a transaction used this authorization.
    transaction_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
