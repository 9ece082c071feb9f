"""Operator API of locations: ``/api/v1/locations``.

Create (201), list, read, patch and delete locations; put a station at a location or take it
away (``PUT``/``DELETE /locations/{id}/stations/{station_id}``); describe an EVSE of such a
station and its connectors (``PUT``/``DELETE /locations/{id}/stations/{station_id}/evses/
{evse_id}``). Unknown location or station → 404, an id that exists → 409, a location that still
has tariffs assigned → 409 on delete, invalid input → 422 with ``details.errors``.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from borne.api_context import ApiContext, get_context
from borne.api_errors import error_responses
from borne.locations import service
from borne.locations.schemas import EvseIn, EvseOut, LocationIn, LocationOut, LocationPatch, PageOut
from borne.locations.service import MAX_PAGE, OCPI_ID

LocationId = Annotated[
    str, Path(min_length=1, max_length=36, pattern=OCPI_ID, description="the OCPI location id")
]
StationId = Annotated[str, Path(min_length=1, max_length=48, pattern=r"^[\x21-\x39\x3b-\x7e]+$")]
EvseNumber = Annotated[int, Path(ge=1, le=2**31 - 1, description="the station's EVSE id")]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Context = Annotated[ApiContext, Depends(get_context)]

router = APIRouter(prefix="/locations", tags=["locations"], responses=error_responses(401, 422))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a location",
    responses=error_responses(409),
)
async def create_location(
    body: LocationIn, ctx: Context, request: Request, response: Response
) -> LocationOut:
    async with ctx.deps.db.unit_of_work() as uow:
        view = await service.create_location(
            uow,
            location_id=body.id,
            now=ctx.deps.clock.now(),
            country_code=body.country_code,
            party_id=body.party_id,
            address=body.address,
            city=body.city,
            country=body.country,
            latitude=body.latitude,
            longitude=body.longitude,
            time_zone=body.time_zone,
            name=body.name,
            postal_code=body.postal_code,
            state=body.state,
            publish=body.publish,
            ocpi_extra=body.extra(),
        )
        await uow.commit()
    response.headers["Location"] = f"{request.url.path.rstrip('/')}/{quote(view.id, safe='')}"
    return LocationOut.of(view)


@router.get("", summary="List locations, by id, with their stations")
async def list_locations(
    ctx: Context, offset: Offset = 0, limit: Limit = 50
) -> PageOut[LocationOut]:
    async with ctx.deps.db.unit_of_work() as uow:
        page = await service.list_locations(uow, offset=offset, limit=limit)
    return PageOut(
        items=[LocationOut.of(v) for v in page.items], total=page.total, offset=offset, limit=limit
    )


@router.get(
    "/{location_id}",
    summary="A location, its stations and their EVSE / connector descriptors",
    responses=error_responses(404),
)
async def get_location(location_id: LocationId, ctx: Context) -> LocationOut:
    async with ctx.deps.db.unit_of_work() as uow:
        return LocationOut.of(await service.get_location(uow, location_id=location_id))


@router.patch("/{location_id}", summary="Change a location", responses=error_responses(404))
async def update_location(
    location_id: LocationId, body: LocationPatch, ctx: Context
) -> LocationOut:
    async with ctx.deps.db.unit_of_work() as uow:
        view = await service.update_location(
            uow,
            location_id=location_id,
            now=ctx.deps.clock.now(),
            changes=body.changes(),
        )
        await uow.commit()
    return LocationOut.of(view)


@router.delete(
    "/{location_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a location (its stations are detached)",
    description="Refused (409) while tariffs are assigned to the location.",
    responses=error_responses(404, 409),
)
async def delete_location(location_id: LocationId, ctx: Context) -> None:
    async with ctx.deps.db.unit_of_work() as uow:
        await service.delete_location(uow, location_id=location_id)
        await uow.commit()


@router.put(
    "/{location_id}/stations/{station_id}",
    summary="Put a station at this location (moving it from another one)",
    responses=error_responses(404),
)
async def attach_station(
    location_id: LocationId, station_id: StationId, ctx: Context
) -> LocationOut:
    async with ctx.deps.db.unit_of_work() as uow:
        view = await service.attach_station(
            uow, location_id=location_id, station_id=station_id, now=ctx.deps.clock.now()
        )
        await uow.commit()
    return LocationOut.of(view)


@router.delete(
    "/{location_id}/stations/{station_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Take a station away from this location",
    description="The station's EVSE descriptors stay with it.",
    responses=error_responses(404),
)
async def detach_station(location_id: LocationId, station_id: StationId, ctx: Context) -> None:
    async with ctx.deps.db.unit_of_work() as uow:
        await service.detach_station(
            uow, location_id=location_id, station_id=station_id, now=ctx.deps.clock.now()
        )
        await uow.commit()


@router.put(
    "/{location_id}/stations/{station_id}/evses/{evse_id}",
    summary="Describe an EVSE of a station at this location, with all its connectors",
    description="Replaces the EVSE's description; connectors not listed are removed. The "
    "station must be at this location (404 otherwise); an EVSE uid used elsewhere → 409.",
    responses=error_responses(404, 409),
)
async def put_evse(
    location_id: LocationId, station_id: StationId, evse_id: EvseNumber, body: EvseIn, ctx: Context
) -> EvseOut:
    async with ctx.deps.db.unit_of_work() as uow:
        view = await service.put_evse(
            uow,
            location_id=location_id,
            station_id=station_id,
            evse_id=evse_id,
            evse_uid=body.evse_uid,
            physical_reference=body.physical_reference,
            connectors=[c.spec() for c in body.connectors],
            now=ctx.deps.clock.now(),
            ocpi_extra=body.extra(),
        )
        await uow.commit()
    return EvseOut.of(view)


@router.delete(
    "/{location_id}/stations/{station_id}/evses/{evse_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Remove an EVSE description and its connectors",
    responses=error_responses(404),
)
async def delete_evse(
    location_id: LocationId, station_id: StationId, evse_id: EvseNumber, ctx: Context
) -> None:
    async with ctx.deps.db.unit_of_work() as uow:
        await service.delete_evse(
            uow, location_id=location_id, station_id=station_id, evse_id=evse_id
        )
        await uow.commit()
