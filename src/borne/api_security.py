"""Operator API authentication (R27): ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``.

Keys are compared in constant time (on their SHA-256 digests, so not even the length leaks) and
are never logged or echoed: a refusal says only that the key is missing or wrong.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from borne.api_context import ApiContext, get_context
from borne.core.errors import BorneError


class Unauthorized(BorneError):
    code = "unauthorized"
    http_status = 401


_bearer = HTTPBearer(auto_error=False, description="Operator API key as a bearer token")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="Operator API key")


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


def key_matches(given: str, keys: Iterable[str]) -> bool:
    """True when ``given`` is one of ``keys``; every key is compared, in constant time."""
    if not given:
        return False
    given_digest = _digest(given)
    found = False
    for key in keys:
        if key:
            found |= hmac.compare_digest(given_digest, _digest(key))
    return found


def check_api_key(headers: Mapping[str, str], keys: Iterable[str]) -> None:
    """Raise ``Unauthorized`` unless the request carries one of ``keys``.

    Also used by the error handlers, so that a malformed body never answers before the key
    has been checked (FastAPI reads the body before it runs dependencies).
    """
    given: list[str] = []
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        given.append(token.strip())
    if api_key := headers.get("x-api-key", "").strip():
        given.append(api_key)
    if not given:
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key'")
    matches = [key_matches(c, keys) for c in given]  # every credential compared, no short cut
    if not any(matches):
        raise Unauthorized("invalid API key")


async def require_api_key(
    request: Request,
    context: Annotated[ApiContext, Depends(get_context)],
    # Declared so that OpenAPI documents both schemes; the check reads the headers itself.
    _bearer_doc: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    _api_key_doc: Annotated[str | None, Security(_api_key)],
) -> None:
    """FastAPI dependency guarding every ``/api/v1`` route; raises ``Unauthorized`` (401)."""
    check_api_key(request.headers, context.api_keys)
