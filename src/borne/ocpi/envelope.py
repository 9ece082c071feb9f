"""The OCPI response envelope, DateTime formatting and a permissive base model."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from borne.ocpi import status


def ocpi_datetime(dt: datetime) -> str:
    """Format as OCPI DateTime: UTC, second precision, 'Z' suffix.

    Naive datetimes are taken as UTC (Borne stores UTC everywhere).
    """
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ocpi_datetime(value: str) -> datetime:
    """Parse an OCPI DateTime (with or without fraction/offset; no offset means UTC).

    Raises ``ValueError`` when the text is not a date-time.
    """
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def envelope(
    data: Any = None, *, status_code: int = status.SUCCESS, message: str = "Success"
) -> dict[str, Any]:
    return {
        "data": data,
        "status_code": status_code,
        "status_message": message,
        "timestamp": ocpi_datetime(datetime.now(UTC)),
    }


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        # Money/energy: emit the exact decimal text as a JSON number (never via float).
        if not obj.is_finite():
            raise TypeError(f"non-finite decimal: {obj}")
        return orjson.Fragment(format(obj, "f").encode("ascii"))
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


class OcpiResponse(JSONResponse):
    """JSON response rendered with orjson; datetimes become OCPI DateTimes."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(_prepare(content), default=_default)


def _prepare(value: Any) -> Any:
    # orjson would emit "+00:00" and microseconds: OCPI wants "...Z".
    if isinstance(value, datetime):
        return ocpi_datetime(value)
    if isinstance(value, dict):
        return {k: _prepare(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_prepare(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _prepare(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, BaseModel):
        # Absent optional fields are omitted rather than sent as null.
        return _prepare(value.model_dump(mode="python", by_alias=True, exclude_none=True))
    return value


def ok(data: Any = None, *, headers: Mapping[str, str] | None = None) -> OcpiResponse:
    return OcpiResponse(envelope(data), headers=dict(headers) if headers else None)


def error_response(
    status_code: int,
    message: str,
    *,
    http_status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> OcpiResponse:
    return OcpiResponse(
        envelope(None, status_code=status_code, message=message),
        status_code=http_status,
        headers=dict(headers) if headers else None,
    )


class OcpiModel(BaseModel):
    """Base for request/response bodies: unknown fields are kept (OCPI 2.3.0 forward compat)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
