"""Operator API of the reservations: ``/api/v1/reservations`` and per station.

Create (the station must be connected: ReserveNow is sent at once and its answer is the
reservation's status), list with filters, read one, cancel. Station not connected → 409,
cancelling a reservation that has ended → 409, invalid input (expiry in the past, a value the
station's OCPP version refuses) → 422, station CALLERROR → 502, no answer in time → 504 (the
reservation is stored either way: list it to see its status and reason).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from borne.api_context import ApiContext, get_context
from borne.api_errors import error_responses
from borne.reservations import queries, service
from borne.reservations.models import STATUSES
from borne.reservations.schemas import (
    CancelOut,
    PageOut,
    ReservationIn,
    ReservationOut,
    ReservationTargetIn,
)

ReservationPk = Annotated[int, Path(ge=1, le=2**63 - 1, description="Borne's reservation id")]
StationId = Annotated[str, Path(min_length=1, max_length=48, pattern=r"^[^:]+$")]
Context = Annotated[ApiContext, Depends(get_context)]
StatusFilter = Annotated[str | None, Query(description=" | ".join(STATUSES))]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]
Limit = Annotated[int, Query(ge=1, le=queries.MAX_LIMIT)]

router = APIRouter(tags=["reservations"], responses=error_responses(401, 422))
_SEND = error_responses(409, 502, 503, 504)


async def _create(ctx: Context, station_id: str, body: ReservationTargetIn) -> ReservationOut:
    view, _ = await service.reserve(
        ctx.deps.db,
        ctx.outbound,
        service.ReserveIn(
            station_id=station_id,
            id_token=body.id_token,
            id_token_type=body.id_token_type,
            group_id_token=body.group_id_token,
            expiry=body.expiry,
            evse_id=body.evse_id,
            connector_id=body.connector_id,
        ),
        now=ctx.deps.clock.now(),
    )
    return ReservationOut.of(view)


async def _list(
    ctx: Context,
    *,
    station_id: str | None,
    status: str | None,
    id_token: str | None,
    active: bool,
    offset: int,
    limit: int,
) -> PageOut[ReservationOut]:
    async with ctx.deps.db.unit_of_work() as uow:
        page = await queries.list_reservations(
            uow,
            now=ctx.deps.clock.now(),
            station_id=station_id,
            status=status,
            id_token=id_token,
            active_only=active,
            limit=limit,
            offset=offset,
        )
    return PageOut(
        items=[ReservationOut.of(v) for v in page.items],
        total=page.total,
        offset=page.offset,
        limit=page.limit,
    )


@router.post(
    "/reservations",
    status_code=201,
    summary="Reserve an EVSE, a connector or any connector of a station",
    responses=_SEND,
)
async def create_reservation(body: ReservationIn, ctx: Context) -> ReservationOut:
    return await _create(ctx, body.station_id, body)


@router.get("/reservations", summary="List reservations, newest first")
async def list_reservations(
    ctx: Context,
    *,
    station_id: Annotated[str | None, Query(min_length=1, max_length=48)] = None,
    status: StatusFilter = None,
    id_token: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    active: Annotated[bool, Query(description="only the reservations still held")] = False,
    offset: Offset = 0,
    limit: Limit = 50,
) -> PageOut[ReservationOut]:
    return await _list(
        ctx,
        station_id=station_id,
        status=status,
        id_token=id_token,
        active=active,
        offset=offset,
        limit=limit,
    )


@router.get(
    "/reservations/{reservation_pk}", summary="A reservation", responses=error_responses(404)
)
async def get_reservation(reservation_pk: ReservationPk, ctx: Context) -> ReservationOut:
    async with ctx.deps.db.unit_of_work() as uow:
        view = await queries.get_reservation(uow, reservation_pk, now=ctx.deps.clock.now())
    return ReservationOut.of(view)


@router.post(
    "/reservations/{reservation_pk}/cancel",
    summary="Cancel a reservation (CancelReservation to the station)",
    responses={**_SEND, **error_responses(404)},
)
async def cancel_reservation(reservation_pk: ReservationPk, ctx: Context) -> CancelOut:
    outcome = await service.cancel(
        ctx.deps.db, ctx.outbound, reservation_pk, now=ctx.deps.clock.now()
    )
    return CancelOut(
        reservation=ReservationOut.of(outcome.reservation), station_status=outcome.station_status
    )


@router.post(
    "/stations/{station_id}/reservations",
    status_code=201,
    summary="Reserve on this station",
    responses=_SEND,
)
async def create_station_reservation(
    station_id: StationId, body: ReservationTargetIn, ctx: Context
) -> ReservationOut:
    return await _create(ctx, station_id, body)


@router.get("/stations/{station_id}/reservations", summary="This station's reservations")
async def list_station_reservations(
    station_id: StationId,
    ctx: Context,
    *,
    status: StatusFilter = None,
    active: Annotated[bool, Query(description="only the reservations still held")] = False,
    offset: Offset = 0,
    limit: Limit = 50,
) -> PageOut[ReservationOut]:
    return await _list(
        ctx,
        station_id=station_id,
        status=status,
        id_token=None,
        active=active,
        offset=offset,
        limit=limit,
    )
