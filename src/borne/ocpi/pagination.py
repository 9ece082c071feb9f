"""Pagination of OCPI GET list endpoints (offset/limit, date_from/date_to windows).

Convention for every module: order by ``last_updated`` then a stable id, ascending;
``date_from`` is inclusive and ``date_to`` exclusive so consecutive windows tile (R31).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request

from borne.ocpi.envelope import OcpiResponse, ok, parse_ocpi_datetime
from borne.ocpi.errors import InvalidParameters

DEFAULT_MAX_PAGE_LIMIT = 100
#: Databases take 64-bit offsets: a larger one (valid per OCPI, the integer is unbounded)
#: is past every object anyway, so it is clamped rather than sent as a failing query.
MAX_OFFSET = 2**63 - 1
STATE_MAX_PAGE_LIMIT = "ocpi_max_page_limit"


@dataclass(frozen=True)
class PageParams:
    offset: int
    limit: int
    date_from: datetime | None
    date_to: datetime | None

    def in_window(self, last_updated: datetime) -> bool:
        """True when ``last_updated`` is in [date_from, date_to)."""
        if last_updated.tzinfo is None:  # naive values are UTC throughout Borne
            last_updated = last_updated.replace(tzinfo=UTC)
        if self.date_from is not None and last_updated < self.date_from:
            return False
        return not (self.date_to is not None and last_updated >= self.date_to)


def max_page_limit(request: Request) -> int:
    value = getattr(request.app.state, STATE_MAX_PAGE_LIMIT, DEFAULT_MAX_PAGE_LIMIT)
    return int(value) if isinstance(value, int) and value >= 1 else DEFAULT_MAX_PAGE_LIMIT


def _int_param(request: Request, name: str, *, minimum: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        raise InvalidParameters(f"{name}: not an integer: {raw!r}") from None
    if value < minimum:
        raise InvalidParameters(f"{name}: must be >= {minimum}, got {value}")
    return value


def _dt_param(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return parse_ocpi_datetime(raw)
    except ValueError:
        raise InvalidParameters(f"{name}: not an OCPI DateTime: {raw!r}") from None


def page_params(request: Request) -> PageParams:
    """FastAPI dependency: validated paging/window parameters (InvalidParameters if bad)."""
    cap = max_page_limit(request)
    offset = min(_int_param(request, "offset", minimum=0) or 0, MAX_OFFSET)
    limit = _int_param(request, "limit", minimum=1)
    return PageParams(
        offset=offset,
        limit=cap if limit is None else min(limit, cap),
        date_from=_dt_param(request, "date_from"),
        date_to=_dt_param(request, "date_to"),
    )


def next_page_url(request: Request, params: PageParams) -> str:
    """This request's URL with every query parameter kept and ``offset`` moved on."""
    return _next_url(request, params.offset + params.limit, params.limit)


def _next_url(request: Request, offset: int, limit: int) -> str:
    # Repeated parameters are kept in order; offset/limit replaced (limit = effective one).
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in {"offset", "limit"}]
    kept += [("offset", str(offset)), ("limit", str(limit))]
    return str(request.url.replace(query=urlencode(kept)))


def paginated(request: Request, params: PageParams, items: list[Any], total: int) -> OcpiResponse:
    """Envelope with ``data=items`` plus X-Total-Count, X-Limit and Link when more exist."""
    headers = {"X-Total-Count": str(total), "X-Limit": str(params.limit)}
    # Next offset follows what was actually returned, so a short page never skips items.
    next_offset = params.offset + len(items)
    if items and next_offset < total:
        headers["Link"] = f'<{_next_url(request, next_offset, params.limit)}>; rel="next"'
    return ok(items, headers=headers)


Page = Annotated[PageParams, Depends(page_params)]
