"""The OCPI FastAPI sub-application (mounted by the operator app at ``/ocpi``).

Error policy (R32: never an HTTP 500, never a stack trace to a caller):

* invalid JSON body                    -> HTTP 400, envelope 2000 "Invalid JSON ...";
* valid JSON failing validation        -> HTTP 200, envelope 2001 with field path and reason;
* :class:`OcpiError`                   -> its ``http_status`` / ``status_code`` (a 5xx becomes 200);
* unknown path / method (and other HTTPException) -> that HTTP status, envelope 2000;
* anything else, wherever raised (route, dependency, middleware) -> logged with its
  traceback, answered **HTTP 200 with envelope 3000** "Internal error".  HTTP 200 is chosen
  because the OCPI envelope already carries the failure and R32 forbids HTTP 500; peers
  treat a 3xxx status as retryable server trouble.

Every response, including those error paths, echoes ``X-Request-ID`` and
``X-Correlation-ID`` (generated when the caller sent none), set by a pure ASGI middleware.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware
from starlette.responses import Response
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from borne.ocpi import status
from borne.ocpi.auth import require_party
from borne.ocpi.envelope import OcpiResponse, error_response
from borne.ocpi.errors import OcpiError
from borne.ocpi.headers import (
    CORRELATION_ID,
    REQUEST_ID,
    STATE_CORRELATION_ID,
    STATE_REQUEST_ID,
    new_id,
)
from borne.ocpi.pagination import DEFAULT_MAX_PAGE_LIMIT, STATE_MAX_PAGE_LIMIT
from borne.ocpi.party import PartyAuthenticator

log = logging.getLogger(__name__)

_MAX_VALIDATION_ERRORS = 5


class RequestIdMiddleware:
    """Echo/generate request and correlation ids on every response; last-resort 3000.

    Pure ASGI (no BaseHTTPMiddleware: that one buffers through an extra task per request).
    Being the outermost user middleware it also catches exceptions escaping FastAPI's own
    handlers, dependencies or inner middleware, so Starlette's 500 page is never reached.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope)
        rid = (incoming.get(REQUEST_ID) or "").strip() or new_id()
        cid = (incoming.get(CORRELATION_ID) or "").strip() or new_id()
        state = scope.setdefault("state", {})
        state[STATE_REQUEST_ID] = rid
        state[STATE_CORRELATION_ID] = cid
        started = False

        async def send_with_ids(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID] = rid
                headers[CORRELATION_ID] = cid
            await send(message)

        try:
            await self.app(scope, receive, send_with_ids)
        except Exception:
            log.exception(
                "OCPI request failed: %s %s (request id %s)",
                scope.get("method"),
                scope["path"],
                rid,
            )
            if started:
                raise  # too late for an envelope; the server closes the connection
            response = _internal_error()
            await response(scope, receive, send_with_ids)


def _internal_error() -> OcpiResponse:
    return error_response(status.SERVER_ERROR, "Internal error", http_status=200)


def _validation_message(exc: RequestValidationError) -> str:
    parts: list[str] = []
    errors = list(exc.errors())
    for err in errors[:_MAX_VALIDATION_ERRORS]:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else str(err.get("msg")))
    if len(errors) > _MAX_VALIDATION_ERRORS:
        parts.append(f"(+{len(errors) - _MAX_VALIDATION_ERRORS} more)")
    return "Invalid parameters: " + "; ".join(parts)


def _json_error(exc: RequestValidationError) -> str | None:
    """The decode error when the body was not JSON at all (None for content errors)."""
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            ctx = err.get("ctx") or {}
            loc = err.get("loc", ())
            where = f" at position {loc[-1]}" if len(loc) > 1 else ""
            return f"{ctx.get('error', 'malformed')}{where}"
    return None


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # FastAPI reads the body before the route's token dependency runs: a caller without a
    # valid token hears 401 whatever it sent (R28), never how its body was wrong.
    try:
        await require_party(request)
    except OcpiError as refused:
        return await _on_ocpi_error(request, refused)
    reason = _json_error(exc)
    if reason is not None:
        return error_response(status.CLIENT_ERROR, f"Invalid JSON body: {reason}", http_status=400)
    return error_response(status.INVALID_PARAMETERS, _validation_message(exc))


async def _on_ocpi_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, OcpiError)
    http_status = exc.http_status if exc.http_status < 500 else 200
    return error_response(exc.status_code, exc.message, http_status=http_status)


async def _on_http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code >= 500:
        return _internal_error()
    detail = exc.detail if isinstance(exc.detail, str) else "Client error"
    headers = dict(exc.headers) if exc.headers else None
    return error_response(status.CLIENT_ERROR, detail, http_status=exc.status_code, headers=headers)


async def _on_unexpected(_: Request, exc: Exception) -> Response:
    # Only reached if something bypasses RequestIdMiddleware; never a 500 either way.
    log.error("OCPI unexpected error", exc_info=exc)
    return _internal_error()


class _OcpiApp(FastAPI):
    """FastAPI whose RequestIdMiddleware stays the outermost user middleware.

    Starlette puts later ``add_middleware`` calls outside earlier ones; keeping ours
    outermost means the ids and the 3000 fallback also cover middleware added later.
    """

    def build_middleware_stack(self) -> ASGIApp:
        mine: object = RequestIdMiddleware
        others = [m for m in self.user_middleware if m.cls is not mine]
        self.user_middleware = [Middleware(RequestIdMiddleware), *others]
        return super().build_middleware_stack()


def create_ocpi_app(
    *,
    routers: Sequence[APIRouter],
    authenticator: PartyAuthenticator,
    max_page_limit: int = 100,
) -> FastAPI:
    """Build the OCPI sub-application; mount it at ``/ocpi`` of the operator app."""
    if max_page_limit < 1:
        raise ValueError("max_page_limit must be >= 1")
    app = _OcpiApp(
        title="Borne OCPI",
        default_response_class=OcpiResponse,
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
        # OCPI peers authenticate with a token header (no browser CSRF risk) and some omit
        # Content-Type: parse their bodies as JSON rather than rejecting valid requests.
        strict_content_type=False,
    )
    app.state.ocpi_authenticator = authenticator
    setattr(app.state, STATE_MAX_PAGE_LIMIT, max_page_limit or DEFAULT_MAX_PAGE_LIMIT)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(OcpiError, _on_ocpi_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
    for router in routers:
        app.include_router(router)
    return app


def ocpi_mount(path: str, app: ASGIApp) -> Mount:
    """Mount the OCPI app at ``path`` (e.g. ``/ocpi``) of the operator application.

    Starlette's ``Mount`` pattern ``^/ocpi/(?P<path>.*)$`` has no DOTALL, so an id carrying an
    encoded line break (``/locations/A%0AB``) would miss the mount and get the operator API's
    404 body without an envelope or request ids; this mount matches any character.
    """
    mount = Mount(path, app=app)
    mount.path_regex = re.compile(mount.path_regex.pattern, re.DOTALL)
    return mount


__all__: list[str] = ["RequestIdMiddleware", "create_ocpi_app", "ocpi_mount"]
