"""Operator API of display messages (OCPP 2.0.1), under ``/api/v1/stations/{station_id}``.

- ``POST   /display-messages``: SetDisplayMessage; kept once the station accepted it.
- ``GET    /display-messages``: the messages Borne set or the station reported.
- ``POST   /display-messages/report``: GetDisplayMessages; the NotifyDisplayMessages parts
  update the list as they come.
- ``DELETE /display-messages/{message_id}``: ClearDisplayMessage.

A 1.6 station → 422; station commands answer 409, 502, 503, 504 as the other commands do.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from borne.api_context import ApiContext, get_context
from borne.api_errors import error_responses
from borne.core.errors import NotFound
from borne.display_messages import service, store
from borne.display_messages.schemas import (
    CommandOut,
    DisplayMessageIn,
    DisplayMessageOut,
    DisplayMessagesOut,
    GetDisplayMessagesIn,
    ReportOut,
    SetDisplayMessageOut,
)
from borne.stations.models import Station

StationId = Annotated[
    str, Path(min_length=1, max_length=48, pattern=r"^[^:]+$", description="station identity")
]
Context = Annotated[ApiContext, Depends(get_context)]

router = APIRouter(prefix="/stations/{station_id}/display-messages", tags=["display messages"])
_COMMAND_ERRORS = error_responses(401, 409, 422, 502, 503, 504)


@router.post("", summary="Show a message on the station", responses=_COMMAND_ERRORS)
async def set_display_message(
    station_id: StationId, body: DisplayMessageIn, ctx: Context
) -> SetDisplayMessageOut:
    outcome = await service.set_display_message(ctx.deps, ctx.outbound, station_id, body.new())
    return SetDisplayMessageOut(
        **CommandOut.of(outcome.result).model_dump(),
        message_id=outcome.message_id,
        stored=None if outcome.stored is None else DisplayMessageOut.model_validate(outcome.stored),
    )


@router.get(
    "",
    summary="The messages Borne set or the station reported",
    responses=error_responses(401, 404),
)
async def list_display_messages(station_id: StationId, ctx: Context) -> DisplayMessagesOut:
    async with ctx.deps.db.unit_of_work() as uow:
        if await uow.session.get(Station, station_id) is None:
            raise NotFound(f"station {station_id} not found", details={"station_id": station_id})
        rows = await store.list_messages(uow.session, station_id)
        return DisplayMessagesOut(items=[DisplayMessageOut.model_validate(r) for r in rows])


@router.post(
    "/report",
    summary="Ask the station for its messages (GetDisplayMessages)",
    responses=_COMMAND_ERRORS,
)
async def get_display_messages(
    station_id: StationId, body: GetDisplayMessagesIn, ctx: Context
) -> ReportOut:
    result = await service.get_display_messages(
        ctx.outbound,
        station_id,
        request_id=body.request_id,
        ids=body.ids,
        priority=body.priority,
        state=body.state,
    )
    return ReportOut.of(result)


@router.delete(
    "/{message_id}", summary="Remove a message from the station", responses=_COMMAND_ERRORS
)
async def clear_display_message(station_id: StationId, message_id: int, ctx: Context) -> CommandOut:
    result = await service.clear_display_message(ctx.deps, ctx.outbound, station_id, message_id)
    return CommandOut.of(result)
