"""Token authentication of OCPI callers (``Authorization: Token <token>``)."""

from __future__ import annotations

import base64 as _b64
import binascii
from typing import Annotated, cast

from fastapi import Depends, Request

from borne.ocpi.errors import Unauthorized
from borne.ocpi.party import Party, PartyAuthenticator

_PREFIX = "token "


def token_candidates(authorization: str | None) -> list[str]:
    """Tokens to try for an Authorization header, most likely first.

    OCPI 2.2+ sends base64(token); 2.1.1 peers and many real ones send it raw, and a raw
    token can itself be valid base64, so both are tried: decoded first, then raw.
    """
    if not authorization:
        return []
    value = authorization.strip()
    if value[: len(_PREFIX)].lower() != _PREFIX:
        return []
    raw = value[len(_PREFIX) :].strip()
    if not raw:
        return []
    out: list[str] = []
    decoded = _b64decode(raw)
    if decoded is not None and decoded != raw:
        out.append(decoded)
    out.append(raw)
    return out


def _b64decode(value: str) -> str | None:
    try:
        data = _b64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return None
    if not text or not text.isprintable():
        return None
    return text


def authorization_header(token: str, *, base64: bool) -> str:
    """Authorization header value for an outgoing call (base64 for 2.2+ peers)."""
    if base64:
        return "Token " + _b64.b64encode(token.encode("utf-8")).decode("ascii")
    return "Token " + token


async def require_party(request: Request) -> Party:
    """FastAPI dependency: any known token (A, B or C); 401 envelope otherwise."""
    cached = getattr(request.state, "ocpi_party", None)
    if isinstance(cached, Party):
        return cached
    candidates = token_candidates(request.headers.get("authorization"))
    if not candidates:
        raise Unauthorized("Missing or malformed Authorization header")
    authenticator = cast(PartyAuthenticator, request.app.state.ocpi_authenticator)
    party = await authenticator.authenticate(candidates)
    if party is None:
        raise Unauthorized("Unknown token")
    request.state.ocpi_party = party
    return party


async def require_registered_party(request: Request) -> Party:
    """FastAPI dependency: a registered partner (token C); token A is refused (R28)."""
    party = await require_party(request)
    if not party.registered:
        raise Unauthorized("Registration token only allows versions and credentials")
    return party


# Annotated dependencies for route signatures (ruff B008-friendly).
AnyParty = Annotated[Party, Depends(require_party)]
RegisteredParty = Annotated[Party, Depends(require_registered_party)]
