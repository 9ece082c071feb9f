"""Operator API models of firmware updates and campaigns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from borne.firmware import models as fm
from borne.firmware import service
from borne.firmware.spec import FirmwareSpec, PublishSpec
from borne.stations.schemas import STATION_ID

TargetState = Literal[
    "pending",
    "sending",
    "sent",
    "downloading",
    "downloaded",
    "installing",
    "installed",
    "failed",
    "cancelled",
]
Location = Annotated[str, Field(min_length=1, max_length=512, pattern=r"^[\x21-\x7e]+$")]
# PublishFirmware's checksum: the MD5 of the file as 32 hexadecimal digits.
Checksum = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{32}$", description="MD5, hexadecimal")]
# A PEM certificate (1.6 and 2.0.1 cap it at 5500 characters) and a base64 signature (800).
Certificate = Annotated[str, Field(min_length=1, max_length=5500)]
Signature = Annotated[str, Field(min_length=1, max_length=800)]
StationIdIn = Annotated[str, Field(min_length=1, max_length=48, pattern=STATION_ID)]


class FirmwareIn(BaseModel):
    """The firmware to install. With ``signature`` (and ``signing_certificate``), a 2.0.1 station
    gets a signed UpdateFirmware and a 1.6 station the Security whitepaper's
    SignedUpdateFirmware; ``install_at`` reaches 2.0.1 and signed 1.6 updates only."""

    model_config = ConfigDict(extra="forbid")

    location: Location = Field(description="URI the station downloads the image from")
    retrieve_at: AwareDatetime | None = Field(default=None, description="default: now")
    install_at: AwareDatetime | None = None
    signing_certificate: Certificate | None = None
    signature: Signature | None = None
    retries: int | None = Field(default=None, ge=0, le=1000, description="download retries")
    retry_interval_s: int | None = Field(default=None, ge=0, le=86400)

    def to_spec(self, now: datetime) -> FirmwareSpec:
        return FirmwareSpec(
            location=self.location,
            retrieve_at=self.retrieve_at or now,
            install_at=self.install_at,
            signing_certificate=self.signing_certificate,
            signature=self.signature,
            retries=self.retries,
            retry_interval_s=self.retry_interval_s,
        )


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class FirmwareUpdateOut(Out):
    request_id: int = Field(validation_alias="id", description="the OCPP requestId")
    station_id: str
    ocpp_version: str
    action: str
    location: str
    retrieve_at: datetime
    install_at: datetime | None
    signed: bool = False
    campaign_id: int | None
    status: str = Field(
        description="the station's answer (Accepted, Rejected…), NotSent, or its latest status"
    )
    reason: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: fm.FirmwareUpdate) -> FirmwareUpdateOut:
        out = cls.model_validate(row)
        out.signed = row.signature is not None
        return out


class FirmwareStatusOut(Out):
    status: str
    kind: str = Field(description="firmware | signed_firmware (1.6 security)")
    request_id: int | None
    update_id: int | None = Field(description="the update this status was attributed to")
    timestamp: datetime


class StationFirmwareOut(BaseModel):
    station_id: str
    current: FirmwareUpdateOut | None = Field(description="the latest update")
    updates: list[FirmwareUpdateOut] = Field(description="newest first")
    history: list[FirmwareStatusOut] = Field(description="reported statuses, newest first")

    @classmethod
    def of(cls, view: service.StationFirmware) -> StationFirmwareOut:
        updates = [FirmwareUpdateOut.of(u) for u in view.updates]
        return cls(
            station_id=view.station_id,
            current=updates[0] if updates else None,
            updates=updates,
            history=[FirmwareStatusOut.model_validate(e) for e in view.events],
        )


class UpdateSentOut(BaseModel):
    update: FirmwareUpdateOut
    raw: dict[str, object] = Field(description="the station's answer as sent")


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=128)
    location: Location
    install_at: AwareDatetime | None = None
    signing_certificate: Certificate | None = None
    signature: Signature | None = None
    station_ids: list[StationIdIn] = Field(min_length=1, max_length=10000)
    start_at: AwareDatetime | None = Field(default=None, description="default: now")
    concurrency: int = Field(default=10, ge=1, le=1000, description="stations in flight at once")
    max_attempts: int = Field(default=3, ge=1, le=100, description="sends per station")
    retry_interval_s: int = Field(default=60, ge=1, le=86400)
    offline_deadline_s: int = Field(
        default=3600, ge=0, le=30 * 86400, description="after start_at, offline stations fail"
    )
    progress_timeout_s: int = Field(
        default=3600, ge=1, le=30 * 86400, description="silence after which a station fails"
    )
    station_retries: int | None = Field(default=None, ge=0, le=1000)
    station_retry_interval_s: int | None = Field(default=None, ge=0, le=86400)

    @model_validator(mode="after")
    def _signed_needs_both(self) -> CampaignIn:
        if (self.signature is None) != (self.signing_certificate is None):
            raise ValueError("signature and signing_certificate go together")
        return self

    def to_spec(self, now: datetime) -> service.CampaignSpec:
        return service.CampaignSpec(
            name=self.name,
            location=self.location,
            install_at=self.install_at,
            signing_certificate=self.signing_certificate,
            signature=self.signature,
            station_ids=self.station_ids,
            start_at=self.start_at or now,
            concurrency=self.concurrency,
            max_attempts=self.max_attempts,
            retry_interval_s=self.retry_interval_s,
            offline_deadline_s=self.offline_deadline_s,
            progress_timeout_s=self.progress_timeout_s,
            station_retries=self.station_retries,
            station_retry_interval_s=self.station_retry_interval_s,
        )


class CampaignOut(Out):
    id: int
    name: str | None
    location: str
    signed: bool = False
    install_at: datetime | None
    start_at: datetime
    concurrency: int
    max_attempts: int
    retry_interval_s: int
    offline_deadline_s: int
    progress_timeout_s: int
    status: Literal["scheduled", "running", "completed", "cancelled"]
    created_at: datetime
    finished_at: datetime | None
    total: int = 0
    counts: dict[str, int] = Field(default_factory=dict, description="stations per state")

    @classmethod
    def of(cls, view: service.CampaignView) -> CampaignOut:
        out = cls.model_validate(view.campaign)
        out.signed = view.campaign.signature is not None
        out.counts = view.counts
        out.total = sum(view.counts.values())
        return out


class TargetOut(Out):
    station_id: str
    state: TargetState
    reason: str | None = Field(description="why it failed: the station's status, Offline…")
    last_status: str | None = Field(description="the station's latest answer or status")
    attempts: int
    next_attempt_at: datetime
    update_id: int | None = Field(description="the requestId of the update sent")
    updated_at: datetime


class PublishIn(BaseModel):
    """A firmware file for a 2.0.1 Local Controller to download and serve (L03)."""

    model_config = ConfigDict(extra="forbid")

    location: Location = Field(description="URI the controller downloads the file from")
    checksum: Checksum
    retries: int | None = Field(default=None, ge=0, le=1000, description="download retries")
    retry_interval_s: int | None = Field(default=None, ge=0, le=86400)

    def to_spec(self) -> PublishSpec:
        return PublishSpec(
            location=self.location,
            checksum=self.checksum.lower(),
            retries=self.retries,
            retry_interval_s=self.retry_interval_s,
        )


class UnpublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checksum: Checksum


class PublicationOut(Out):
    request_id: int = Field(validation_alias="id", description="the OCPP requestId")
    station_id: str
    location: str
    checksum: str
    retries: int | None
    retry_interval_s: int | None
    status: str = Field(
        description="the answer (Accepted, Rejected), NotSent, the latest reported status "
        "(Downloading, Published, PublishFailed…) or Unpublished"
    )
    reason: str | None
    published_locations: list[str] | None = Field(
        description="the URIs the controller serves the file at, once Published"
    )
    created_at: datetime
    updated_at: datetime
    unpublished_at: datetime | None


class PublicationSentOut(BaseModel):
    publication: PublicationOut
    raw: dict[str, object] = Field(description="the station's answer as sent")


class UnpublishOut(BaseModel):
    status: str = Field(
        description="the station's answer: Unpublished, NoFirmware, DownloadOngoing"
    )
    unpublished: list[int] = Field(description="request ids of the publications now Unpublished")
    raw: dict[str, object] = Field(description="the station's answer as sent")
