"""Firmware use cases: send an update to one station, track what stations report, campaigns.

An update is stored before it is sent (its id is the OCPP ``requestId``), then the station's
answer, then every status it reports (``record_status``, fed by the stations domain's
``StationNotificationReceived``). A status is attributed to the update whose ``requestId`` it
carries or, for 1.6 FirmwareStatusNotification (no requestId), to the station's latest update.
When that update belongs to a campaign, the campaign's target moves on too (``advance``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import func, select

from borne.core.clock import Clock
from borne.core.errors import (
    BorneError,
    Conflict,
    InvalidInput,
    NotFound,
    StationCallError,
    StationNotConnected,
)
from borne.core.uow import Database
from borne.firmware import models as fm
from borne.firmware import ocpp_v16, ocpp_v201
from borne.firmware.spec import FirmwareResult, FirmwareSpec
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.versions import OcppVersion
from borne.stations.models import Station
from borne.stations.unit import Unit

FIRMWARE_KINDS = frozenset({"firmware", "signed_firmware"})
# What the station's answer means for the update: anything but these is a refusal.
ACCEPTED = frozenset({"Accepted", "AcceptedCanceled"})
# Station status → campaign target state; absent statuses (Idle) leave the state alone.
_PROGRESS = {
    "DownloadScheduled": fm.DOWNLOADING,
    "Downloading": fm.DOWNLOADING,
    "DownloadPaused": fm.DOWNLOADING,
    "Downloaded": fm.DOWNLOADED,
    "SignatureVerified": fm.DOWNLOADED,
    "InstallScheduled": fm.DOWNLOADED,
    "Installing": fm.INSTALLING,
    "InstallRebooting": fm.INSTALLING,
    "Installed": fm.INSTALLED,
}
FAILURE_STATUSES = frozenset(
    {"DownloadFailed", "InstallationFailed", "InvalidSignature", "InstallVerificationFailed"}
)
_ORDER = {state: i for i, state in enumerate(fm.STATES)}


class Translator(Protocol):
    """What ``ocpp_v16`` and ``ocpp_v201`` each provide (checked by mypy on the modules)."""

    def action_for(self, spec: FirmwareSpec) -> str: ...

    async def update_firmware(
        self,
        outbound: OcppOutbound,
        station_id: str,
        *,
        request_id: int,
        spec: FirmwareSpec,
        call_timeout: float | None,
    ) -> FirmwareResult: ...


def translator_for(version: OcppVersion) -> Translator:
    return ocpp_v16 if version is OcppVersion.V16 else ocpp_v201


def check_spec(spec: FirmwareSpec, version: OcppVersion) -> None:
    """Refuse (422) what the station's version cannot carry, before anything is stored."""
    if (
        version is OcppVersion.V16
        and spec.signed
        and not (spec.signature and spec.signing_certificate)
    ):
        raise InvalidInput(
            "an OCPP 1.6 signed update (SignedUpdateFirmware) needs both signature and "
            "signing_certificate"
        )


# ------------------------------------------------------------------ one station


async def send_update(
    db: Database,
    outbound: OcppOutbound,
    clock: Clock,
    station_id: str,
    spec: FirmwareSpec,
    *,
    campaign_id: int | None = None,
    call_timeout: float | None = None,
) -> tuple[fm.FirmwareUpdate, FirmwareResult | None, BorneError | None]:
    """Store the update, send it, store the answer. Never raises for the station's own failure
    (offline, timeout, CALLERROR): it comes back as the third item, recorded on the update as
    ``NotSent`` with the error code as reason. A spec the version refuses raises ``InvalidInput``.
    """
    version = outbound.version_of(station_id)
    if version is None:
        raise StationNotConnected(f"station {station_id} is not connected")
    check_spec(spec, version)
    translator = translator_for(version)
    now = clock.now()
    async with db.unit_of_work() as uow:
        update = fm.FirmwareUpdate(
            station_id=station_id,
            ocpp_version=version.value,
            action=translator.action_for(spec),
            location=spec.location,
            retrieve_at=spec.retrieve_at,
            install_at=spec.install_at,
            signing_certificate=spec.signing_certificate,
            signature=spec.signature,
            retries=spec.retries,
            retry_interval_s=spec.retry_interval_s,
            campaign_id=campaign_id,
            status="Sending",
            created_at=now,
            updated_at=now,
        )
        uow.session.add(update)
        await uow.session.flush()
        if campaign_id is not None:
            # Linked before the call: the station may report Downloading before its answer
            # to UpdateFirmware has been stored.
            target = await uow.session.get(fm.FirmwareCampaignTarget, (campaign_id, station_id))
            if target is not None:
                target.update_id = update.id
        await uow.commit()
    result: FirmwareResult | None = None
    error: BorneError | None = None
    try:
        result = await translator.update_firmware(
            outbound, station_id, request_id=update.id, spec=spec, call_timeout=call_timeout
        )
    except InvalidInput:
        raise
    except BorneError as exc:
        error = exc
    async with db.unit_of_work() as uow:
        row = await uow.session.get(fm.FirmwareUpdate, update.id)
        assert row is not None
        if result is not None:
            row.status, row.reason = result.status, result.reason
        else:
            assert error is not None
            row.status, row.reason = "NotSent", error_reason(error)
        row.updated_at = clock.now()
        await uow.commit()
    return row, result, error


