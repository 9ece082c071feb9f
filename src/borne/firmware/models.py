"""Firmware updates sent to stations, the statuses they reported, and campaigns over many.

- ``FirmwareUpdate``: one UpdateFirmware / SignedUpdateFirmware sent (or about to be sent) to a
  station. Its primary key is the OCPP ``requestId`` (unique across stations, so a status that
  carries it is found without ambiguity). ``status`` is the latest word: the station's answer
  (``Accepted``, ``Rejected``…), then each status it reports. ``campaign_id`` links it to the
  campaign that sent it.
- ``FirmwareStatusEvent``: every firmware status a station reported, in order (the history),
  with the update it was attributed to (1.6 FirmwareStatusNotification has no requestId: it is
  attributed to the station's latest update).
- ``FirmwareCampaign``: one firmware image for many stations, sent from ``start_at`` with at most
  ``concurrency`` stations in flight; ``max_attempts`` sends per station, ``retry_interval_s``
  between them; a station still offline ``offline_deadline_s`` after the start fails.
- ``FirmwareCampaignTarget``: one station of a campaign: its progress ``state`` (see
  ``STATES``), the failure ``reason`` (the station's status word, ``Rejected``, ``Offline``…).
- ``FirmwarePublication``: one PublishFirmware sent to a 2.0.1 Local Controller (L03), its
  primary key the OCPP ``requestId``; ``status`` is the station's answer, then the latest
  PublishFirmwareStatusNotification, ``Unpublished`` once UnpublishFirmware (L04) removed it;
  ``published_locations``: the URIs the controller serves the file at (status ``Published``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from borne.core.db import Base
from borne.core.types import UTCDateTime

_Id = BigInteger().with_variant(Integer(), "sqlite")

# Campaign target states, in the order a station goes through them.
PENDING = "pending"
SENDING = "sending"  # claimed by the runner, the call is under way
SENT = "sent"
DOWNLOADING = "downloading"
DOWNLOADED = "downloaded"
INSTALLING = "installing"
INSTALLED = "installed"
FAILED = "failed"
CANCELLED = "cancelled"
STATES = (
    PENDING,
    SENDING,
    SENT,
    DOWNLOADING,
    DOWNLOADED,
    INSTALLING,
    INSTALLED,
    FAILED,
    CANCELLED,
)
IN_FLIGHT = (SENDING, SENT, DOWNLOADING, DOWNLOADED, INSTALLING)
FINAL = (INSTALLED, FAILED, CANCELLED)

# Campaign statuses.
SCHEDULED = "scheduled"
RUNNING = "running"
COMPLETED = "completed"
CAMPAIGN_CANCELLED = "cancelled"
ACTIVE = (SCHEDULED, RUNNING)


class FirmwareUpdate(Base):
    __tablename__ = "firmware_updates"
    __table_args__ = (Index("ix_firmware_updates_station", "station_id", "id"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(48))
    ocpp_version: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))  # UpdateFirmware | SignedUpdateFirmware
    location: Mapped[str] = mapped_column(String(512))
    retrieve_at: Mapped[datetime] = mapped_column(UTCDateTime)
    install_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    signing_certificate: Mapped[str | None] = mapped_column(Text, default=None)
    signature: Mapped[str | None] = mapped_column(Text, default=None)
    retries: Mapped[int | None] = mapped_column(Integer, default=None)
    retry_interval_s: Mapped[int | None] = mapped_column(Integer, default=None)
    campaign_id: Mapped[int | None] = mapped_column(
        _Id, ForeignKey("firmware_campaigns.id", ondelete="SET NULL"), default=None
    )
    status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FirmwareStatusEvent(Base):
    __tablename__ = "firmware_status_events"
    __table_args__ = (Index("ix_firmware_status_events_station", "station_id", "id"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(48))
    update_id: Mapped[int | None] = mapped_column(
        _Id, ForeignKey("firmware_updates.id", ondelete="CASCADE"), default=None, index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # firmware | signed_firmware
    status: Mapped[str] = mapped_column(String(32))
    request_id: Mapped[int | None] = mapped_column(_Id, default=None)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)


class FirmwareCampaign(Base):
    __tablename__ = "firmware_campaigns"

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    name: Mapped[str | None] = mapped_column(String(128), default=None)
    location: Mapped[str] = mapped_column(String(512))
    signing_certificate: Mapped[str | None] = mapped_column(Text, default=None)
    signature: Mapped[str | None] = mapped_column(Text, default=None)
    install_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    concurrency: Mapped[int] = mapped_column(Integer)
    max_attempts: Mapped[int] = mapped_column(Integer)
    retry_interval_s: Mapped[int] = mapped_column(Integer)
    offline_deadline_s: Mapped[int] = mapped_column(Integer)
    progress_timeout_s: Mapped[int] = mapped_column(Integer)
    station_retries: Mapped[int | None] = mapped_column(Integer, default=None)
    station_retry_interval_s: Mapped[int | None] = mapped_column(Integer, default=None)
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class FirmwareCampaignTarget(Base):
    __tablename__ = "firmware_campaign_targets"
    __table_args__ = (Index("ix_firmware_campaign_targets_state", "campaign_id", "state"),)

    campaign_id: Mapped[int] = mapped_column(
        _Id, ForeignKey("firmware_campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    station_id: Mapped[str] = mapped_column(String(48), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(255), default=None)
    last_status: Mapped[str | None] = mapped_column(String(32), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    update_id: Mapped[int | None] = mapped_column(_Id, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FirmwarePublication(Base):
    __tablename__ = "firmware_publications"
    __table_args__ = (Index("ix_firmware_publications_station", "station_id", "id"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(48))
    location: Mapped[str] = mapped_column(String(512))
    checksum: Mapped[str] = mapped_column(String(32))  # MD5 of the file, hexadecimal
    retries: Mapped[int | None] = mapped_column(Integer, default=None)
    retry_interval_s: Mapped[int | None] = mapped_column(Integer, default=None)
    status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(255), default=None)
    published_locations: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    unpublished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
