"""Operator API of the transactions: ``/api/v1/transactions``.

List transactions (newest first, by station, only active ones), read one with the energy
delivered, a summary of its meter values and the first of them, and page through all its meter
values. ``{id}`` is Borne's id of the transaction (``id`` in the answers), not the station's
``transaction_id``, which is only unique per station. Transactions are written by the stations;
the one command here is GetTransactionStatus (2.0.1, E14): ``POST /transactions/{id}/station-
status`` asks the station about one of its transactions, ``POST /transactions/station-status``
about any transaction id (or none: only whether messages are queued). Unknown transaction → 404,
malformed id or filter → 422, a 1.6 station → 422, offline → 409, the station's error → 502/504.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from borne.api_context import ApiContext, get_context
from borne.api_errors import error_responses
from borne.transactions import commands, service
from borne.transactions.models import MeterValueSample
from borne.transactions.queries import MAX_LIMIT
from borne.transactions.schemas import (
    MeasurandSummary,
    MeterSummaryOut,
    MeterValueOut,
    PageOut,
    TransactionDetailOut,
    TransactionOut,
)

# Bounded to a BIGINT, so a huge id is a 422, not a database error.
TransactionPk = Annotated[int, Path(ge=1, le=2**63 - 1, description="Borne's transaction id")]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1, description="items to skip")]
Context = Annotated[ApiContext, Depends(get_context)]
DETAIL_METER_VALUES = 100

router = APIRouter(
    prefix="/transactions", tags=["transactions"], responses=error_responses(401, 422)
)


@router.get("", summary="List transactions, newest first")
async def list_transactions(
    ctx: Context,
    station_id: Annotated[
        str | None,
        Query(min_length=1, max_length=48, pattern=r"^[\x21-\x39\x3b-\x7e]+$"),
    ] = None,
    active: Annotated[bool, Query(description="only the transactions still in progress")] = False,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> PageOut[TransactionOut]:
    async with ctx.deps.db.unit_of_work() as uow:
        page = await service.list_transactions(
            uow, station_id=station_id, active_only=active, limit=limit, offset=offset
        )
    return PageOut(
        items=[TransactionOut.of(t) for t in page.items],
        total=page.total,
        offset=page.offset,
        limit=page.limit,
    )


@router.get(
    "/{transaction_pk}",
    summary="A transaction with its energy delivered and meter values",
    responses=error_responses(404),
)
async def get_transaction(
    transaction_pk: TransactionPk,
    ctx: Context,
    meter_values_limit: Annotated[
        int,
        Query(ge=0, le=MAX_LIMIT, description="how many meter values to include"),
    ] = DETAIL_METER_VALUES,
) -> TransactionDetailOut:
    async with ctx.deps.db.unit_of_work() as uow:
        view = await service.get_transaction(uow, transaction_pk)
        energy = await service.energy_delivered(uow, transaction_pk)
        summary = await _meter_summary(uow.session, transaction_pk)
        values = []
        if meter_values_limit:
            page = await service.list_meter_values(uow, transaction_pk, limit=meter_values_limit)
            values = [MeterValueOut.of(v) for v in page.items]
    end = view.stopped_at or (ctx.deps.clock.now() if view.state == "active" else None)
    duration = None
    if view.started_at is not None and end is not None:
        duration = (end - view.started_at).total_seconds()
    return TransactionDetailOut(
        **TransactionOut.of(view).model_dump(),
        energy_wh=energy,
        duration_s=duration,
        meter_summary=summary,
        meter_values=values,
        meter_values_truncated=summary.samples > len(values),
    )


@router.get(
    "/{transaction_pk}/meter-values",
    summary="A transaction's meter values in timestamp order",
    responses=error_responses(404),
)
async def list_meter_values(
    transaction_pk: TransactionPk,
    ctx: Context,
    measurand: Annotated[
        str | None, Query(min_length=1, max_length=48, pattern=r"^[\x21-\x7e]+$")
    ] = None,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 500,
) -> PageOut[MeterValueOut]:
    async with ctx.deps.db.unit_of_work() as uow:
        page = await service.list_meter_values(
            uow, transaction_pk, measurand=measurand, limit=limit, offset=offset
        )
    return PageOut(
        items=[MeterValueOut.of(v) for v in page.items],
        total=page.total,
        offset=page.offset,
        limit=page.limit,
    )


class StationStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    station_id: str = Field(min_length=1, max_length=48, pattern=r"^[\x21-\x39\x3b-\x7e]+$")
    transaction_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=36,
        description="the station's transaction id; without it, only whether messages are queued",
    )


class StationStatusOut(BaseModel):
    station_id: str
    transaction_id: str | None
    ongoing_indicator: bool | None = Field(
        description="whether the transaction is still going on (absent without a transaction id)"
    )
    messages_in_queue: bool = Field(
        description="whether the station still holds transaction messages to deliver"
    )
    raw: dict[str, object] = Field(description="the station's answer as sent")


async def _station_status(
    ctx: ApiContext, station_id: str, transaction_id: str | None
) -> StationStatusOut:
    result = await commands.get_transaction_status(
        ctx.outbound, station_id, transaction_id=transaction_id, call_timeout=None
    )
    return StationStatusOut(
        station_id=station_id,
        transaction_id=transaction_id,
        ongoing_indicator=result.ongoing_indicator,
        messages_in_queue=result.messages_in_queue,
        raw=result.raw,
    )


@router.post(
    "/station-status",
    summary="Ask a 2.0.1 station about a transaction id and its queued messages",
    responses=error_responses(409, 502, 503, 504),
)
async def get_station_status(body: StationStatusIn, ctx: Context) -> StationStatusOut:
    return await _station_status(ctx, body.station_id, body.transaction_id)


@router.post(
    "/{transaction_pk}/station-status",
    summary="Ask the station whether this transaction is ongoing (GetTransactionStatus)",
    responses=error_responses(404, 409, 502, 503, 504),
)
async def get_transaction_station_status(
    transaction_pk: TransactionPk, ctx: Context
) -> StationStatusOut:
    async with ctx.deps.db.unit_of_work() as uow:
        view = await service.get_transaction(uow, transaction_pk)
    return await _station_status(ctx, view.station_id, view.transaction_id)


async def _meter_summary(session: AsyncSession, transaction_pk: int) -> MeterSummaryOut:
    """How many values per measurand, and the time span they cover (one aggregate query).

    Belongs in ``transactions.queries`` next to ``list_meter_values``; kept here until that
    module has a summary read of its own.
    """
    m = MeterValueSample
    rows = (
        await session.execute(
            select(m.measurand, func.count(m.id), func.min(m.timestamp), func.max(m.timestamp))
            .where(m.transaction_pk == transaction_pk)
            .group_by(m.measurand)
            .order_by(m.measurand)
        )
    ).all()
    firsts: list[datetime] = [r[2] for r in rows if r[2] is not None]
    lasts: list[datetime] = [r[3] for r in rows if r[3] is not None]
    return MeterSummaryOut(
        samples=sum(int(r[1]) for r in rows),
        first_at=min(firsts, default=None),
        last_at=max(lasts, default=None),
        measurands=[MeasurandSummary(measurand=r[0], samples=int(r[1])) for r in rows],
    )
