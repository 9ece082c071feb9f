"""Operator API of the CDRs: ``/api/v1/cdrs``.

List (filters: station, issue window ``[date_from, date_to)``, transaction, credit; paged,
oldest first), read one as OCPI 2.2.1 or 2.3.0 exactly as issued, read its price explanation,
export (CSV or JSON), and credit one (optionally re-issuing a corrected CDR). CDRs are issued by
Borne when a transaction ends; they are never changed. Unknown CDR → 404, bad filter → 422,
crediting a credit CDR or crediting twice → 409.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import PlainTextResponse, StreamingResponse

from borne.api_context import ApiContext, get_context
from borne.api_errors import error_responses
from borne.cdrs import export, service
from borne.cdrs.schemas import CdrOut, CreditIn, CreditOut, PageOut
from borne.core.errors import InvalidInput

Context = Annotated[ApiContext, Depends(get_context)]
CdrId = Annotated[str, Path(min_length=1, max_length=39, pattern=r"^[A-Za-z0-9\-]+$")]
StationFilter = Annotated[
    str | None, Query(min_length=1, max_length=48, pattern=r"^[\x21-\x39\x3b-\x7e]+$")
]
DateFrom = Annotated[datetime | None, Query(description="issued at or after (inclusive)")]
DateTo = Annotated[datetime | None, Query(description="issued before (exclusive)")]
Version = Literal["2.2.1", "2.3.0"]

router = APIRouter(prefix="/cdrs", tags=["cdrs"], responses=error_responses(401, 422))


def _window(date_from: datetime | None, date_to: datetime | None) -> None:
    for value in (date_from, date_to):
        if value is not None and value.tzinfo is None:
            raise InvalidInput("date_from and date_to need a time zone (e.g. Z)")
    if date_from is not None and date_to is not None and date_to < date_from:
        raise InvalidInput("date_to is before date_from")


@router.get("", summary="List CDRs, oldest issued first")
async def list_cdrs(
    ctx: Context,
    *,
    station_id: StationFilter = None,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    transaction_pk: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    credit: Annotated[
        bool | None, Query(description="only credit (or only non-credit) CDRs")
    ] = None,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=service.MAX_LIMIT)] = 50,
) -> PageOut[CdrOut]:
    _window(date_from, date_to)
    async with ctx.deps.db.unit_of_work() as uow:
        page = await service.list_cdrs(
            uow,
            station_id=station_id,
            date_from=date_from,
            date_to=date_to,
            transaction_pk=transaction_pk,
            credit=credit,
            limit=limit,
            offset=offset,
        )
    return PageOut(
        items=[CdrOut.of(v) for v in page.items],
        total=page.total,
        offset=page.offset,
        limit=page.limit,
    )


@router.get(
    "/export",
    summary="Export CDRs as CSV (one row per CDR) or JSON (OCPI CDRs)",
    response_class=StreamingResponse,
)
async def export_cdrs(
    ctx: Context,
    *,
    format: Annotated[Literal["csv", "json"], Query()] = "csv",
    version: Annotated[Version, Query(description="OCPI version of a JSON export")] = "2.3.0",
    station_id: StationFilter = None,
    date_from: DateFrom = None,
    date_to: DateTo = None,
) -> StreamingResponse:
    _window(date_from, date_to)
    db = ctx.deps.db
    if format == "csv":
        return StreamingResponse(
            export.csv_chunks(db, station_id=station_id, date_from=date_from, date_to=date_to),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="cdrs.csv"'},
        )
    return StreamingResponse(
        export.json_chunks(
            db, version=version, station_id=station_id, date_from=date_from, date_to=date_to
        ),
        media_type="application/json",
    )


@router.get(
    "/{cdr_id}",
    summary="A CDR as an OCPI object, exactly as issued",
    responses=error_responses(404),
)
async def get_cdr(
    cdr_id: CdrId, ctx: Context, version: Annotated[Version, Query()] = "2.3.0"
) -> Response:
    async with ctx.deps.db.unit_of_work() as uow:
        text = await service.cdr_document(uow, cdr_id, version)
    return Response(content=text, media_type="application/json")


@router.get(
    "/{cdr_id}/explanation",
    summary="The human-readable explanation of a CDR's price",
    response_class=PlainTextResponse,
    responses=error_responses(404),
)
async def get_explanation(cdr_id: CdrId, ctx: Context) -> PlainTextResponse:
    async with ctx.deps.db.unit_of_work() as uow:
        text = await service.cdr_explanation(uow, cdr_id)
    return PlainTextResponse(text)


@router.post(
    "/{cdr_id}/credit",
    status_code=201,
    summary="Credit a CDR, optionally issuing a corrected one",
    responses=error_responses(404, 409),
)
async def credit_cdr(cdr_id: CdrId, body: CreditIn, ctx: Context, request: Request) -> CreditOut:
    config = getattr(request.app.state, "cdr_config", None)
    async with ctx.deps.db.unit_of_work() as uow:
        credit, correction = await service.credit_cdr(
            uow,
            cdr_id=cdr_id,
            reason=body.reason,
            reissue=body.reissue,
            now=ctx.deps.clock.now(),
            config=config if isinstance(config, service.CdrConfig) else None,
        )
        await uow.commit()
    return CreditOut(
        credit=CdrOut.of(credit),
        correction=None if correction is None else CdrOut.of(correction),
    )
