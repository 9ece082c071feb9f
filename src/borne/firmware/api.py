"""Operator API of firmware.

- ``POST /stations/{id}/firmware``: send an update now (UpdateFirmware in 1.6 and 2.0.1,
  SignedUpdateFirmware for a signed 1.6 update); 409 offline, 502/504 the station's error.
- ``GET /stations/{id}/firmware``: the station's latest update, its updates and the statuses
  it reported, newest first.
- ``POST /stations/{id}/firmware/publish`` (PublishFirmware, L03) and ``.../unpublish``
  (UnpublishFirmware, L04) to a 2.0.1 Local Controller; ``GET .../publications``: what it was
  asked to publish and the status it reported, newest first. 422 for a 1.6 station.
- ``POST /firmware/campaigns``: one image for many stations, run by the campaign runner;
  ``GET /firmware/campaigns`` (newest first), ``GET /firmware/campaigns/{id}`` (summary with a
  count per state), ``GET /firmware/campaigns/{id}/stations`` (progress and failure reason of
  each station, filter by ``state``), ``POST /firmware/campaigns/{id}/cancel``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from borne.api_context import ApiContext, get_context
from borne.api_errors import error_responses
from borne.firmware import publications, publish, service
from borne.firmware.schemas import (
    CampaignIn,
    CampaignOut,
    FirmwareIn,
    PublicationOut,
    PublicationSentOut,
    PublishIn,
    StationFirmwareOut,
    TargetOut,
    TargetState,
    UnpublishIn,
    UnpublishOut,
    UpdateSentOut,
)
from borne.firmware.schemas import FirmwareUpdateOut as UpdateOut
from borne.stations.schemas import STATION_ID, PageOut
from borne.stations.unit import MAX_PAGE

Context = Annotated[ApiContext, Depends(get_context)]
StationId = Annotated[str, Path(min_length=1, max_length=48, pattern=STATION_ID)]
CampaignId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]


def build_router(
    wake: Callable[[], None] = lambda: None, *, call_timeout_s: float | None = None
) -> APIRouter:
    """``wake``: the campaign runner's, so a new campaign starts without waiting for a poll."""
    router = APIRouter(tags=["firmware"], responses=error_responses(401, 422))

    @router.post(
        "/stations/{station_id}/firmware",
        summary="Send a firmware update to a station",
        responses=error_responses(409, 502, 503, 504),
    )
    async def update_station_firmware(
        station_id: StationId, body: FirmwareIn, ctx: Context
    ) -> UpdateSentOut:
        deps = ctx.deps
        row, result, error = await service.send_update(
            deps.db,
            ctx.outbound,
            deps.clock,
            station_id,
            body.to_spec(deps.clock.now()),
            call_timeout=call_timeout_s,
        )
        if error is not None:
            raise error  # recorded on the update as NotSent; the caller sees the HTTP error
        assert result is not None
        return UpdateSentOut(update=UpdateOut.of(row), raw=result.raw)

    @router.get(
        "/stations/{station_id}/firmware",
        summary="A station's firmware updates and reported statuses",
        responses=error_responses(404),
    )
    async def get_station_firmware(
        station_id: StationId, ctx: Context, limit: Limit = 20
    ) -> StationFirmwareOut:
        async with ctx.deps.db.unit_of_work() as uow:
            view = await service.station_firmware(uow, station_id, limit=limit)
            return StationFirmwareOut.of(view)  # rows are read before the session closes

    @router.post(
        "/stations/{station_id}/firmware/publish",
        summary="Ask a Local Controller to publish a firmware file (PublishFirmware)",
        responses=error_responses(409, 502, 503, 504),
    )
    async def publish_firmware(
        station_id: StationId, body: PublishIn, ctx: Context
    ) -> PublicationSentOut:
        deps = ctx.deps
        row, result, error = await publish.send_publish(
            deps.db,
            ctx.outbound,
            deps.clock,
            station_id,
            body.to_spec(),
            call_timeout=call_timeout_s,
        )
        if error is not None:
            raise error  # recorded on the publication as NotSent
        assert result is not None
        return PublicationSentOut(publication=PublicationOut.model_validate(row), raw=result.raw)

    @router.post(
        "/stations/{station_id}/firmware/unpublish",
        summary="Ask a Local Controller to stop publishing a file (UnpublishFirmware)",
        responses=error_responses(409, 502, 503, 504),
    )
    async def unpublish_firmware(
        station_id: StationId, body: UnpublishIn, ctx: Context
    ) -> UnpublishOut:
        deps = ctx.deps
        result, ids = await publish.send_unpublish(
            deps.db,
            ctx.outbound,
            deps.clock,
            station_id,
            body.checksum,
            call_timeout=call_timeout_s,
        )
        return UnpublishOut(status=result.status, unpublished=ids, raw=result.raw)

    @router.get(
        "/stations/{station_id}/firmware/publications",
        summary="Firmware files a Local Controller was asked to publish, newest first",
        responses=error_responses(404),
    )
    async def list_publications(
        station_id: StationId, ctx: Context, limit: Limit = 20
    ) -> list[PublicationOut]:
        async with ctx.deps.db.unit_of_work() as uow:
            rows = await publications.station_publications(uow, station_id, limit=limit)
            return [PublicationOut.model_validate(r) for r in rows]

    @router.post(
        "/firmware/campaigns", status_code=status.HTTP_201_CREATED, summary="Start a campaign"
    )
    async def create_campaign(body: CampaignIn, ctx: Context) -> CampaignOut:
        async with ctx.deps.db.unit_of_work() as uow:
            view = await service.create_campaign(
                uow, body.to_spec(ctx.deps.clock.now()), now=ctx.deps.clock.now()
            )
            out = CampaignOut.of(view)
            await uow.commit()
        wake()
        return out

    @router.get("/firmware/campaigns", summary="Campaigns, newest first")
    async def list_campaigns(
        ctx: Context, offset: Offset = 0, limit: Limit = 50
    ) -> PageOut[CampaignOut]:
        async with ctx.deps.db.unit_of_work() as uow:
            views, total = await service.list_campaigns(uow, offset=offset, limit=limit)
            return PageOut(
                items=[CampaignOut.of(v) for v in views], total=total, offset=offset, limit=limit
            )

    @router.get(
        "/firmware/campaigns/{campaign_id}",
        summary="A campaign and its stations counted per state",
        responses=error_responses(404),
    )
    async def get_campaign(campaign_id: CampaignId, ctx: Context) -> CampaignOut:
        async with ctx.deps.db.unit_of_work() as uow:
            view = await service.get_campaign(uow, campaign_id)
            return CampaignOut.of(view)

    @router.get(
        "/firmware/campaigns/{campaign_id}/stations",
        summary="Each station's progress and failure reason",
        responses=error_responses(404),
    )
    async def list_campaign_stations(
        campaign_id: CampaignId,
        ctx: Context,
        state: TargetState | None = None,
        offset: Offset = 0,
        limit: Limit = MAX_PAGE,
    ) -> PageOut[TargetOut]:
        async with ctx.deps.db.unit_of_work() as uow:
            rows, total = await service.list_targets(
                uow, campaign_id, state=state, offset=offset, limit=limit
            )
            return PageOut(
                items=[TargetOut.model_validate(r) for r in rows],
                total=total,
                offset=offset,
                limit=limit,
            )

    @router.post(
        "/firmware/campaigns/{campaign_id}/cancel",
        summary="Cancel a campaign: stations not yet sent the update are not sent it",
        responses=error_responses(404, 409),
    )
    async def cancel_campaign(campaign_id: CampaignId, ctx: Context) -> CampaignOut:
        async with ctx.deps.db.unit_of_work() as uow:
            view = await service.cancel_campaign(uow, campaign_id, now=ctx.deps.clock.now())
            out = CampaignOut.of(view)
            await uow.commit()
        return out

    return router
