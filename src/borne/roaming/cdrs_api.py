"""CDRs module, CPO sender interface (2.2.1 and 2.3.0): ``GET /{version}/cpo/cdrs``.

A partner sees the CDRs (credit CDRs included) of the sessions whose token it owns, the same
rule as for sessions: Borne's own tokens' CDRs are served to nobody. Ordered by
``last_updated`` (the issue time; a CDR never changes) then by CDR, ``date_from`` inclusive,
``date_to`` exclusive. A CDR with no exact 2.2.1 form (tax-inclusive tariff) is left out of the
2.2.1 list (and counted out of ``X-Total-Count``), never written approximately.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import func, select

from borne.cdrs.models import Cdr
from borne.ocpi.envelope import OcpiResponse
from borne.ocpi.pagination import paginated
from borne.roaming.cdrs import partner_cdr
from borne.roaming.sessions_api import (
    Page,
    RegisteredParty,
    Roaming,
    Version,
    cpo_of,
    owned_by,
    window,
)
from borne.roaming.sessions_models import RoamingSession

router = APIRouter(tags=["OCPI CDRs"])


@router.get("/{version}/cpo/cdrs")
async def list_cdrs(
    request: Request,
    version: Version,
    party: RegisteredParty,
    params: Page,
    ctx: Roaming,
) -> OcpiResponse:
    conds = [owned_by(party), *window(Cdr.issued_at, params)]
    if version == "2.2.1":
        conds.append(Cdr.ocpi_221.is_not(None))
    joined = select(Cdr, RoamingSession).join(
        RoamingSession, RoamingSession.transaction_pk == Cdr.transaction_pk
    )
    async with ctx.db.unit_of_work() as uow:
        total = await uow.session.scalar(
            select(func.count())
            .select_from(Cdr)
            .join(RoamingSession, RoamingSession.transaction_pk == Cdr.transaction_pk)
            .where(*conds)
        )
        rows = (
            await uow.session.execute(
                joined.where(*conds)
                .order_by(Cdr.issued_at, Cdr.id)
                .offset(params.offset)
                .limit(params.limit)
            )
        ).all()
        cpo = cpo_of(ctx)
        items = [partner_cdr(cdr, row, version, cpo) for cdr, row in rows]
    return paginated(request, params, items, int(total or 0))
