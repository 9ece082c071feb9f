"""Id tokens (1.6 idTag, 2.0.1 idToken) known to Borne."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text
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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
