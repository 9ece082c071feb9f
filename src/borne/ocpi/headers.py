"""OCPI request headers: routing (OCPI-to/from-*) and request/correlation ids."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

REQUEST_ID = "X-Request-ID"
CORRELATION_ID = "X-Correlation-ID"
# Keys in the ASGI scope "state" where the middleware stores this request's ids.
STATE_REQUEST_ID = "ocpi_request_id"
STATE_CORRELATION_ID = "ocpi_correlation_id"


@dataclass(frozen=True)
class Routing:
    to_country_code: str | None = None
    to_party_id: str | None = None
    from_country_code: str | None = None
    from_party_id: str | None = None

    def as_headers(self) -> dict[str, str]:
        """The OCPI-to/from-* headers for an outgoing request (unset ones omitted)."""
        pairs = {
            "OCPI-to-country-code": self.to_country_code,
            "OCPI-to-party-id": self.to_party_id,
            "OCPI-from-country-code": self.from_country_code,
            "OCPI-from-party-id": self.from_party_id,
        }
        return {k: v for k, v in pairs.items() if v}


def _header(request: Request, name: str) -> str | None:
    value = request.headers.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def routing_headers(request: Request) -> Routing:
    """FastAPI dependency: the routing headers of the request (None when absent)."""
    return Routing(
        to_country_code=_header(request, "OCPI-to-country-code"),
        to_party_id=_header(request, "OCPI-to-party-id"),
        from_country_code=_header(request, "OCPI-from-country-code"),
        from_party_id=_header(request, "OCPI-from-party-id"),
    )


RoutingHeaders = Annotated[Routing, Depends(routing_headers)]


def new_id() -> str:
    return str(uuid.uuid4())


def request_ids(request: Request) -> tuple[str, str]:
    """(X-Request-ID, X-Correlation-ID) of this request, as echoed in the response.

    Set by the server middleware; outside it (e.g. a bare router in a test) they are
    read from the headers or generated once and remembered on the request.
    """
    state = request.scope.setdefault("state", {})
    rid = state.get(STATE_REQUEST_ID)
    cid = state.get(STATE_CORRELATION_ID)
    if not isinstance(rid, str) or not isinstance(cid, str):
        rid = _header(request, REQUEST_ID) or new_id()
        cid = _header(request, CORRELATION_ID) or new_id()
        state[STATE_REQUEST_ID] = rid
        state[STATE_CORRELATION_ID] = cid
    return rid, cid