def error_reason(error: BorneError) -> str:
    if isinstance(error, StationCallError):
        return error.error_code[:255]  # the station's own CALLERROR code
    return error.code


@dataclass(frozen=True)
class StationFirmware:
    station_id: str
    updates: Sequence[fm.FirmwareUpdate]  # newest first
    events: Sequence[fm.FirmwareStatusEvent]  # newest first


async def station_firmware(unit: Unit, station_id: str, *, limit: int = 20) -> StationFirmware:
    if await unit.session.get(Station, station_id) is None:
        raise NotFound(f"station {station_id} not found")
    updates = await unit.session.scalars(
        select(fm.FirmwareUpdate)
        .where(fm.FirmwareUpdate.station_id == station_id)
        .order_by(fm.FirmwareUpdate.id.desc())
        .limit(limit)
    )
    events = await unit.session.scalars(
        select(fm.FirmwareStatusEvent)
        .where(fm.FirmwareStatusEvent.station_id == station_id)
        .order_by(fm.FirmwareStatusEvent.id.desc())
        .limit(limit * 10)
    )
    return StationFirmware(station_id, list(updates), list(events))


async def record_status(
    unit: Unit,
    *,
    station_id: str,
    kind: str,
    status: str,
    request_id: int | None,
    timestamp: datetime,
    now: datetime,
) -> fm.FirmwareUpdate | None:
    """Keep a reported status in the history and move its update (and campaign target) on."""
    update: fm.FirmwareUpdate | None
    if request_id is not None:
        update = await unit.session.get(fm.FirmwareUpdate, request_id)
        if update is not None and update.station_id != station_id:
            update = None  # another station's id: not ours to move
    else:
        update = await unit.session.scalar(
            select(fm.FirmwareUpdate)
            .where(fm.FirmwareUpdate.station_id == station_id)
            .order_by(fm.FirmwareUpdate.id.desc())
            .limit(1)
        )
    unit.session.add(
        fm.FirmwareStatusEvent(
            station_id=station_id,
            update_id=None if update is None else update.id,
            kind=kind,
            status=status,
            request_id=request_id,
            timestamp=timestamp,
        )
    )
    if update is None or status == "Idle":
        return update
    update.status, update.updated_at = status, now
    update.reason = status if status in FAILURE_STATUSES else None
    if update.campaign_id is not None:
        target = await unit.session.get(fm.FirmwareCampaignTarget, (update.campaign_id, station_id))
        if target is not None and target.update_id == update.id:
            advance(target, status, now)
    return update


def advance(target: fm.FirmwareCampaignTarget, status: str, now: datetime) -> None:
    """Move a target on by a station status; never back, never out of a final state (a late
    Downloading after Installed is noise)."""
    if target.state in fm.FINAL:
        return
    target.last_status, target.updated_at = status, now
    if status in FAILURE_STATUSES:
        target.state, target.reason = fm.FAILED, status
        return
    state = _PROGRESS.get(status)
    if state is not None and _ORDER[state] > _ORDER[target.state]:
        target.state = state


# ------------------------------------------------------------------ campaigns


@dataclass(frozen=True, kw_only=True)
class CampaignSpec:
    location: str
    station_ids: list[str]
    start_at: datetime
    name: str | None = None
    install_at: datetime | None = None
    signing_certificate: str | None = None
    signature: str | None = None
    concurrency: int = 10
    max_attempts: int = 3
    retry_interval_s: int = 60
    offline_deadline_s: int = 3600
    progress_timeout_s: int = 3600
    station_retries: int | None = None
    station_retry_interval_s: int | None = None


@dataclass(frozen=True)
class CampaignView:
    campaign: fm.FirmwareCampaign
    counts: dict[str, int]  # every state, zero included


async def create_campaign(unit: Unit, spec: CampaignSpec, *, now: datetime) -> CampaignView:
    ids = list(dict.fromkeys(spec.station_ids))
    known = set(
        await unit.session.scalars(select(Station.station_id).where(Station.station_id.in_(ids)))
    )
    unknown = [s for s in ids if s not in known]
    if unknown:
        raise InvalidInput("unknown stations", details={"station_ids": unknown[:50]})
    if spec.signature is not None and spec.signing_certificate is None:
        # 1.6 stations get SignedUpdateFirmware, whose firmware needs both.
        raise InvalidInput("a signed campaign needs signing_certificate with the signature")
    campaign = fm.FirmwareCampaign(
        name=spec.name,
        location=spec.location,
        signing_certificate=spec.signing_certificate,
        signature=spec.signature,
        install_at=spec.install_at,
        start_at=spec.start_at,
        concurrency=spec.concurrency,
        max_attempts=spec.max_attempts,
        retry_interval_s=spec.retry_interval_s,
        offline_deadline_s=spec.offline_deadline_s,
        progress_timeout_s=spec.progress_timeout_s,
        station_retries=spec.station_retries,
        station_retry_interval_s=spec.station_retry_interval_s,
        status=fm.SCHEDULED,
        created_at=now,
    )
    unit.session.add(campaign)
    await unit.session.flush()
    for station_id in ids:
        unit.session.add(
            fm.FirmwareCampaignTarget(
                campaign_id=campaign.id,
                station_id=station_id,
                state=fm.PENDING,
                attempts=0,
                next_attempt_at=spec.start_at,
                updated_at=now,
            )
        )
    await unit.session.flush()
    return CampaignView(campaign, _counts({fm.PENDING: len(ids)}))


