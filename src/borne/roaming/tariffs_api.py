"""OCPI Tariffs module, CPO sender interface: ``GET /{version}/cpo/tariffs`` (paginated).

Registered partners only (token A is refused, R28); each sees the tariffs meant for it
(:mod:`borne.roaming.tariffs`). Order: ``last_updated`` then record id; ``date_from``
inclusive, ``date_to`` exclusive (R31).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from borne.ocpi.auth import require_registered_party
from borne.ocpi.envelope import OcpiResponse
from borne.ocpi.pagination import PageParams, page_params, paginated
from borne.ocpi.party import Party
from borne.ocpi.versions import OcpiVersion
from borne.roaming import tariffs
from borne.roaming.config import RoamingContext, get_roaming

RegisteredParty = Annotated[Party, Depends(require_registered_party)]
Roaming = Annotated[RoamingContext, Depends(get_roaming)]
Page = Annotated[PageParams, Depends(page_params)]


def build_router(version: OcpiVersion) -> APIRouter:
    router = APIRouter(prefix=f"/{version.value}/cpo/tariffs", tags=[f"OCPI {version.value}"])

    @router.get("")
    async def list_tariffs(
        request: Request, party: RegisteredParty, roaming: Roaming, page: Page
    ) -> OcpiResponse:
        me = tariffs.CpoIdentity(roaming.config.country_code, roaming.config.party_id)
        async with roaming.db.unit_of_work() as uow:
            items = await tariffs.list_for_party(
                uow.session,
                version=version.value,
                keys=tariffs.party_keys(party.roles),
                me=me,
                date_from=page.date_from,
                date_to=page.date_to,
            )
        chunk = items[page.offset : page.offset + page.limit]
        return paginated(request, page, chunk, len(items))

    return router


def build_routers() -> list[APIRouter]:
    """The Tariffs sender routers of every version Borne serves."""
    return [build_router(v) for v in OcpiVersion]
