"""What the operator API needs from the runtime, handed to ``create_app`` at composition."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import APIRouter, Request

from borne.core.deps import Deps
from borne.ocpp.outbound import OcppOutbound


@dataclass(frozen=True)
class ApiContext:
    deps: Deps
    outbound: OcppOutbound
    # Accepted operator API keys, plain strings; compared in constant time, never logged (R27).
    api_keys: list[str] = field(repr=False)
    # Other domains' routers, mounted under /api/v1 behind the same authentication.
    routers: list[APIRouter] = field(default_factory=list)


def get_context(request: Request) -> ApiContext:
    """FastAPI dependency: the ``ApiContext`` that ``create_app`` stored on ``app.state``."""
    context: ApiContext = request.app.state.context
    return context
