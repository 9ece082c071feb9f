"""Refresh after boot (opt-in, see ``DeviceModelConfig``): a station that boots Accepted and
whose configuration / device model Borne lacks, or holds for longer than ``max_age_s``, is
asked for it. Failures are logged, never retried: the operator can refresh on demand."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import select

from borne.core.bus import EventBus
from borne.core.deps import Deps
from borne.core.errors import BorneError
from borne.device_model import actions
from borne.device_model.config import DeviceModelConfig
from borne.device_model.models import ConfigurationSnapshot, DeviceReport
from borne.device_model.service import FULL_INVENTORY
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.versions import OcppVersion
from borne.stations.events import StationBooted

log = logging.getLogger(__name__)


class BootRefresher:
    def __init__(self, deps: Deps, outbound: OcppOutbound, config: DeviceModelConfig) -> None:
        self.deps = deps
        self.outbound = outbound
        self.config = config

    def subscribe(self, bus: EventBus) -> None:
        if self.config.refresh_on_boot:
            bus.subscribe(StationBooted, self.on_booted, when=lambda e: e.status == "Accepted")

    async def _is_fresh(self, station_id: str, version: OcppVersion) -> bool:
        since = self.deps.clock.now() - timedelta(seconds=self.config.max_age_s)
        async with self.deps.db.unit_of_work() as uow:
            if version is OcppVersion.V16:
                snap = await uow.session.get(ConfigurationSnapshot, station_id)
                return snap is not None and snap.refreshed_at >= since
            done = await uow.session.scalar(
                select(DeviceReport.id)
                .where(
                    DeviceReport.station_id == station_id,
                    DeviceReport.kind == FULL_INVENTORY,
                    DeviceReport.completed_at >= since,
                )
                .limit(1)
            )
            return done is not None

    async def on_booted(self, event: StationBooted) -> None:
        await asyncio.sleep(self.config.boot_delay_s)
        version = self.outbound.version_of(event.station_id)
        if version is None or await self._is_fresh(event.station_id, version):
            return
        try:
            if version is OcppVersion.V16:
                await actions.refresh_configuration(self.deps, self.outbound, event.station_id)
            else:
                await actions.request_report(
                    self.deps, self.outbound, event.station_id, report_base="FullInventory"
                )
        except BorneError as exc:
            log.warning("refresh after boot of %s failed: %s", event.station_id, exc)
