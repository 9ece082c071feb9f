"""Id tokens (1.6 idTag, 2.0.1 idToken) known to Borne."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from borne.core.db import Base
from borne.core.types import UTCDateTime

_Id = BigInteger().with_variant(Integer(), "sqlite")


class IdToken(Base):
    """An id token and its authorization data.

    OCPP id tokens are case-insensitive (1.6 ``IdToken``, 2.0.1 ``IdTokenType.idToken``): RFID
    readers disagree on hex case. ``id_token`` keeps the value as entered; ``id_token_key``, its
    upper-cased form, is unique and is what lookups use.
    """

    __tablename__ = "id_tokens"

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    # 2.0.1 allows 36 characters, 1.6 20; eMAIDs and OCPI token uids fit in 255.
    id_token: Mapped[str] = mapped_column(String(255))
    id_token_key: Mapped[str] = mapped_column(String(255), unique=True)
    # 2.0.1 IdTokenEnumType: Central, eMAID, ISO14443, ISO15693, KeyCode, Local, MacAddress,
    # NoAuthorization.
    type: Mapped[str] = mapped_column(String(20), default="ISO14443")
    status: Mapped[str] = mapped_column(String(16), default="Accepted")
    expiry_date: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # The group (1.6 parentIdTag, 2.0.1 groupIdToken) this token belongs to.
    group_id_token: Mapped[str | None] = mapped_column(String(255), default=None, index=True)
    label: Mapped[str | None] = mapped_column(String(255), default=None)
    notes: Mapped[str | None] = mapped_column(Text, default=None)
    # Sent to every station whose local authorization list Borne keeps (docs/authorization.md).
    local_list: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # On a group's own token: the group is a 2.0.1 master pass (its members stop, never start).
    master_pass: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # 2.0.1 idTokenInfo: a message for the driver (UTF8, 512 characters) and languages.
    personal_message: Mapped[str | None] = mapped_column(String(512), default=None)
    personal_message_language: Mapped[str | None] = mapped_column(String(8), default=None)
    language1: Mapped[str | None] = mapped_column(String(8), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LocalAuthList(Base):
    """Borne's side of one station's local authorization list: settings and sync progress.

    ``version`` is the list version the station last accepted; ``pending`` says the entries
    may differ from what should be there (a token changed, the station rebooted).
    """

    __tablename__ = "local_auth_lists"

    station_id: Mapped[str] = mapped_column(String(48), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    pending: Mapped[bool] = mapped_column(Boolean, default=True)
    needs_full: Mapped[bool] = mapped_column(Boolean, default=True)
    verify_version: Mapped[bool] = mapped_column(Boolean, default=False)
    # Bumped whenever an update is scheduled: a sync clears ``pending`` only if nothing was
    # scheduled while it ran (a token changed during the sync is not lost).
    generation: Mapped[int] = mapped_column(Integer, default=0)
    # Limits: set by the operator, else read once from the station (None: unknown).
    max_entries: Mapped[int | None] = mapped_column(Integer, default=None)
    items_per_message: Mapped[int | None] = mapped_column(Integer, default=None)
    limits_checked: Mapped[bool] = mapped_column(Boolean, default=False)
    truncated: Mapped[int] = mapped_column(Integer, default=0)  # tokens left out (max_entries)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_status: Mapped[str | None] = mapped_column(String(32), default=None)
    last_error: Mapped[str | None] = mapped_column(String(255), default=None)
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LocalAuthListEntry(Base):
    """One token as the station holds it after its last accepted update."""

    __tablename__ = "local_auth_list_entries"

    station_id: Mapped[str] = mapped_column(String(48), primary_key=True)
    id_token_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    id_token: Mapped[str] = mapped_column(String(255))
    token_type: Mapped[str] = mapped_column(String(20), default="ISO14443")  # 2.0.1 removals
    # What was sent (status, expiry, group, message...), compared to find changed tokens.
    digest: Mapped[str] = mapped_column(String(64))
