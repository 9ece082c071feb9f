"""Display messages (OCPP 2.0.1 O01-O04) per station: what the station shows its users.

One row per ``(station_id, message_id)``: set by Borne (``origin`` ``set``, once the station
accepted SetDisplayMessage) or learnt from a NotifyDisplayMessages part (``reported``, with the
``request_id`` of the GetDisplayMessages). A ClearDisplayMessage the station answered removes it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from borne.core.db import Base
from borne.core.types import UTCDateTime

_Id = BigInteger().with_variant(Integer(), "sqlite")

SET = "set"
REPORTED = "reported"


class DisplayMessage(Base):
    __tablename__ = "display_messages"
    __table_args__ = (
        UniqueConstraint("station_id", "message_id", name="uq_display_messages_station_message"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(
        String(48), ForeignKey("stations.station_id", ondelete="CASCADE")
    )
    message_id: Mapped[int] = mapped_column(Integer)
    priority: Mapped[str] = mapped_column(String(16))
    state: Mapped[str | None] = mapped_column(String(16), default=None)
    start_date_time: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    end_date_time: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    transaction_id: Mapped[str | None] = mapped_column(String(36), default=None)
    format: Mapped[str] = mapped_column(String(8))
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    content: Mapped[str] = mapped_column(Text)
    # The display component it shows on ({"name", "instance", "evse"}), none: the station's.
    display: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    origin: Mapped[str] = mapped_column(String(8))
    request_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
