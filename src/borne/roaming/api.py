"""Operator API of OCPI partners: ``/api/v1/partners``.

Create a partner (201, with its token A shown once), list and read partners with their
version, endpoints, roles, status and last success / error, change settings or suspend,
register Borne with a partner (``POST /partners/{id}/register``), send new credentials
(``POST /partners/{id}/update``: new token, endpoints refetched, optional version switch),
issue a new token A (``POST /partners/{id}/token``) and unregister (``DELETE``). No answer
carries a token except the creation and the new token A (R27). A partner that cannot be
reached → 502 with the reason; a state that does not fit → 409.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status

from borne.api_errors import error_responses
from borne.roaming import credentials as handshake
from borne.roaming import partners as svc
from borne.roaming.config import RoamingContext, get_roaming
from borne.roaming.schemas import (
    PartnerCreatedOut,
    PartnerIn,
    PartnerOut,
    PartnerPatch,
    RegisterIn,
    UpdateIn,
)

PartnerId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Roaming = Annotated[RoamingContext, Depends(get_roaming)]

router = APIRouter(prefix="/partners", tags=["partners"], responses=error_responses(401, 422))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a partner and its token A (shown once)",
)
async def create_partner(
    body: PartnerIn, ctx: Roaming, request: Request, response: Response
) -> PartnerCreatedOut:
    async with ctx.db.unit_of_work() as uow:
        view, token_a = await svc.create_partner(
            uow,
            name=body.name,
            now=ctx.clock.now(),
            token_base64=body.token_base64,
            accept_raw_tokens=body.accept_raw_tokens,
        )
        await uow.commit()
    response.headers["Location"] = f"{request.url.path.rstrip('/')}/{view.id}"
    response.headers["Cache-Control"] = "no-store"
    return PartnerCreatedOut(
        partner=PartnerOut.of(view), token=token_a, ocpi_versions_url=ctx.config.versions_url
    )


@router.get("", summary="Every partner with its link health")
async def list_partners(ctx: Roaming) -> list[PartnerOut]:
    async with ctx.db.unit_of_work() as uow:
        return [PartnerOut.of(v) for v in await svc.list_partners(uow)]


@router.get("/{partner_id}", summary="A partner", responses=error_responses(404))
async def get_partner(partner_id: PartnerId, ctx: Roaming) -> PartnerOut:
    async with ctx.db.unit_of_work() as uow:
        return PartnerOut.of(await svc.get_partner(uow, partner_id=partner_id))


@router.patch(
    "/{partner_id}",
    summary="Change a partner's settings, suspend or resume it",
    responses=error_responses(404, 409),
)
async def update_partner(partner_id: PartnerId, body: PartnerPatch, ctx: Roaming) -> PartnerOut:
    async with ctx.db.unit_of_work() as uow:
        now = ctx.clock.now()
        view = await svc.update_partner(
            uow,
            partner_id=partner_id,
            now=now,
            name=body.name,
            token_base64=body.token_base64,
            accept_raw_tokens=body.accept_raw_tokens,
        )
        if body.suspended is not None:
            view = await svc.set_suspended(
                uow, partner_id=partner_id, suspended=body.suspended, now=now
            )
        await uow.commit()
    return PartnerOut.of(view)


@router.post(
    "/{partner_id}/register",
    summary="Register Borne with this partner (its versions URL and the token A it gave)",
    responses=error_responses(404, 409, 502),
)
async def register(partner_id: PartnerId, body: RegisterIn, ctx: Roaming) -> PartnerOut:
    view = await handshake.register_with(
        ctx, partner_id=partner_id, versions_url=body.versions_url, token_a=body.token
    )
    return PartnerOut.of(view)


@router.post(
    "/{partner_id}/update",
    summary="Send new credentials to the partner (token rotation, endpoints, version switch)",
    responses=error_responses(404, 409, 502),
)
async def update_credentials(
    partner_id: PartnerId, ctx: Roaming, body: UpdateIn | None = None
) -> PartnerOut:
    version = body.version if body is not None else None
    view = await handshake.update_with(ctx, partner_id=partner_id, version=version)
    return PartnerOut.of(view)


@router.post(
    "/{partner_id}/token",
    summary="Issue a new token A for a partner that is not registered (shown once)",
    responses=error_responses(404, 409),
)
async def reissue_token(
    partner_id: PartnerId, ctx: Roaming, response: Response
) -> PartnerCreatedOut:
    async with ctx.db.unit_of_work() as uow:
        view, token_a = await svc.reissue_token_a(uow, partner_id=partner_id, now=ctx.clock.now())
        await uow.commit()
    response.headers["Cache-Control"] = "no-store"
    return PartnerCreatedOut(
        partner=PartnerOut.of(view), token=token_a, ocpi_versions_url=ctx.config.versions_url
    )


@router.delete(
    "/{partner_id}",
    summary="Unregister: every token of this partner stops working, its roles are released",
    responses=error_responses(404, 409),
)
async def unregister(partner_id: PartnerId, ctx: Roaming) -> PartnerOut:
    view = await handshake.unregister(ctx, partner_id=partner_id)
    return PartnerOut.of(view)
