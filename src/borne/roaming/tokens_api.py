"""OCPI Tokens module, CPO receiver interface, one router per version.

``GET|PUT|PATCH /{version}/cpo/tokens/{country_code}/{party_id}/{token_uid}[?type=RFID]``,
for registered partners only (R28). Writes are committed before the answer (a success means
the token is stored). Rules: :mod:`borne.roaming.tokens`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query

from borne.ocpi.auth import require_registered_party
from borne.ocpi.envelope import OcpiResponse, ok
from borne.ocpi.party import Party
from borne.ocpi.versions import OcpiVersion
from borne.roaming import tokens
from borne.roaming.config import RoamingContext, get_roaming

RegisteredParty = Annotated[Party, Depends(require_registered_party)]
Roaming = Annotated[RoamingContext, Depends(get_roaming)]
TypeParam = Annotated[str | None, Query(alias="type", max_length=32)]
TokenBody = Annotated[Any, Body()]


def token_path(
    country_code: str, party_id: str, token_uid: str, token_type: TypeParam = None
) -> tokens.TokenPath:
    """FastAPI dependency: the token addressed by the URL (type RFID when not given)."""
    return tokens.TokenPath(country_code, party_id, token_uid, token_type or "RFID")


Path = Annotated[tokens.TokenPath, Depends(token_path)]


def build_router(version: OcpiVersion) -> APIRouter:
    router = APIRouter(prefix=f"/{version.value}/cpo/tokens", tags=[f"OCPI {version.value}"])
    v = version.value

    @router.get("/{country_code}/{party_id}/{token_uid}")
    async def get_token(
        path: Path,
        party: RegisteredParty,
        roaming: Roaming,
    ) -> OcpiResponse:
        async with roaming.db.unit_of_work() as uow:
            data = await tokens.get_token(uow.session, version=v, party=party, path=path)
        return ok(data)

    @router.put("/{country_code}/{party_id}/{token_uid}")
    async def put_token(
        path: Path,
        body: TokenBody,
        party: RegisteredParty,
        roaming: Roaming,
    ) -> OcpiResponse:
        async with roaming.db.unit_of_work() as uow:
            outcome = await tokens.put_token(
                uow.session, version=v, party=party, path=path, body=body, now=roaming.clock.now()
            )
            if outcome in ("created", "updated"):
                await uow.commit()
        return ok()

    @router.patch("/{country_code}/{party_id}/{token_uid}")
    async def patch_token(
        path: Path,
        body: TokenBody,
        party: RegisteredParty,
        roaming: Roaming,
    ) -> OcpiResponse:
        async with roaming.db.unit_of_work() as uow:
            outcome = await tokens.patch_token(
                uow.session, version=v, party=party, path=path, body=body, now=roaming.clock.now()
            )
            if outcome == "updated":
                await uow.commit()
        return ok()

    return router


def build_routers() -> list[APIRouter]:
    """The Tokens receiver routers of every version Borne serves."""
    return [build_router(v) for v in OcpiVersion]
