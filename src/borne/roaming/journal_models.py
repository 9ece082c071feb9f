"""The push journal: events that OCPI partners must hear about, recorded atomically with the
change (see :mod:`borne.roaming.journal`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from borne.core.db import Base
from borne.core.types import UTCDateTime

_Id = BigInteger().with_variant(Integer(), "sqlite")


class PushJournalEntry(Base):
    __tablename__ = "roaming_push_journal"

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    #: The event's class name (one of ``journal.JOURNALED``).
    event: Mapped[str] = mapped_column(String(64))
    #: The event's fields in JSON form, enough to rebuild it.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
