"""Reactions to the stations domain's events.

- ``StationNotificationReceived`` (firmware / signed_firmware): the status goes into the history
  and moves its update and campaign target on. Statuses of one station are handled one at a time,
  in arrival order (the bus delivers each event in a task of its own).
- ``StationConnectionChanged`` (connected): the station's pending campaign targets are due now,
  rather than at their next retry.

Both wake the campaign runner, whose free slots or due stations may have changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy import select, update

from borne.core.bus import EventBus
from borne.core.deps import Deps
from borne.firmware import models as fm
from borne.firmware import service
from borne.stations.events import StationConnectionChanged, StationNotificationReceived


class FirmwareSubscribers:
    def __init__(self, deps: Deps, wake: Callable[[], None]) -> None:
        self._deps = deps
        self._wake = wake
        # station id → (its lock, how many handlers hold or wait for it)
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    def subscribe(self, bus: EventBus) -> None:
        bus.subscribe(
            StationNotificationReceived,
            self.on_notification,
            when=lambda ev: ev.kind in service.FIRMWARE_KINDS,
        )
        bus.subscribe(StationConnectionChanged, self.on_connected, when=lambda ev: ev.connected)

    async def on_notification(self, ev: StationNotificationReceived) -> None:
        lock, users = self._locks.get(ev.station_id, (asyncio.Lock(), 0))
        self._locks[ev.station_id] = (lock, users + 1)
        try:
            async with lock, self._deps.db.unit_of_work() as uow:
                found = await service.record_status(
                    uow,
                    station_id=ev.station_id,
                    kind=ev.kind,
                    status=ev.status,
                    request_id=ev.request_id,
                    timestamp=ev.timestamp,
                    now=self._deps.clock.now(),
                )
                await uow.commit()
        finally:
            lock, users = self._locks[ev.station_id]
            if users <= 1:
                del self._locks[ev.station_id]  # nobody waiting: keep the map small
            else:
                self._locks[ev.station_id] = (lock, users - 1)
        if found is not None and found.campaign_id is not None:
            self._wake()

    async def on_connected(self, ev: StationConnectionChanged) -> None:
        T = fm.FirmwareCampaignTarget
        async with self._deps.db.unit_of_work() as uow:
            active = select(fm.FirmwareCampaign.id).where(fm.FirmwareCampaign.status.in_(fm.ACTIVE))
            result = await uow.session.execute(
                update(T)
                .where(
                    T.station_id == ev.station_id,
                    T.state == fm.PENDING,
                    T.campaign_id.in_(active),
                    T.next_attempt_at > ev.at,
                )
                .values(next_attempt_at=ev.at)
                .execution_options(synchronize_session=False)
            )
            await uow.commit()
        if getattr(result, "rowcount", 0):
            self._wake()
