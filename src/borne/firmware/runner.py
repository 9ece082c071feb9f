"""The campaign runner: one supervised loop that sends each campaign's update to its stations.

Each pass, per active campaign whose start has come:

- in-flight stations silent for longer than ``progress_timeout_s`` fail (``NoProgress``; a claim
  whose send never finished too);
- due pending stations that are offline wait ``retry_interval_s`` (or their reconnection, see
  ``subscribers``) and fail (``Offline``) once ``offline_deadline_s`` after the start has passed;
- connected ones are claimed (``sending``) up to the free concurrency slots and sent the update,
  each in a supervised task of its own. A failed send is retried up to ``max_attempts``; a
  refusal (``Rejected``, ``InvalidCertificate``…) fails at once;
- a campaign with nothing pending or in flight is ``completed``.

Claims are rows in the database, so a restart resumes where it stopped (a claim left by a crash
goes back to pending). One runner per deployment: in a cluster, start it on one node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from sqlalchemy import func, select, update

from borne.core.deps import Deps
from borne.core.errors import BorneError
from borne.firmware import models as fm
from borne.firmware import service
from borne.firmware.config import FirmwareConfig
from borne.firmware.spec import FirmwareSpec
from borne.ocpp.outbound import OcppOutbound

log = logging.getLogger(__name__)
T = fm.FirmwareCampaignTarget


class CampaignRunner:
    def __init__(self, deps: Deps, outbound: OcppOutbound, config: FirmwareConfig) -> None:
        self._deps = deps
        self._outbound = outbound
        self._config = config
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look again now (a station reported, reconnected, or a campaign was created)."""
        self._wake.set()

    async def run(self) -> None:
        await self.recover()
        while True:
            self._wake.clear()
            await self.tick()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._config.poll_interval_s)

    async def recover(self) -> None:
        """Claims of a process that stopped mid-call go back to pending."""
        async with self._deps.db.unit_of_work() as uow:
            await uow.session.execute(
                update(T).where(T.state == fm.SENDING).values(state=fm.PENDING)
            )
            await uow.commit()

    async def tick(self) -> None:
        now = self._deps.clock.now()
        async with self._deps.db.unit_of_work() as uow:
            ids = list(
                await uow.session.scalars(
                    select(fm.FirmwareCampaign.id)
                    .where(
                        fm.FirmwareCampaign.status.in_(fm.ACTIVE),
                        fm.FirmwareCampaign.start_at <= now,
                    )
                    .order_by(fm.FirmwareCampaign.id)
                )
            )
        for campaign_id in ids:
            try:
                await self._run_campaign(campaign_id)
            except Exception:  # one bad campaign must not stop the others
                log.exception("firmware campaign %s: pass failed", campaign_id)

    async def _run_campaign(self, campaign_id: int) -> None:
        now = self._deps.clock.now()
        async with self._deps.db.unit_of_work() as uow:
            campaign = await uow.session.get(fm.FirmwareCampaign, campaign_id)
            if campaign is None or campaign.status not in fm.ACTIVE:
                return
            campaign.status = fm.RUNNING
            s = uow.session
            silent_since = now - timedelta(seconds=campaign.progress_timeout_s)
            for t in await s.scalars(
                select(T).where(
                    T.campaign_id == campaign_id,
                    T.state.in_(fm.IN_FLIGHT),
                    T.updated_at < silent_since,
                )
            ):
                t.state, t.reason, t.updated_at = fm.FAILED, "NoProgress", now
            await s.flush()
            in_flight = await s.scalar(
                select(func.count())
                .select_from(T)
                .where(T.campaign_id == campaign_id, T.state.in_(fm.IN_FLIGHT))
            )
            slots = campaign.concurrency - int(in_flight or 0)
            deadline = campaign.start_at + timedelta(seconds=campaign.offline_deadline_s)
            claimed: list[str] = []
            due = await s.scalars(
                select(T)
                .where(
                    T.campaign_id == campaign_id, T.state == fm.PENDING, T.next_attempt_at <= now
                )
                .order_by(T.next_attempt_at, T.station_id)
            )
            for t in due:
                if self._outbound.version_of(t.station_id) is None:
                    if now >= deadline:
                        t.state, t.reason, t.updated_at = fm.FAILED, "Offline", now
                    else:
                        t.next_attempt_at = min(service.retry_at(campaign, now), deadline)
                    continue
                if slots <= 0:
                    continue  # connected but no slot: stays due for the next pass
                t.state, t.attempts, t.updated_at = fm.SENDING, t.attempts + 1, now
                claimed.append(t.station_id)
                slots -= 1
            await s.flush()
            open_ = await s.scalar(
                select(func.count())
                .select_from(T)
                .where(T.campaign_id == campaign_id, T.state.not_in(fm.FINAL))
            )
            if not open_:
                campaign.status, campaign.finished_at = fm.COMPLETED, now
            firmware = service.campaign_firmware(campaign, now)
            await uow.commit()
        for sid in claimed:  # in the background: a slow station holds up nobody else
            self._deps.supervisor.spawn(
                self._send(campaign_id, sid, firmware), name=f"firmware-send:{sid}"
            )

    async def _send(self, campaign_id: int, station_id: str, firmware: FirmwareSpec) -> None:
        result = error = row = None
        try:
            row, result, error = await service.send_update(
                self._deps.db,
                self._outbound,
                self._deps.clock,
                station_id,
                firmware,
                campaign_id=campaign_id,
                call_timeout=self._config.call_timeout_s,
            )
        except BorneError as exc:  # offline since the claim, or a spec the version refuses
            error = exc
        now = self._deps.clock.now()
        async with self._deps.db.unit_of_work() as uow:
            campaign = await uow.session.get(fm.FirmwareCampaign, campaign_id)
            target = await uow.session.get(T, (campaign_id, station_id))
            if campaign is None or target is None or target.state in fm.FINAL:
                return
            if row is not None:
                target.update_id = row.id
            if result is not None and result.status in service.ACCEPTED:
                if target.state == fm.SENDING:  # statuses may already have moved it on
                    target.state, target.last_status = fm.SENT, result.status
                    target.updated_at = now
            elif result is not None:
                target.state, target.reason = fm.FAILED, result.reason or result.status
                target.last_status, target.updated_at = result.status, now
            else:
                assert error is not None
                reason = service.error_reason(error)
                if target.attempts >= campaign.max_attempts or campaign.status not in fm.ACTIVE:
                    target.state, target.reason = fm.FAILED, reason
                else:
                    target.state, target.reason = fm.PENDING, reason
                    target.next_attempt_at = service.retry_at(campaign, now)
                target.updated_at = now
            final = target.state in fm.FINAL
            await uow.commit()
        if final:
            self.wake()  # a slot is free
