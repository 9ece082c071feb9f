"""Pushes of Locations to partners that receive them (eMSP Locations RECEIVER interface).

Each reaction runs in a unit of work of its own after the change was committed (events come
after commit) and writes outbox rows (``borne.ocpi.outbox.enqueue``) that the sender delivers
in order per location key, whatever the partner's outages or Borne's restarts:

* a location changed (fields, stations attached or detached, EVSE described) → PUT of the whole
  Location on ``/{country_code}/{party_id}/{location_id}``;
* EVSEs left the location (EVSE deleted or re-identified, station detached, location deleted)
  → PATCH ``{"status": "REMOVED"}`` of each on ``/.../{location_id}/{evse_uid}`` (OCPI never
  deletes an EVSE);
* a connector status changed, a station booted or (re)connected → PATCH of the EVSE status;
* a tariff assigned to / taken off a location, EVSE or connector → the parts' ``updated_at``
  move (so pulls with ``date_from`` see it) and the Location is PUT again.

Unpublished locations are never sent. The body is built per partner (its scoped tariffs).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from borne.core.bus import EventBus
from borne.core.clock import Clock
from borne.core.uow import Database, UnitOfWork
from borne.locations import service as locations
from borne.locations.events import LocationChanged
from borne.locations.service import EvseView, LocationView
from borne.ocpi.outbox import enqueue
from borne.roaming import locations_data as data
from borne.roaming import partners
from borne.roaming.locations import (
    Audience,
    Context,
    evse_object,
    location_object,
    removed_evse_patch,
)
from borne.roaming.partners import PartnerLink
from borne.stations.events import StationBooted, StationStatusChanged
from borne.tariffs.events import TariffAssigned

log = logging.getLogger(__name__)

MODULE = "locations"
RECEIVER = "RECEIVER"


def location_key(country_code: str, party_id: str, location_id: str) -> str:
    """Outbox ordering key: every push about one location, in order."""
    return f"locations:{country_code}/{party_id}/{location_id}"


class LocationsPusher:
    """Subscriber: turns location, status and tariff events into outbox rows."""

    def __init__(self, db: Database, clock: Clock, *, wake: Callable[[], None] | None = None):
        self._db = db
        self._clock = clock
        self._wake = wake

    def subscribe(self, bus: EventBus) -> None:
        bus.subscribe(LocationChanged, self.on_location_changed)
        bus.subscribe(StationStatusChanged, self.on_status_changed)
        bus.subscribe(StationBooted, self.on_station_booted)
        bus.subscribe(TariffAssigned, self.on_tariff_assigned)

    # ----------------------------------------------------------------- event handlers

    async def on_location_changed(self, event: LocationChanged) -> None:
        async with self._db.unit_of_work() as uow:
            receivers = await self._receivers(uow)
            if not receivers:
                return
            now = self._clock.now()
            view = await data.published_location(uow.session, event.location_id)
            count = 0
            if event.evse_uids and (view is not None or event.change == "deleted"):
                # A deleted location's codes are gone with it: the partner keeps the ones it got.
                codes = (view.country_code, view.party_id) if view else event.party
                if codes is not None:
                    count += await self._removed(
                        uow,
                        receivers=receivers,
                        country_code=codes[0],
                        party_id=codes[1],
                        event=event,
                        now=now,
                    )
            if view is not None:
                count += await self._put_location(uow.session, receivers, view, now)
            await self._commit(uow, count)

    async def on_status_changed(self, event: StationStatusChanged) -> None:
        # (0, 0) is the whole station: every EVSE of it may show another status.
        evse_id = None if event.evse_id == 0 else event.evse_id
        await self.push_station_statuses(event.station_id, evse_id=evse_id)

    async def on_station_booted(self, event: StationBooted) -> None:
        await self.push_station_statuses(event.station_id)

    async def on_connection_changed(self, station_id: str) -> None:
        """To be called when a station connects or disconnects (status UNKNOWN when offline)."""
        await self.push_station_statuses(station_id)

    async def on_tariff_assigned(self, event: TariffAssigned) -> None:
        if event.level == "default":
            return  # every location would change: partners get it at their next pull
        async with self._db.unit_of_work() as uow:
            now = self._clock.now()
            location_id = event.location_id
            if event.level != "location" and event.station_id is not None:
                place = await locations.locate_station(uow.session, event.station_id)
                location_id = None if place is None else place.location_id
            if location_id is None:
                return
            await locations.touch(
                uow.session,
                now=now,
                location_id=location_id if event.level == "location" else None,
                station_id=event.station_id,
                evse_id=event.evse_id,
                connector_id=event.connector_id,
            )
            count = 0
            receivers = await self._receivers(uow)
            view = await data.published_location(uow.session, location_id)
            if receivers and view is not None:
                count = await self._put_location(uow.session, receivers, view, now)
            await uow.commit()
            self._woken(count)

    # ----------------------------------------------------------------- pushes

    async def push_station_statuses(self, station_id: str, *, evse_id: int | None = None) -> None:
        """PATCH the status of the station's EVSEs (one EVSE if ``evse_id``) to receivers."""
        async with self._db.unit_of_work() as uow:
            receivers = await self._receivers(uow)
            if not receivers:
                return
            place = await locations.locate_station(uow.session, station_id)
            view = (
                None
                if place is None
                else await data.published_location(uow.session, place.location_id)
            )
            if view is None:
                return
            evses = [
                e
                for s in view.stations
                if s.station_id == station_id
                for e in s.evses
                if e.connectors and (evse_id is None or e.evse_id == evse_id)
            ]
            count = await self._patch_statuses(uow.session, receivers, view, evses)
            await self._commit(uow, count)

    async def _patch_statuses(
        self,
        session: AsyncSession,
        receivers: Sequence[PartnerLink],
        view: LocationView,
        evses: Sequence[EvseView],
    ) -> int:
        if not evses:
            return 0
        now = self._clock.now()
        live, tariffs = await data.context_data(session, [view])
        key = location_key(view.country_code, view.party_id, view.id)
        count = 0
        for link in receivers:
            context = Context(live, tariffs, _audience(link, now))
            for evse in evses:
                built = evse_object(evse, view, link.version, context)
                await enqueue(
                    session,
                    partner_id=link.partner_id,
                    key=key,
                    method="PATCH",
                    module=MODULE,
                    interface=RECEIVER,
                    path=_path(view.country_code, view.party_id, view.id, evse.evse_uid),
                    body={"status": built["status"], "last_updated": built["last_updated"]},
                    now=now,
                )
                count += 1
        return count

    async def _put_location(
        self,
        session: AsyncSession,
        receivers: Sequence[PartnerLink],
        view: LocationView,
        now: datetime,
    ) -> int:
        live, tariffs = await data.context_data(session, [view])
        key = location_key(view.country_code, view.party_id, view.id)
        for link in receivers:
            body = location_object(view, link.version, Context(live, tariffs, _audience(link, now)))
            await enqueue(
                session,
                partner_id=link.partner_id,
                key=key,
                method="PUT",
                module=MODULE,
                interface=RECEIVER,
                path=_path(view.country_code, view.party_id, view.id),
                body=body,
                now=now,
            )
        return len(receivers)

    async def _removed(
        self,
        uow: UnitOfWork,
        *,
        receivers: Sequence[PartnerLink],
        country_code: str,
        party_id: str,
        event: LocationChanged,
        now: datetime,
    ) -> int:
        key = location_key(country_code, party_id, event.location_id)
        count = 0
        for link in receivers:
            for uid in event.evse_uids:
                await enqueue(
                    uow.session,
                    partner_id=link.partner_id,
                    key=key,
                    method="PATCH",
                    module=MODULE,
                    interface=RECEIVER,
                    path=_path(country_code, party_id, event.location_id, uid),
                    body=removed_evse_patch(now),
                    now=now,
                )
                count += 1
        return count

    # ----------------------------------------------------------------- helpers

    async def push_all(self, partner_id: int, *, batch: int = 200) -> int:
        """PUT every published location to one partner (just registered: its later EVSE
        PATCHes then always find the location); returns how many."""
        count = 0
        offset = 0
        while True:
            async with self._db.unit_of_work() as uow:
                link = await partners.get_link(uow, partner_id=partner_id)
                if link is None or link.endpoint(MODULE, RECEIVER) is None:
                    return count
                ids, _total = await data.page_of_locations(
                    uow.session, offset=offset, limit=batch, date_from=None, date_to=None
                )
                now = self._clock.now()
                for location_id in ids:
                    view = await data.published_location(uow.session, location_id)
                    if view is not None:
                        count += await self._put_location(uow.session, [link], view, now)
                await uow.commit()
            self._woken(count)
            if len(ids) < batch:
                return count
            offset += batch

    async def push_location_to(self, partner_id: int, location_id: str) -> int:
        """PUT one location to one partner (it answered a PATCH with "unknown location": the
        specification's repair is to send the whole object)."""
        async with self._db.unit_of_work() as uow:
            link = await partners.get_link(uow, partner_id=partner_id)
            view = await data.published_location(uow.session, location_id)
            if link is None or link.endpoint(MODULE, RECEIVER) is None or view is None:
                return 0
            count = await self._put_location(uow.session, [link], view, self._clock.now())
            await uow.commit()
        self._woken(count)
        return count

    async def _receivers(self, uow: UnitOfWork) -> list[PartnerLink]:
        links = await partners.registered_links(uow)
        return [link for link in links if link.endpoint(MODULE, RECEIVER) is not None]

    async def _commit(self, uow: UnitOfWork, count: int) -> None:
        if count:
            await uow.commit()
            self._woken(count)

    def _woken(self, count: int) -> None:
        if count and self._wake is not None:
            self._wake()


def _audience(link: PartnerLink, now: datetime) -> Audience:
    keys = frozenset(f"{r.country_code}*{r.party_id}".upper() for r in link.roles)
    return Audience(parties=keys, now=now)


def _path(*segments: Any) -> str:
    return "/" + "/".join(str(s) for s in segments)
