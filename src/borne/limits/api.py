"""Operator API of session limits.

- ``PUT /api/v1/transactions/{pk}/limits``: set (replace) an active session's limits.
- ``GET /api/v1/transactions/{pk}/limits``: its limits and, once one was reached, the
  enforcement record (which limit, value at trigger, stop reason, stop attempts).
- ``PUT|GET|DELETE /api/v1/id-tokens/{id_token}/limits``: default limits for the token's
  future sessions (copied into each session at its start).

Unknown transaction or token → 404, ended transaction → 409, invalid limits → 422.
This router is mounted before the id-tokens router, whose ``/id-tokens/{id_token:path}``
would otherwise take ``…/limits`` as part of a token value.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from borne.api_context import ApiContext, get_context
from borne.api_errors import error_responses
from borne.limits import service
from borne.limits.schemas import LimitsIn, SessionLimitsOut, TokenLimitsOut

TransactionPk = Annotated[int, Path(ge=1, le=2**63 - 1, description="Borne's transaction id")]
TokenPath = Annotated[
    str,
    Path(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$", description="any case"),
]
Context = Annotated[ApiContext, Depends(get_context)]

router = APIRouter(tags=["limits"], responses=error_responses(401, 404, 422))


@router.put(
    "/transactions/{transaction_pk}/limits",
    summary="Set a session's limits",
    responses=error_responses(409),
)
async def put_session_limits(
    transaction_pk: TransactionPk, body: LimitsIn, ctx: Context
) -> SessionLimitsOut:
    async with ctx.deps.db.unit_of_work() as uow:
        view = await service.set_session_limits(
            uow, transaction_pk, body.to_limits(), now=ctx.deps.clock.now()
        )
        await uow.commit()
    return SessionLimitsOut.of(view)


@router.get("/transactions/{transaction_pk}/limits", summary="A session's limits and enforcement")
async def get_session_limits(transaction_pk: TransactionPk, ctx: Context) -> SessionLimitsOut:
    async with ctx.deps.db.unit_of_work() as uow:
        view = await service.get_session_limits(uow, transaction_pk)
    return SessionLimitsOut.of(view)


@router.put("/id-tokens/{id_token:path}/limits", summary="Set a token's default session limits")
async def put_token_limits(id_token: TokenPath, body: LimitsIn, ctx: Context) -> TokenLimitsOut:
    async with ctx.deps.db.unit_of_work() as uow:
        out = await service.set_token_limits(
            uow, id_token, body.to_limits(), now=ctx.deps.clock.now()
        )
        await uow.commit()
    return TokenLimitsOut.of(out)


@router.get("/id-tokens/{id_token:path}/limits", summary="A token's default session limits")
async def get_token_limits(id_token: TokenPath, ctx: Context) -> TokenLimitsOut:
    async with ctx.deps.db.unit_of_work() as uow:
        out = await service.get_token_limits(uow, id_token)
    return TokenLimitsOut.of(out)


@router.delete(
    "/id-tokens/{id_token:path}/limits",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Remove a token's default session limits",
)
async def delete_token_limits(id_token: TokenPath, ctx: Context) -> None:
    async with ctx.deps.db.unit_of_work() as uow:
        await service.delete_token_limits(uow, id_token)
        await uow.commit()
