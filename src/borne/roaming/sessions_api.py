"""Sessions module, CPO sender interface (2.2.1 and 2.3.0): ``/{version}/cpo/sessions``.

Visibility: a partner sees the sessions whose token it owns, i.e. whose ``cdr_token``
``country_code``/``party_id`` is one of the roles it registered. Sessions of Borne's own (local)
tokens belong to no partner and are served to none. The list is ordered by ``last_updated``
then session, ``date_from`` inclusive, ``date_to`` exclusive.

Charging preferences: no Borne EVSE announces ``CHARGING_PREFERENCES_CAPABLE``, so a PUT on a
session of the partner is answered as the specification asks for such an EVSE (HTTP 404, status
2001); an unknown session, or one of another partner, is HTTP 404 with status 2000.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import ColumnElement, and_, false, func, or_, select

from borne.ocpi import status
from borne.ocpi.auth import require_registered_party
from borne.ocpi.envelope import OcpiModel, OcpiResponse
from borne.ocpi.errors import NotFoundError, OcpiError
from borne.ocpi.pagination import PageParams, page_params, paginated
from borne.ocpi.party import Party
from borne.ocpi.versions import OcpiVersion
from borne.roaming.config import RoamingContext, get_roaming
from borne.roaming.sessions import CpoIdentity, facts_of, session_document, transaction_pk_of
from borne.roaming.sessions_models import RoamingSession
from borne.transactions.models import Transaction

router = APIRouter(tags=["OCPI sessions"])


def ocpi_version(version: str) -> str:
    """FastAPI dependency on the ``{version}`` path segment: a version Borne serves."""
    if version not in {v.value for v in OcpiVersion}:
        raise NotFoundError(f"Unsupported OCPI version {version!r}")
    return version


Version = Annotated[str, Depends(ocpi_version)]
RegisteredParty = Annotated[Party, Depends(require_registered_party)]
Page = Annotated[PageParams, Depends(page_params)]
Roaming = Annotated[RoamingContext, Depends(get_roaming)]


def owned_by(party: Party) -> ColumnElement[bool]:
    """Sessions whose token belongs to one of the party's roles."""
    pairs = {(r.country_code.upper(), r.party_id.upper()) for r in party.roles}
    if not pairs:
        return false()
    return or_(
        *(
            and_(RoamingSession.token_country_code == cc, RoamingSession.token_party_id == pid)
            for cc, pid in sorted(pairs)
        )
    )


def window(column: Any, params: PageParams) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if params.date_from is not None:
        conds.append(column >= params.date_from)
    if params.date_to is not None:
        conds.append(column < params.date_to)
    return conds


def cpo_of(ctx: RoamingContext) -> CpoIdentity:
    return CpoIdentity(ctx.config.country_code, ctx.config.party_id)


@router.get("/{version}/cpo/sessions")
async def list_sessions(
    request: Request,
    version: Version,
    party: RegisteredParty,
    params: Page,
    ctx: Roaming,
) -> OcpiResponse:
    conds = [owned_by(party), *window(RoamingSession.last_updated, params)]
    async with ctx.db.unit_of_work() as uow:
        total = await uow.session.scalar(
            select(func.count()).select_from(RoamingSession).where(*conds)
        )
        rows = (
            await uow.session.execute(
                select(RoamingSession, Transaction)
                .join(Transaction, Transaction.id == RoamingSession.transaction_pk)
                .where(*conds)
                .order_by(RoamingSession.last_updated, RoamingSession.transaction_pk)
                .offset(params.offset)
                .limit(params.limit)
            )
        ).all()
        items = [
            session_document(await facts_of(uow.session, tx, row, cpo=cpo_of(ctx)), version)
            for row, tx in rows
        ]
    return paginated(request, params, items, int(total or 0))


class ProfileType(StrEnum):
    CHEAP = "CHEAP"
    FAST = "FAST"
    GREEN = "GREEN"
    REGULAR = "REGULAR"


class ChargingPreferences(OcpiModel):
    profile_type: ProfileType
    departure_time: datetime | None = None
    energy_need: float | None = None
    discharge_allowed: bool | None = None


@router.put("/{version}/cpo/sessions/{session_id}/charging_preferences")
async def put_charging_preferences(
    session_id: str,
    body: ChargingPreferences,
    version: Version,
    party: RegisteredParty,
    ctx: Roaming,
) -> OcpiResponse:
    pk = transaction_pk_of(session_id)
    async with ctx.db.unit_of_work() as uow:
        row = None if pk is None else await uow.session.get(RoamingSession, pk)
        mine = row is not None and (
            await uow.session.scalar(
                select(func.count())
                .select_from(RoamingSession)
                .where(RoamingSession.transaction_pk == pk, owned_by(party))
            )
        )
    if not mine:
        raise NotFoundError(f"Unknown session {session_id!r}")
    raise OcpiError(
        status.INVALID_PARAMETERS,
        "The EVSE of this session is not CHARGING_PREFERENCES_CAPABLE",
        http_status=404,
    )
