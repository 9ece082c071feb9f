"""What Borne keeps of firmware published by Local Controllers (L03/L04), without OCPP types.

A status is attributed to the publication whose ``requestId`` it carries, if that publication
is the reporting station's own; without a requestId (``Idle`` after a TriggerMessage may lack
one) to the station's latest publication. ``Idle`` is kept nowhere: it says nothing about a
publication. Use cases never commit: the caller's unit of work does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update

from borne.core.errors import NotFound
from borne.firmware import models as fm
from borne.stations.models import Station
from borne.stations.unit import Unit

UNPUBLISHED = "Unpublished"
FAILURE_STATUSES = frozenset({"DownloadFailed", "InvalidChecksum", "PublishFailed"})


async def record_status(
    unit: Unit,
    *,
    station_id: str,
    status: str,
    locations: Sequence[str] | None,
    request_id: int | None,
    now: datetime,
) -> fm.FirmwarePublication | None:
    """Move the publication the station reports on to ``status``; None when none is found."""
    found: fm.FirmwarePublication | None
    if request_id is not None:
        found = await unit.session.get(fm.FirmwarePublication, request_id)
        if found is not None and found.station_id != station_id:
            found = None  # another station's id: not ours to move
    else:
        found = await unit.session.scalar(
            select(fm.FirmwarePublication)
            .where(fm.FirmwarePublication.station_id == station_id)
            .order_by(fm.FirmwarePublication.id.desc())
            .limit(1)
        )
    if found is None or status == "Idle" or found.status == UNPUBLISHED:
        return found  # a late status of a removed file does not bring it back
    found.status, found.updated_at = status, now
    found.reason = status if status in FAILURE_STATUSES else None
    if locations:
        found.published_locations = list(locations)
    return found


async def mark_unpublished(
    unit: Unit, *, station_id: str, checksum: str, now: datetime
) -> list[int]:
    """The station removed the file: its publications of this checksum are ``Unpublished``.
    Returns their request ids."""
    P = fm.FirmwarePublication
    ids = list(
        await unit.session.scalars(
            select(P.id).where(
                P.station_id == station_id,
                P.checksum == checksum.lower(),  # stored lower-case (see ``publish``)
                P.status != UNPUBLISHED,
            )
        )
    )
    if ids:
        await unit.session.execute(
            update(P)
            .where(P.id.in_(ids))
            .values(status=UNPUBLISHED, reason=None, updated_at=now, unpublished_at=now)
            .execution_options(synchronize_session=False)
        )
    return sorted(ids)


async def station_publications(
    unit: Unit, station_id: str, *, limit: int
) -> list[fm.FirmwarePublication]:
    """A station's publications, newest first; 404 for a station Borne does not know."""
    if await unit.session.get(Station, station_id) is None:
        raise NotFound(f"station {station_id} not found")
    rows = await unit.session.scalars(
        select(fm.FirmwarePublication)
        .where(fm.FirmwarePublication.station_id == station_id)
        .order_by(fm.FirmwarePublication.id.desc())
        .limit(limit)
    )
    return list(rows)
