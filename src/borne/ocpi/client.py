"""Outbound OCPI calls: headers, envelope parsing, error classification, pagination.

Every call sends ``Authorization: Token …`` (base64 or raw, as the partner expects), a fresh
``X-Request-ID``, an ``X-Correlation-ID`` (the caller's, or a new one) and the routing headers
when given. Anything but HTTP 2xx with an envelope whose ``status_code`` is 1xxx raises
``OcpiClientError``; its message never contains the token.

JSON is Decimal-safe both ways: ``Decimal`` values are written as JSON numbers (integral ones
as integers) and numbers with a fraction are read back as ``Decimal``, so prices and energy do
not pick up binary-float noise on their way through Borne.
"""

from __future__ import annotations

import json as _json
import re
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
import orjson

from borne.ocpi.auth import authorization_header
from borne.ocpi.headers import Routing

REQUEST_ID = "X-Request-ID"
CORRELATION_ID = "X-Correlation-ID"
USER_AGENT = "Borne-OCPI/1"
# A Link chain longer than this is a loop on the partner's side, not data.
MAX_PAGES = 100_000
_LINK = re.compile(r"<([^>]*)>([^<]*)")


class OcpiClientError(Exception):
    """An outbound OCPI call failed.

    ``status_http``: the HTTP status (None: no answer); ``status_code``: the OCPI status code
    of the envelope (None: none could be read). ``retryable``: whether trying again later may
    succeed (network, timeout, HTTP 401/408/425/429/5xx, OCPI 3xxx/4xxx); False for answers that
    reject the request itself (other HTTP 4xx, OCPI 2xxx, a 2xx body that is not an envelope).
    """

    def __init__(
        self,
        message: str,
        *,
        status_http: int | None = None,
        status_code: int | None = None,
        retryable: bool = True,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_http = status_http
        self.status_code = status_code
        self.retryable = retryable


@dataclass(frozen=True)
class OcpiReply:
    http_status: int
    status_code: int
    data: Any
    headers: Mapping[str, str]
    status_message: str | None = None


@dataclass(frozen=True)
class Endpoint:
    identifier: str
    role: str  # SENDER | RECEIVER ("" from a 2.1.1 peer, which has no roles)
    url: str


def dumps(value: Any) -> bytes:
    """The JSON Borne sends: Decimal as numbers, datetimes as UTC ``…Z`` strings."""
    return orjson.dumps(value, default=_default, option=orjson.OPT_PASSTHROUGH_DATETIME)


def loads(content: bytes | str) -> Any:
    """Parse JSON, numbers with a fraction or exponent as ``Decimal``."""
    return _json.loads(content, parse_float=Decimal)


def _default(value: object) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError("a non-finite Decimal has no JSON form")
        if value == value.to_integral_value() and abs(value) < 2**63:
            return int(value)
        # float() of an OCPI number (≤ 15 significant digits) prints back to the same digits.
        return float(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TypeError("naive datetime in an OCPI body")
        text = value.astimezone(UTC).isoformat()
        return text.removesuffix("+00:00") + "Z"
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _safe_url(url: str) -> str:
    """The URL for messages and logs: no user info, no query (either may carry secrets)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _retryable_http(status: int) -> bool:
    # 401: the partner may be rotating credentials; 425/429: come back later.
    return status >= 500 or status in (401, 408, 425, 429)


class OcpiClient:
    def __init__(self, http: httpx.AsyncClient | None = None, *, timeout_s: float = 10.0) -> None:
        self.timeout_s = timeout_s
        self._own = http is None
        self._http = http or httpx.AsyncClient(
            timeout=timeout_s, follow_redirects=False, headers={"User-Agent": USER_AGENT}
        )

    async def aclose(self) -> None:
        if self._own:
            await self._http.aclose()

    async def request(
        self,
        method: str,
        url: str,
        *,
        token: str,
        token_base64: bool = True,
        json: Any = None,
        content: bytes | None = None,
        params: Mapping[str, str] | None = None,
        routing: Routing | None = None,
        correlation_id: str | None = None,
    ) -> OcpiReply:
        """One call. ``content`` is an already encoded JSON body (used instead of ``json``)."""
        method = method.upper()
        where = f"{method} {_safe_url(url)}"
        headers = {
            "Authorization": authorization_header(token, base64=token_base64),
            REQUEST_ID: str(uuid.uuid4()),
            CORRELATION_ID: correlation_id or str(uuid.uuid4()),
            "Accept": "application/json",
        }
        if routing is not None:
            headers.update(routing.as_headers())
        body = content if content is not None else (None if json is None else dumps(json))
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = await self._http.request(
                method,
                url,
                content=body,
                params=dict(params) if params else None,
                headers=headers,
                timeout=self.timeout_s,
            )
        except httpx.TimeoutException as exc:
            raise OcpiClientError(f"{where}: no answer within {self.timeout_s:g}s") from exc
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise OcpiClientError(f"{where}: invalid URL", retryable=False) from exc
        except httpx.HTTPError as exc:
            # The exception text names the failure (refused, DNS, TLS); it never holds headers.
            reason = str(exc) or type(exc).__name__
            raise OcpiClientError(f"{where}: {type(exc).__name__}: {reason}"[:500]) from exc
        return self._parse(where, response)

    def _parse(self, where: str, response: httpx.Response) -> OcpiReply:
        status = response.status_code
        envelope = _envelope(response.content)
        code = envelope[0] if envelope else None
        text = envelope[1] if envelope else None
        if not 200 <= status < 300:
            detail = f" (OCPI {code}: {text})" if code is not None else ""
            raise OcpiClientError(
                f"{where}: HTTP {status}{detail}"[:500],
                status_http=status,
                status_code=code,
                retryable=_retryable_http(status),
            )
        if envelope is None:
            raise OcpiClientError(
                f"{where}: HTTP {status} but the body is not an OCPI envelope",
                status_http=status,
                retryable=False,
            )
        code, text, data = envelope
        if not 1000 <= code <= 1999:
            raise OcpiClientError(
                f"{where}: OCPI status {code}: {text or 'no message'}"[:500],
                status_http=status,
                status_code=code,
                retryable=not 2000 <= code <= 2999,
            )
        return OcpiReply(status, code, data, response.headers, text)

    async def fetch_versions(
        self, url: str, *, token: str, token_base64: bool = True
    ) -> list[tuple[str, str]]:
        """The partner's versions endpoint: [(version, version details URL), …]."""
        reply = await self.request("GET", url, token=token, token_base64=token_base64)
        data = reply.data
        if not isinstance(data, list):
            raise OcpiClientError(f"GET {_safe_url(url)}: versions data is not a list")
        out: list[tuple[str, str]] = []
        for item in data:
            if not isinstance(item, dict):
                raise OcpiClientError(f"GET {_safe_url(url)}: malformed version entry")
            version, link = item.get("version"), item.get("url")
            if not isinstance(version, str) or not isinstance(link, str):
                raise OcpiClientError(f"GET {_safe_url(url)}: version entry without version/url")
            out.append((version, link))
        return out

    async def fetch_endpoints(
        self, url: str, *, token: str, token_base64: bool = True
    ) -> list[Endpoint]:
        """A version details endpoint: the partner's module endpoints."""
        reply = await self.request("GET", url, token=token, token_base64=token_base64)
        data = reply.data
        endpoints = data.get("endpoints") if isinstance(data, dict) else None
        if not isinstance(endpoints, list):
            raise OcpiClientError(f"GET {_safe_url(url)}: version details without endpoints")
        out: list[Endpoint] = []
        for item in endpoints:
            if not isinstance(item, dict):
                raise OcpiClientError(f"GET {_safe_url(url)}: malformed endpoint entry")
            ident, role, link = item.get("identifier"), item.get("role", ""), item.get("url")
            if not isinstance(ident, str) or not isinstance(link, str) or not isinstance(role, str):
                raise OcpiClientError(f"GET {_safe_url(url)}: endpoint without identifier/url")
            out.append(Endpoint(ident, role.upper(), link))
        return out

    async def iterate(
        self,
        url: str,
        *,
        token: str,
        token_base64: bool = True,
        params: Mapping[str, str] | None = None,
        routing: Routing | None = None,
        correlation_id: str | None = None,
    ) -> AsyncIterator[Any]:
        """Every object of a paginated GET, following ``Link: <…>; rel="next"``.

        ``params`` go on the first request only: the next link carries them (R31). One
        correlation id spans the whole crawl.
        """
        correlation_id = correlation_id or str(uuid.uuid4())
        next_url: str | None = url
        seen: set[str] = set()
        first = True
        while next_url is not None:
            if next_url in seen or len(seen) >= MAX_PAGES:
                raise OcpiClientError(f"GET {_safe_url(url)}: pagination does not end")
            seen.add(next_url)
            reply = await self.request(
                "GET",
                next_url,
                token=token,
                token_base64=token_base64,
                params=params if first else None,
                routing=routing,
                correlation_id=correlation_id,
            )
            if not isinstance(reply.data, list):
                raise OcpiClientError(f"GET {_safe_url(next_url)}: page data is not a list")
            for item in reply.data:
                yield item
            link = _next_link(reply.headers.get("link"))
            next_url = urljoin(next_url, link) if link else None
            first = False


def _envelope(content: bytes) -> tuple[int, str | None, Any] | None:
    """(status_code, status_message, data) of an OCPI envelope, None if the body is not one."""
    try:
        body = loads(content)
    except (ValueError, RecursionError):
        return None
    if not isinstance(body, dict):
        return None
    code = body.get("status_code")
    if not isinstance(code, int) or isinstance(code, bool):
        return None
    message = body.get("status_message")
    return code, message if isinstance(message, str) else None, body.get("data")


def _next_link(header: str | None) -> str | None:
    """The target of ``rel="next"`` in a Link header (a URL may itself hold commas)."""
    if not header:
        return None
    for match in _LINK.finditer(header):
        for param in match.group(2).split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "rel" and "next" in value.strip().strip('"').split():
                return match.group(1).strip()
    return None
