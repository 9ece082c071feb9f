"""OCPI partners (one row per connection) and the roles each one announced.

Tokens the partner uses to call Borne are stored as SHA-256 hex digests only: they are random,
high-entropy strings, so a plain hash is enough to find the partner and leaks nothing usable.
The token Borne sends to the partner must be stored in clear (it is sent on every request);
it never leaves through logs or API answers (R27).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from borne.core.db import Base
from borne.core.types import UTCDateTime


class Partner(Base):
    """One OCPI connection; ``status``: pending → registered → (suspended | unregistered)."""

    __tablename__ = "ocpi_partners"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    # Token A while pending, token C once registered; None when unregistered.
    our_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    # A token offered to the partner and not yet confirmed (outbound registration / rotation):
    # valid alongside ``our_token_hash`` until the partner's answer settles it (R33).
    pending_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    # Token B (or their token C after we registered with them): what Borne sends.
    their_token: Mapped[str | None] = mapped_column(String(64), default=None)
    their_versions_url: Mapped[str | None] = mapped_column(String(255), default=None)
    version: Mapped[str | None] = mapped_column(String(8), default=None)
    # [{"identifier", "role", "url"}] of the negotiated version.
    endpoints: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # How Borne sends its token to this partner (base64 per 2.2+, raw for older peers).
    token_base64: Mapped[bool] = mapped_column(Boolean, default=True)
    # Whether a raw (not base64) token from this partner is accepted.
    accept_raw_tokens: Mapped[bool] = mapped_column(Boolean, default=False)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PartnerRole(Base):
    """A role a partner announced; the primary key makes it unique across all partners."""

    __tablename__ = "ocpi_partner_roles"

    country_code: Mapped[str] = mapped_column(String(2), primary_key=True)
    party_id: Mapped[str] = mapped_column(String(3), primary_key=True)
    role: Mapped[str] = mapped_column(String(8), primary_key=True)  # CPO/EMSP/HUB/NSP/SCSP/OTHER
    partner_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("ocpi_partners.id", ondelete="CASCADE"), index=True
    )
    business_details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
