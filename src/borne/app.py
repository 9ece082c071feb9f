"""The operator API application: ``create_app(context)`` mounts every router under ``/api/v1``.

Authentication (R27) guards all of ``/api/v1``; ``/health``, ``/docs`` and ``/openapi.json``
are open. Errors are JSON everywhere (R35, see ``borne.api_errors``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel

from borne import __version__
from borne.api_context import ApiContext, get_context
from borne.api_errors import install_error_handlers
from borne.api_security import require_api_key
from borne.commands.api import router as commands_router

API_PREFIX = "/api/v1"


class HealthOut(BaseModel):
    status: str
    version: str
    connected_stations: int


async def health(context: Annotated[ApiContext, Depends(get_context)]) -> HealthOut:
    """Liveness, without authentication: the process answers, and how many stations are on."""
    return HealthOut(
        status="ok", version=__version__, connected_stations=len(context.deps.registry)
    )


def create_app(context: ApiContext) -> FastAPI:
    app = FastAPI(
        title="Borne",
        version=__version__,
        description="Operator API of Borne, the open-source EV-charging platform.",
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.context = context
    install_error_handlers(app)

    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(require_api_key)])
    api.include_router(commands_router)
    for router in context.routers:
        api.include_router(router)
    app.include_router(api)
    app.add_api_route("/health", health, methods=["GET"], tags=["health"])
    return app
