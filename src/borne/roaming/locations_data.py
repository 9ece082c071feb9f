"""Reads behind OCPI Locations: pages of published locations ordered by their OCPI
``last_updated``, and the live data and tariffs the mapper needs.

``last_updated`` of a location is computed in SQL as the max over the same parts the mapper
uses (:func:`borne.roaming.locations.location_last_updated`), so ordering, ``date_from`` /
``date_to`` windows and offsets are done by the database and a page loads only its locations.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, or_, select, true, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from borne.core.types import UTCDateTime
from borne.locations import service as locations
from borne.locations.models import ConnectorDescriptor, EvseDescriptor, Location, StationLocation
from borne.locations.service import LocationView
from borne.roaming.locations import StationLive, StatusReading, TariffLink
from borne.stations.models import ConnectorStatus, Station
from borne.tariffs.models import TariffAssignment, TariffRecord


def _parts() -> Select[tuple[str, datetime]]:
    """(location_id, last_updated) of every location: max over its parts' stamps."""
    link = StationLocation
    stamps = union_all(
        select(Location.id.label("lid"), Location.updated_at.label("ts")),
        select(link.location_id, link.attached_at),
        select(link.location_id, EvseDescriptor.updated_at).join(
            EvseDescriptor, EvseDescriptor.station_id == link.station_id
        ),
        select(link.location_id, ConnectorDescriptor.updated_at).join(
            ConnectorDescriptor, ConnectorDescriptor.station_id == link.station_id
        ),
        select(link.location_id, ConnectorStatus.updated_at).join(
            ConnectorStatus, ConnectorStatus.station_id == link.station_id
        ),
        select(link.location_id, Station.connected_at)
        .join(Station, Station.station_id == link.station_id)
        .where(Station.connected_at.is_not(None)),
        select(link.location_id, Station.disconnected_at)
        .join(Station, Station.station_id == link.station_id)
        .where(Station.disconnected_at.is_not(None)),
    ).subquery()
    last = func.max(stamps.c.ts, type_=UTCDateTime()).label("last_updated")
    return select(stamps.c.lid, last).group_by(stamps.c.lid)


async def page_of_locations(
    session: AsyncSession,
    *,
    offset: int,
    limit: int,
    date_from: datetime | None,
    date_to: datetime | None,
) -> tuple[list[str], int]:
    """Ids of one page of published locations, by last_updated then id, and the total."""
    parts = _parts().subquery()
    last = parts.c.last_updated
    conds: list[ColumnElement[bool]] = [Location.publish == true()]
    if date_from is not None:
        conds.append(last >= date_from)
    if date_to is not None:
        conds.append(last < date_to)
    base = select(Location.id, last).join(parts, parts.c.lid == Location.id).where(*conds)
    total = await session.scalar(select(func.count()).select_from(base.subquery()))
    rows = await session.execute(base.order_by(last, Location.id).offset(offset).limit(limit))
    return [r[0] for r in rows], int(total or 0)


async def published_location(session: AsyncSession, location_id: str) -> LocationView | None:
    """The published location with this id (None when unknown or not published)."""
    found = await locations.get_locations(session, [location_id])
    if not found or not found[0].publish:
        return None
    return found[0]


def _online(station: Station) -> bool:
    if station.connected_at is None:
        return False
    return station.disconnected_at is None or station.disconnected_at < station.connected_at


async def live_of(session: AsyncSession, station_ids: Sequence[str]) -> dict[str, StationLive]:
    """Connection and current statuses of the stations (unknown stations: left out)."""
    if not station_ids:
        return {}
    ids = sorted(set(station_ids))
    stations = {
        s.station_id: s
        for s in await session.scalars(select(Station).where(Station.station_id.in_(ids)))
    }
    readings: dict[str, dict[tuple[int, int], StatusReading]] = {}
    for row in await session.scalars(
        select(ConnectorStatus).where(ConnectorStatus.station_id.in_(ids))
    ):
        readings.setdefault(row.station_id, {})[(row.evse_id, row.connector_id)] = StatusReading(
            row.status, row.updated_at
        )
    out: dict[str, StationLive] = {}
    for station_id, station in stations.items():
        changes = [t for t in (station.connected_at, station.disconnected_at) if t is not None]
        out[station_id] = StationLive(
            online=_online(station),
            connection_changed_at=max(changes) if changes else None,
            statuses=readings.get(station_id, {}),
        )
    return out


async def tariff_links(session: AsyncSession, views: Sequence[LocationView]) -> list[TariffLink]:
    """Assignments that can apply to the locations' connectors (location, their stations,
    network default), with what the mapper needs of each tariff."""
    location_ids = [v.id for v in views]
    station_ids = [s.station_id for v in views for s in v.stations]
    a, t = TariffAssignment, TariffRecord
    targets: list[ColumnElement[bool]] = [a.level == "default"]
    if location_ids:
        targets.append(a.location_id.in_(location_ids))
    if station_ids:
        targets.append(a.station_id.in_(station_ids))
    rows = await session.execute(
        select(a, t.ocpi_id, t.ad_hoc, t.partner, t.end_date_time)
        .join(t, t.id == a.tariff_id)
        .where(or_(*targets))
    )
    return [
        TariffLink(
            ocpi_id=ocpi_id,
            level=row.level,
            ad_hoc=bool(ad_hoc),
            partner=partner,
            end_date_time=end,
            location_id=row.location_id,
            station_id=row.station_id,
            evse_id=row.evse_id,
            connector_id=row.connector_id,
        )
        for row, ocpi_id, ad_hoc, partner, end in rows
    ]


async def context_data(
    session: AsyncSession, views: Sequence[LocationView]
) -> tuple[dict[str, StationLive], list[TariffLink]]:
    """Live data and tariff links for building these locations."""
    live = await live_of(session, [s.station_id for v in views for s in v.stations])
    return live, await tariff_links(session, views)
