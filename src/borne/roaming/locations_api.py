"""Locations module, CPO sender interface (2.2.1 and 2.3.0): ``/{version}/cpo/locations``.

GET list: published locations ordered by ``last_updated`` then id, ``date_from`` inclusive,
``date_to`` exclusive, paginated. GET ``/{location_id}[/{evse_uid}[/{connector_id}]]``: one
object; an unknown (or unpublished) location, EVSE or connector is HTTP 404 with status 2003.
Only registered partners (token C) are served. Connector ``tariff_ids`` depend on the caller
(tariffs scoped to a partner are shown to that partner only).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from borne.locations import service as locations
from borne.locations.service import LocationView
from borne.ocpi.auth import require_registered_party
from borne.ocpi.envelope import OcpiResponse, ok
from borne.ocpi.errors import NotFoundError, UnknownLocation
from borne.ocpi.pagination import PageParams, page_params, paginated
from borne.ocpi.party import Party
from borne.ocpi.versions import OcpiVersion
from borne.roaming import locations_data as data
from borne.roaming.config import RoamingContext, get_roaming
from borne.roaming.locations import (
    Audience,
    Context,
    connector_object,
    evse_object,
    find_connector,
    find_evse,
    location_object,
)

router = APIRouter(tags=["OCPI locations"])
PREFIX = "/{version}/cpo/locations"


def ocpi_version(version: str) -> OcpiVersion:
    """FastAPI dependency on the ``{version}`` path segment: a version Borne serves."""
    try:
        return OcpiVersion(version)
    except ValueError:
        raise NotFoundError(f"Unsupported OCPI version {version!r}") from None


Version = Annotated[OcpiVersion, Depends(ocpi_version)]
Caller = Annotated[Party, Depends(require_registered_party)]
Paging = Annotated[PageParams, Depends(page_params)]
Roaming = Annotated[RoamingContext, Depends(get_roaming)]


def audience_of(party: Party, ctx: RoamingContext) -> Audience:
    keys = frozenset(f"{r.country_code}*{r.party_id}".upper() for r in party.roles)
    return Audience(parties=keys, now=ctx.clock.now())


@router.get(PREFIX)
async def list_locations(
    request: Request,
    *,
    version: Version,
    party: Caller,
    params: Paging,
    ctx: Roaming,
) -> OcpiResponse:
    async with ctx.db.unit_of_work() as uow:
        ids, total = await data.page_of_locations(
            uow.session,
            offset=params.offset,
            limit=params.limit,
            date_from=params.date_from,
            date_to=params.date_to,
        )
        views = await locations.get_locations(uow.session, ids)
        live, tariffs = await data.context_data(uow.session, views)
    context = Context(live, tariffs, audience_of(party, ctx))
    items: list[Any] = [location_object(v, version, context) for v in views]
    return paginated(request, params, items, total)


@router.get(PREFIX + "/{location_id}")
async def get_location(
    location_id: str,
    *,
    version: Version,
    party: Caller,
    ctx: Roaming,
) -> OcpiResponse:
    view, context = await _published(ctx, party, location_id)
    return ok(location_object(view, version, context))


@router.get(PREFIX + "/{location_id}/{evse_uid}")
async def get_evse(
    location_id: str,
    evse_uid: str,
    *,
    version: Version,
    party: Caller,
    ctx: Roaming,
) -> OcpiResponse:
    view, context = await _published(ctx, party, location_id)
    evse = find_evse(view, evse_uid)
    if evse is None:
        raise UnknownLocation(f"Unknown EVSE {evse_uid!r} at location {location_id!r}")
    parking_ids = frozenset(p["id"] for p in (view.ocpi_extra or {}).get("parking_places") or ())
    return ok(evse_object(evse, view, version, context, parking_ids=parking_ids))


@router.get(PREFIX + "/{location_id}/{evse_uid}/{connector_id}")
async def get_connector(
    location_id: str,
    evse_uid: str,
    connector_id: str,
    *,
    version: Version,
    party: Caller,
    ctx: Roaming,
) -> OcpiResponse:
    view, context = await _published(ctx, party, location_id)
    evse = find_evse(view, evse_uid)
    connector = None if evse is None else find_connector(evse, connector_id)
    if connector is None:
        raise UnknownLocation(
            f"Unknown connector {connector_id!r} of EVSE {evse_uid!r} at location {location_id!r}"
        )
    return ok(connector_object(connector, view.id, context))


async def _published(
    ctx: RoamingContext, party: Party, location_id: str
) -> tuple[LocationView, Context]:
    async with ctx.db.unit_of_work() as uow:
        view = await data.published_location(uow.session, location_id)
        if view is None:
            raise UnknownLocation(f"Unknown location {location_id!r}")
        live, tariffs = await data.context_data(uow.session, [view])
    return view, Context(live, tariffs, audience_of(party, ctx))
