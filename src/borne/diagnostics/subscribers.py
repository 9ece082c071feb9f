"""Reactions to other domains' events: the stations domain serves DiagnosticsStatusNotification
and LogStatusNotification and publishes ``StationNotificationReceived``; the log request they
are about takes the station's status (Uploading, Uploaded, UploadFailed...)."""

from __future__ import annotations

from borne.core.bus import EventBus
from borne.core.deps import Deps
from borne.diagnostics import store
from borne.stations.events import StationNotificationReceived

KINDS = frozenset({"diagnostics", "log"})


class DiagnosticsSubscribers:
    def __init__(self, deps: Deps) -> None:
        self._deps = deps

    def subscribe(self, bus: EventBus) -> None:
        bus.subscribe(StationNotificationReceived, self.on_notification, when=_is_upload)

    async def on_notification(self, event: StationNotificationReceived) -> None:
        async with self._deps.db.unit_of_work() as uow:
            await store.apply_log_notification(
                uow,
                station_id=event.station_id,
                kind=event.kind,
                status=event.status,
                request_id=event.request_id,
                at=event.timestamp,
            )
            await uow.commit()


def _is_upload(event: StationNotificationReceived) -> bool:
    return event.kind in KINDS
