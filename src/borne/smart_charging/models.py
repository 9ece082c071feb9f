"""Smart-charging state per station: the profiles Borne set, what stations report, and notices.

- ``ChargingProfileRecord``: a profile the station accepted from Borne (SetChargingProfile),
  one row per ``(station_id, profile_id)``. ``evse_id`` is the 2.0.1 EVSE (a 1.6 connector is an
  EVSE; 0 is the whole station). ``profile`` is the profile in its wire form, as sent to the
  station's version. Rows go when a ClearChargingProfile matches them or a newer profile
  replaces them (same id, or same EVSE + stackLevel + purpose, as OCPP replaces them).
- ``ReportedChargingProfile``: one profile of a 2.0.1 ReportChargingProfiles part, kept per
  ``request_id`` of the GetChargingProfiles that asked for it (wire form in ``profile``).
- ``ChargingNotice``: what a 2.0.1 station tells on its own: ``charging_limit``
  (NotifyChargingLimit), ``cleared_charging_limit`` (ClearedChargingLimit),
  ``ev_charging_needs`` (NotifyEVChargingNeeds), ``ev_charging_schedule``
  (NotifyEVChargingSchedule); ``payload`` is the message as received.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from borne.core.db import Base
from borne.core.types import UTCDateTime

_Id = BigInteger().with_variant(Integer(), "sqlite")
_STATION_FK = "stations.station_id"

CHARGING_LIMIT = "charging_limit"
CLEARED_CHARGING_LIMIT = "cleared_charging_limit"
EV_CHARGING_NEEDS = "ev_charging_needs"
EV_CHARGING_SCHEDULE = "ev_charging_schedule"
NOTICE_KINDS = (CHARGING_LIMIT, CLEARED_CHARGING_LIMIT, EV_CHARGING_NEEDS, EV_CHARGING_SCHEDULE)


class ChargingProfileRecord(Base):
    __tablename__ = "charging_profiles"
    __table_args__ = (
        UniqueConstraint("station_id", "profile_id", name="uq_charging_profiles_station_profile"),
        Index("ix_charging_profiles_station_evse", "station_id", "evse_id"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(48), ForeignKey(_STATION_FK, ondelete="CASCADE"))
    evse_id: Mapped[int] = mapped_column(Integer)
    profile_id: Mapped[int] = mapped_column(Integer)
    stack_level: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))
    transaction_id: Mapped[str | None] = mapped_column(String(64), default=None)
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    ocpp_version: Mapped[str] = mapped_column(String(16))
    profile: Mapped[dict[str, Any]] = mapped_column(JSON)
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReportedChargingProfile(Base):
    __tablename__ = "reported_charging_profiles"
    __table_args__ = (
        Index("ix_reported_charging_profiles_station_request", "station_id", "request_id"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(48), ForeignKey(_STATION_FK, ondelete="CASCADE"))
    request_id: Mapped[int] = mapped_column(BigInteger)
    evse_id: Mapped[int] = mapped_column(Integer)
    charging_limit_source: Mapped[str] = mapped_column(String(16))
    profile_id: Mapped[int] = mapped_column(Integer)
    stack_level: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(40))
    profile: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ChargingNotice(Base):
    __tablename__ = "charging_notices"
    __table_args__ = (Index("ix_charging_notices_station_kind", "station_id", "kind", "id"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(48), ForeignKey(_STATION_FK, ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    evse_id: Mapped[int | None] = mapped_column(Integer, default=None)
    # NotifyChargingLimit / ClearedChargingLimit: who set the limit (EMS, SO, CSO, Other).
    limit_source: Mapped[str | None] = mapped_column(String(16), default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