def _counts(found: dict[str, int]) -> dict[str, int]:
    return {state: found.get(state, 0) for state in fm.STATES}


async def _campaign(unit: Unit, campaign_id: int) -> fm.FirmwareCampaign:
    campaign = await unit.session.get(fm.FirmwareCampaign, campaign_id)
    if campaign is None:
        raise NotFound(f"firmware campaign {campaign_id} not found")
    return campaign


async def state_counts(unit: Unit, campaign_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    rows = await unit.session.execute(
        select(
            fm.FirmwareCampaignTarget.campaign_id,
            fm.FirmwareCampaignTarget.state,
            func.count(),
        )
        .where(fm.FirmwareCampaignTarget.campaign_id.in_(campaign_ids))
        .group_by(fm.FirmwareCampaignTarget.campaign_id, fm.FirmwareCampaignTarget.state)
    )
    found: dict[int, dict[str, int]] = {cid: {} for cid in campaign_ids}
    for cid, state, n in rows.all():
        found[cid][state] = n
    return {cid: _counts(c) for cid, c in found.items()}


async def get_campaign(unit: Unit, campaign_id: int) -> CampaignView:
    campaign = await _campaign(unit, campaign_id)
    return CampaignView(campaign, (await state_counts(unit, [campaign_id]))[campaign_id])


async def list_campaigns(unit: Unit, *, offset: int, limit: int) -> tuple[list[CampaignView], int]:
    total = await unit.session.scalar(select(func.count()).select_from(fm.FirmwareCampaign))
    rows = list(
        await unit.session.scalars(
            select(fm.FirmwareCampaign)
            .order_by(fm.FirmwareCampaign.id.desc())
            .offset(offset)
            .limit(limit)
        )
    )
    counts = await state_counts(unit, [c.id for c in rows])
    return [CampaignView(c, counts[c.id]) for c in rows], int(total or 0)


async def list_targets(
    unit: Unit, campaign_id: int, *, state: str | None, offset: int, limit: int
) -> tuple[list[fm.FirmwareCampaignTarget], int]:
    await _campaign(unit, campaign_id)
    where = [fm.FirmwareCampaignTarget.campaign_id == campaign_id]
    if state is not None:
        where.append(fm.FirmwareCampaignTarget.state == state)
    total = await unit.session.scalar(
        select(func.count()).select_from(fm.FirmwareCampaignTarget).where(*where)
    )
    rows = await unit.session.scalars(
        select(fm.FirmwareCampaignTarget)
        .where(*where)
        .order_by(fm.FirmwareCampaignTarget.station_id)
        .offset(offset)
        .limit(limit)
    )
    return list(rows), int(total or 0)


async def cancel_campaign(unit: Unit, campaign_id: int, *, now: datetime) -> CampaignView:
    """Stop sending: pending stations are cancelled. Stations already sent the update keep
    being tracked (OCPP has no way to take an UpdateFirmware back)."""
    campaign = await _campaign(unit, campaign_id)
    if campaign.status not in fm.ACTIVE:
        raise Conflict(f"firmware campaign {campaign_id} is {campaign.status}")
    campaign.status, campaign.finished_at = fm.CAMPAIGN_CANCELLED, now
    targets = await unit.session.scalars(
        select(fm.FirmwareCampaignTarget).where(
            fm.FirmwareCampaignTarget.campaign_id == campaign_id,
            fm.FirmwareCampaignTarget.state == fm.PENDING,
        )
    )
    for t in targets:
        t.state, t.reason, t.updated_at = fm.CANCELLED, "campaign cancelled", now
    await unit.session.flush()
    return await get_campaign(unit, campaign_id)


def campaign_firmware(campaign: fm.FirmwareCampaign, now: datetime) -> FirmwareSpec:
    return FirmwareSpec(
        location=campaign.location,
        retrieve_at=max(now, campaign.start_at),
        install_at=campaign.install_at,
        signing_certificate=campaign.signing_certificate,
        signature=campaign.signature,
        retries=campaign.station_retries,
        retry_interval_s=campaign.station_retry_interval_s,
    )


def retry_at(campaign: fm.FirmwareCampaign, now: datetime) -> datetime:
    return now + timedelta(seconds=campaign.retry_interval_s)
