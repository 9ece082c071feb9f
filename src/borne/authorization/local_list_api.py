"""Operator API of stations' local authorization lists and caches:
``/api/v1/stations/{station_id}/authorization/...`` (docs/authorization.md).

- ``GET  .../local-list``: Borne's side of the list (kept or not, version, sync state, tokens).
- ``PUT  .../local-list``: keep the list (``enabled``) and optionally fix its limits.
- ``POST .../local-list/sync``: update the station now (full by default); keeps the list.
- ``GET  .../local-list/station-version``: GetLocalListVersion, the station's own answer.
- ``POST .../clear-cache``: ClearCache.

Station not connected → 409, a list Borne does not keep → 404, station CALLERROR → 502, no
answer in time → 504.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from borne.api_context import ApiContext, get_context
from borne.api_errors import error_responses
from borne.authorization import local_list_ocpp as wire
from borne.authorization import local_lists as lists
from borne.authorization.local_list_sync import LocalListSyncer
from borne.commands import service as commands
from borne.commands.schemas import CommandOut

StationId = Annotated[
    str,
    Path(min_length=1, max_length=48, pattern=r"^[^:]+$", description="the station's identity"),
]
Context = Annotated[ApiContext, Depends(get_context)]


class LocalListIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    max_entries: int | None = Field(
        None, ge=1, le=100_000, description="list capacity (else read from the station)"
    )
    items_per_message: int | None = Field(
        None, ge=1, le=10_000, description="entries per SendLocalList (else from the station)"
    )


class SyncIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    full: bool = Field(True, description="replace the whole list (else only what changed)")


class LocalListOut(BaseModel):
    station_id: str
    enabled: bool
    version: int = Field(description="the list version the station last accepted")
    pending: bool = Field(description="an update is waiting (station offline, retry due)")
    needs_full: bool
    max_entries: int | None
    items_per_message: int | None
    truncated: int = Field(description="tokens left out because the list is full")
    attempts: int
    next_attempt_at: datetime | None
    last_status: str | None
    last_error: str | None
    synced_at: datetime | None
    tokens: list[str] = Field(description="the tokens the station holds, as last accepted")


class SyncOut(BaseModel):
    station_id: str
    status: str = Field(description="Accepted, Unchanged, Failed, VersionMismatch, NotSupported")
    version: int
    messages: int = Field(description="SendLocalList calls made")
    full: bool


class StationVersionOut(BaseModel):
    station_id: str
    version: int = Field(description="what the station answered to GetLocalListVersion")


def build_router(syncer: LocalListSyncer) -> APIRouter:
    router = APIRouter(
        prefix="/stations/{station_id}/authorization",
        tags=["local authorization lists"],
        responses=error_responses(401, 422),
    )

    async def _out(ctx: ApiContext, station_id: str) -> LocalListOut:
        async with ctx.deps.db.unit_of_work() as uow:
            state = await lists.require_state(uow.session, station_id)
            held = await lists.held_entries(uow.session, station_id)
            return LocalListOut(
                station_id=state.station_id,
                enabled=state.enabled,
                version=state.version,
                pending=state.pending,
                needs_full=state.needs_full,
                max_entries=state.max_entries,
                items_per_message=state.items_per_message,
                truncated=state.truncated,
                attempts=state.attempts,
                next_attempt_at=state.next_attempt_at,
                last_status=state.last_status,
                last_error=state.last_error,
                synced_at=state.synced_at,
                tokens=sorted(e.id_token for e in held.values()),
            )

    @router.get("/local-list", summary="The station's local list", responses=error_responses(404))
    async def get_local_list(station_id: StationId, ctx: Context) -> LocalListOut:
        return await _out(ctx, station_id)

    @router.put("/local-list", summary="Keep (or stop keeping) the station's local list")
    async def put_local_list(
        station_id: StationId, body: LocalListIn, ctx: Context
    ) -> LocalListOut:
        async with ctx.deps.db.unit_of_work() as uow:
            await lists.configure(
                uow.session,
                station_id,
                now=ctx.deps.clock.now(),
                enabled=body.enabled,
                max_entries=body.max_entries,
                items_per_message=body.items_per_message,
            )
            await uow.commit()
        syncer.wake()
        return await _out(ctx, station_id)

    @router.post(
        "/local-list/sync",
        summary="Send the station its local list now",
        responses=error_responses(409, 502, 503, 504),
    )
    async def sync_local_list(station_id: StationId, body: SyncIn, ctx: Context) -> SyncOut:
        wire.version_of(ctx.outbound, station_id)  # 409 before anything is stored
        async with ctx.deps.db.unit_of_work() as uow:
            state = await lists.get_state(uow.session, station_id)
            if state is None or not state.enabled:
                await lists.configure(uow.session, station_id, now=ctx.deps.clock.now())
                await uow.commit()
        outcome = await syncer.sync_station(station_id, full=body.full)
        return SyncOut(
            station_id=station_id,
            status=outcome.status,
            version=outcome.version,
            messages=outcome.messages,
            full=outcome.full,
        )

    @router.get(
        "/local-list/station-version",
        summary="Ask the station its list version (GetLocalListVersion)",
        responses=error_responses(409, 502, 503, 504),
    )
    async def station_version(station_id: StationId, ctx: Context) -> StationVersionOut:
        version = await wire.get_local_list_version(ctx.outbound, station_id)
        return StationVersionOut(station_id=station_id, version=version)

    @router.post(
        "/clear-cache",
        summary="Clear the station's authorization cache (ClearCache)",
        responses=error_responses(409, 502, 503, 504),
    )
    async def clear_cache(station_id: StationId, ctx: Context) -> CommandOut:
        return CommandOut.of(await commands.clear_cache(ctx.outbound, station_id))

    return router
