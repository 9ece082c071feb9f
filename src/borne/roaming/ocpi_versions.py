"""Borne's OCPI configuration modules: ``/versions``, ``/{version}/details`` and credentials.

Routes are declared per supported version, so an unknown version is an unknown path (404).
Bodies are parsed after authentication, so a caller without a valid token always gets 401
(R28), whatever it sent. Token A is enough for all of these routes; the credentials methods
answer HTTP 405 when they do not fit the caller's registration state, as the specification says.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError

from borne.core.errors import BorneError, InvalidInput, NotFound
from borne.ocpi import status
from borne.ocpi.auth import AnyParty, token_candidates
from borne.ocpi.envelope import OcpiResponse, ok
from borne.ocpi.errors import InvalidParameters, OcpiError, Unauthorized
from borne.ocpi.party import Party
from borne.roaming import credentials as handshake
from borne.roaming import partners as svc
from borne.roaming.config import SUPPORTED_VERSIONS, RoamingConfig, RoamingContext, get_roaming
from borne.roaming.schemas import CredentialsIn

Roaming = Annotated[RoamingContext, Depends(get_roaming)]

#: (module, interface role) Borne implements as a CPO, in every supported version.
CPO_MODULES: tuple[tuple[str, str], ...] = (
    ("locations", "SENDER"),
    ("tariffs", "SENDER"),
    ("sessions", "SENDER"),
    ("cdrs", "SENDER"),
    ("tokens", "RECEIVER"),
    ("commands", "RECEIVER"),
)

router = APIRouter(tags=["ocpi"])


def version_details(config: RoamingConfig, version: str) -> dict[str, Any]:
    credentials = config.credentials_url(version)
    endpoints = [
        {"identifier": "credentials", "role": "SENDER", "url": credentials},
        {"identifier": "credentials", "role": "RECEIVER", "url": credentials},
    ]
    endpoints += [
        {"identifier": module, "role": role, "url": config.module_url(version, module)}
        for module, role in CPO_MODULES
    ]
    return {"version": version, "endpoints": endpoints}


@router.get("/versions", summary="The OCPI versions Borne supports")
async def get_versions(_party: AnyParty, ctx: Roaming) -> OcpiResponse:
    return ok([{"version": v, "url": ctx.config.details_url(v)} for v in SUPPORTED_VERSIONS])


async def _offer(request: Request) -> handshake.Offer:
    """The caller's credentials object; invalid JSON is HTTP 400, invalid content 2001 (R32)."""
    try:
        data = json.loads(await request.body())
    except ValueError:
        raise OcpiError(status.CLIENT_ERROR, "Invalid JSON body", http_status=400) from None
    try:
        return handshake.offer_of(CredentialsIn.model_validate(data))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise InvalidParameters(f"Invalid credentials object: {problems}") from None


async def _answer(action: Callable[[], Awaitable[Any]]) -> Any:
    """Run a handshake step, turning domain errors into OCPI answers."""
    try:
        return await action()
    except handshake.WrongState as exc:
        raise OcpiError(status.CLIENT_ERROR, exc.message, http_status=405) from None
    except handshake.HandshakeFailed as exc:
        raise OcpiError(exc.ocpi_status, exc.message) from None
    except NotFound:
        raise Unauthorized("Unknown token") from None
    except (svc.RoleConflict, InvalidInput) as exc:
        raise InvalidParameters(exc.message) from None
    except BorneError as exc:  # pragma: no cover - every service error is mapped above
        raise OcpiError(status.CLIENT_ERROR, exc.message) from None


def _add_version(version: str) -> None:
    async def get_details(_party: AnyParty, ctx: Roaming) -> OcpiResponse:
        return ok(version_details(ctx.config, version))

    async def get_credentials(request: Request, party: AnyParty, ctx: Roaming) -> OcpiResponse:
        # Borne keeps only hashes: the token in the answer is the one the caller presented.
        candidates = token_candidates(request.headers.get("authorization"))
        async with ctx.db.unit_of_work() as uow:
            found = await svc.find_by_tokens(uow.session, candidates)
            mine = found is not None and found[0].id == party.partner_id
        if found is None or not mine:
            raise Unauthorized("Unknown token")
        return ok(handshake.credentials_object(ctx.config, found[1]))

    async def post_credentials(request: Request, party: AnyParty, ctx: Roaming) -> OcpiResponse:
        if party.registered:
            raise OcpiError(status.CLIENT_ERROR, "Already registered: use PUT", http_status=405)
        offer = await _offer(request)
        token_c: str = await _answer(
            lambda: handshake.accept_offer(
                ctx, partner_id=party.partner_id, offer=offer, version=version, registration=True
            )
        )
        return ok(handshake.credentials_object(ctx.config, token_c))

    async def put_credentials(request: Request, party: AnyParty, ctx: Roaming) -> OcpiResponse:
        _require_registered(party)
        offer = await _offer(request)
        token_c: str = await _answer(
            lambda: handshake.accept_offer(
                ctx, partner_id=party.partner_id, offer=offer, version=version, registration=False
            )
        )
        return ok(handshake.credentials_object(ctx.config, token_c))

    async def delete_credentials(party: AnyParty, ctx: Roaming) -> OcpiResponse:
        _require_registered(party)
        await _answer(lambda: handshake.unregister(ctx, partner_id=party.partner_id))
        return ok(None)

    router.add_api_route(
        f"/{version}/details", get_details, methods=["GET"], summary=f"OCPI {version} modules"
    )
    path = f"/{version}/credentials"
    router.add_api_route(path, get_credentials, methods=["GET"], summary="Borne's credentials")
    router.add_api_route(path, post_credentials, methods=["POST"], summary="Register")
    router.add_api_route(path, put_credentials, methods=["PUT"], summary="Update, switch version")
    router.add_api_route(path, delete_credentials, methods=["DELETE"], summary="Unregister")


def _require_registered(party: Party) -> None:
    if not party.registered:
        raise OcpiError(status.CLIENT_ERROR, "Not registered: use POST", http_status=405)


for _version in SUPPORTED_VERSIONS:
    _add_version(_version)
