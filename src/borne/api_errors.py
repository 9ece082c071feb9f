"""Every operator API error is JSON (R35): ``{"error": {"code", "message", "details"}}``.

- ``BorneError`` subclasses → their ``http_status`` and ``code`` (a station's CALLERROR → 502
  with the station's error code and description in ``details``);
- request validation → 422 ``validation_error`` with the failing field locations; a body that
  is not JSON at all → 400 ``malformed_json``;
- unknown routes and other HTTP errors → their status, JSON as well;
- anything unexpected → 500 ``internal_error`` with a generic message; the traceback goes to the
  log, never to the client.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from borne.api_context import ApiContext
from borne.api_security import check_api_key
from borne.core.errors import BorneError, StationCallError

logger = logging.getLogger("borne.api")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorOut(BaseModel):
    """The body of every error answer, for the OpenAPI document."""

    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route or router: the listed statuses answer with ``ErrorOut``."""
    return {status: {"model": ErrorOut} for status in statuses}


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return JSONResponse(body, status_code=status, headers=headers)


async def _borne_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BorneError)
    details = dict(exc.details)
    if isinstance(exc, StationCallError):
        details = {"error_code": exc.error_code, "description": exc.description}
        if exc.details:
            details["error_details"] = exc.details
    headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
    return error_response(exc.http_status, exc.code, exc.message, details, headers)


def _location(loc: Any) -> list[str | int]:
    return [p if isinstance(p, int) else str(p) for p in loc]


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        # FastAPI parses the body before dependencies run: check the key before answering.
        context: ApiContext | None = getattr(request.app.state, "context", None)
        if context is not None and request.url.path.startswith("/api/"):
            try:
                check_api_key(request.headers, context.api_keys)
            except BorneError as auth_error:
                return await _borne_error(request, auth_error)
        first = next(e for e in errors if e.get("type") == "json_invalid")
        ctx = first.get("ctx") or {}
        return error_response(
            400,
            "malformed_json",
            "the request body is not valid JSON",
            {"loc": _location(first.get("loc", ())), "reason": str(ctx.get("error", ""))},
        )
    return error_response(
        422,
        "validation_error",
        "the request is invalid",
        {
            "errors": [
                {
                    "loc": _location(e.get("loc", ())),
                    "message": str(e.get("msg", "")),
                    "type": str(e.get("type", "")),
                }
                for e in errors
            ]
        },
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    try:
        phrase = HTTPStatus(exc.status_code).phrase
    except ValueError:
        phrase = "HTTP error"
    message = exc.detail if isinstance(exc.detail, str) and exc.detail else phrase
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    headers = dict(exc.headers) if exc.headers else None
    if exc.status_code == 404 and message == phrase:
        message = f"no such resource: {request.method} {request.url.path}"
    return error_response(exc.status_code, code, message, None, headers)


class CatchAllMiddleware:
    """Turns an unexpected exception into a logged 500 JSON error (no stack trace leaks)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            logger.exception(
                "unhandled error in %s %s", scope.get("method", "?"), scope.get("path", "?")
            )
            if started:  # too late for a clean answer: let the server drop the connection
                raise
            response = error_response(500, "internal_error", "internal server error")
            await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(BorneError, _borne_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(CatchAllMiddleware)
