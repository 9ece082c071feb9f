"""Operator API of the id tokens: ``/api/v1/id-tokens``.

Create (201), list (oldest first, by status or group), read, change and delete the tokens that
may charge. Token values are case-insensitive, as in OCPP: ``/id-tokens/abc`` and
``/id-tokens/ABC`` are the same token, and creating ``abc`` when ``ABC`` exists is a 409.
Unknown token → 404, invalid input → 422; each write is one unit of work, committed only when
it has fully succeeded (R35).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from borne.api_context import ApiContext, get_context
from borne.api_errors import error_responses
from borne.authorization import service
from borne.authorization.schemas import (
    MAX_TOKEN,
    NO_CONTROL,
    IdTokenIn,
    IdTokenOut,
    IdTokenPatch,
    PageOut,
)
from borne.authorization.service import UNSET, TokenExtra, TokenStatus

TokenPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_TOKEN,
        pattern=NO_CONTROL,
        description="the token value, in any letter case (it may contain '/')",
    ),
]
Context = Annotated[ApiContext, Depends(get_context)]

router = APIRouter(prefix="/id-tokens", tags=["id tokens"], responses=error_responses(401, 422))


def _location(request: Request, key: str) -> str:
    """The path of the resource just created under the collection that was posted to."""
    return f"{request.url.path.rstrip('/')}/{quote(key, safe='')}"


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Add an id token",
    responses=error_responses(409),
)
async def create_id_token(
    body: IdTokenIn, ctx: Context, request: Request, response: Response
) -> IdTokenOut:
    now = ctx.deps.clock.now()
    async with ctx.deps.db.unit_of_work() as uow:
        token = await service.create_id_token(
            uow,
            id_token=body.id_token,
            now=now,
            type=body.type,
            status=body.status,
            expiry_date=body.expiry_date,
            group_id_token=body.group_id_token,
            label=body.label,
            notes=body.notes,
            extra=TokenExtra(
                local_list=body.local_list,
                master_pass=body.master_pass,
                personal_message=body.personal_message,
                personal_message_language=body.personal_message_language,
                language1=body.language1,
            ),
        )
        await uow.commit()
        out = IdTokenOut.of(token, now=now)
    response.headers["Location"] = _location(request, out.id_token)
    return out


@router.get("", summary="List id tokens, oldest first")
async def list_id_tokens(
    ctx: Context,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
    status: TokenStatus | None = None,
    group_id_token: Annotated[
        str | None, Query(min_length=1, max_length=MAX_TOKEN, pattern=NO_CONTROL)
    ] = None,
) -> PageOut[IdTokenOut]:
    now = ctx.deps.clock.now()
    async with ctx.deps.db.unit_of_work() as uow:
        page = await service.list_id_tokens(
            uow, offset=offset, limit=limit, status=status, group_id_token=group_id_token
        )
    return PageOut(
        items=[IdTokenOut.of(t, now=now) for t in page.items],
        total=page.total,
        offset=page.offset,
        limit=page.limit,
    )


@router.get("/{id_token:path}", summary="An id token", responses=error_responses(404))
async def get_id_token(id_token: TokenPath, ctx: Context) -> IdTokenOut:
    async with ctx.deps.db.unit_of_work() as uow:
        token = await service.get_id_token(uow, id_token=id_token)
    return IdTokenOut.of(token, now=ctx.deps.clock.now())


@router.patch(
    "/{id_token:path}",
    summary="Change an id token",
    description="Only the fields sent change; null clears expiry_date, group_id_token, label "
    "and notes.",
    responses=error_responses(404),
)
async def update_id_token(id_token: TokenPath, body: IdTokenPatch, ctx: Context) -> IdTokenOut:
    sent = body.model_fields_set
    now = ctx.deps.clock.now()
    async with ctx.deps.db.unit_of_work() as uow:
        token = await service.update_id_token(
            uow,
            id_token=id_token,
            now=now,
            type=body.type,
            status=body.status,
            expiry_date=body.expiry_date if "expiry_date" in sent else UNSET,
            group_id_token=body.group_id_token if "group_id_token" in sent else UNSET,
            label=body.label if "label" in sent else UNSET,
            notes=body.notes if "notes" in sent else UNSET,
            extra=_extra(body, sent),
        )
        await uow.commit()
        out = IdTokenOut.of(token, now=now)
    return out


def _extra(body: IdTokenPatch, sent: set[str]) -> TokenExtra:
    """The extra fields the PATCH carries (the flags cannot be null: None means not sent)."""
    return TokenExtra(
        local_list=UNSET if body.local_list is None else body.local_list,
        master_pass=UNSET if body.master_pass is None else body.master_pass,
        personal_message=body.personal_message if "personal_message" in sent else UNSET,
        personal_message_language=body.personal_message_language
        if "personal_message_language" in sent
        else UNSET,
        language1=body.language1 if "language1" in sent else UNSET,
    )


@router.delete(
    "/{id_token:path}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete an id token",
    responses=error_responses(404, 409),
)
async def delete_id_token(id_token: TokenPath, ctx: Context) -> None:
    async with ctx.deps.db.unit_of_work() as uow:
        await service.delete_id_token(uow, id_token=id_token)
        await uow.commit()
