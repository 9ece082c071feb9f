"""The peer's HTTP client side: OCPI requests to Borne, with strict checks of every answer."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from .schemas import SchemaLibrary, is_ocpi_datetime
from .store import Json, PageInfo, PullReport, Violation

#: Modules whose requests must not carry routing headers (OCPI 2.2.1 §4.1.4).
CONFIGURATION_MODULES = frozenset({"versions", "credentials", "hubclientinfo"})

_LINK_RE = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")


def encode_token(token: str, raw: bool = False) -> str:
    """The ``Authorization`` header value for a credentials token (base64 unless ``raw``)."""
    if raw:
        return f"Token {token}"
    return "Token " + base64.b64encode(token.encode()).decode()


def next_link(header: str | None) -> str | None:
    """The ``rel="next"`` URL of a ``Link`` header, or None."""
    if not header:
        return None
    for match in _LINK_RE.finditer(header):
        url, params = match.group(1), match.group(2)
        if re.search(r'rel\s*=\s*"?next"?', params):
            return url
    return None


@dataclass
class OcpiResponse:
    http_status: int
    headers: httpx.Headers
    envelope: Json  # the parsed body (None when not JSON)
    request_id: str
    correlation_id: str

    @property
    def status_code(self) -> int | None:
        if isinstance(self.envelope, dict):
            code = self.envelope.get("status_code")
            return code if isinstance(code, int) else None
        return None

    @property
    def data(self) -> Json:
        return self.envelope.get("data") if isinstance(self.envelope, dict) else None

    @property
    def ok(self) -> bool:
        return self.http_status == 200 and self.status_code == 1000


class OcpiError(Exception):
    """An OCPI call that did not succeed (HTTP or OCPI status)."""

    def __init__(self, what: str, response: OcpiResponse) -> None:
        super().__init__(
            f"{what}: HTTP {response.http_status}, OCPI {response.status_code}, "
            f"{response.envelope!r}"
        )
        self.response = response


class OcpiClient:
    """Sends OCPI requests as the eMSP and records every deviation of Borne's answers."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        schemas: SchemaLibrary,
        violations: list[Violation],
        *,
        own_party: tuple[str, str],
        raw_token: bool = False,
    ) -> None:
        self.http = http
        self.schemas = schemas
        self.violations = violations
        self.own_party = own_party
        self.raw_token = raw_token
        #: (country_code, party_id) of the CPO, for OCPI-to-* routing headers; None: not sent.
        self.to_party: tuple[str, str] | None = None
        self.send_routing_headers = True

    def violation(self, where: str, message: str) -> None:
        self.violations.append(Violation(where, message))

    async def request(
        self,
        method: str,
        url: str,
        *,
        token: str,
        module: str,
        json_body: Json = None,
        params: dict[str, str] | None = None,
        correlation_id: str | None = None,
    ) -> OcpiResponse:
        request_id = str(uuid.uuid4())
        correlation_id = correlation_id or str(uuid.uuid4())
        headers = {
            "Authorization": encode_token(token, self.raw_token),
            "X-Request-ID": request_id,
            "X-Correlation-ID": correlation_id,
        }
        if module not in CONFIGURATION_MODULES and self.send_routing_headers:
            headers["OCPI-from-country-code"], headers["OCPI-from-party-id"] = self.own_party
            if self.to_party is not None:
                headers["OCPI-to-country-code"], headers["OCPI-to-party-id"] = self.to_party
        content = None if json_body is None else json.dumps(json_body).encode()
        if content is not None:
            headers["Content-Type"] = "application/json"
        response = await self.http.request(
            method, url, headers=headers, content=content, params=params
        )
        try:
            envelope: Json = response.json()
        except ValueError:
            envelope = None
        result = OcpiResponse(
            response.status_code, response.headers, envelope, request_id, correlation_id
        )
        self._check_response(f"{method} {url}", result)
        return result

    def _check_response(self, where: str, r: OcpiResponse) -> None:
        if r.http_status >= 500:
            self.violation(where, f"HTTP {r.http_status} (nothing should answer 5xx)")
        if r.headers.get("X-Request-ID") != r.request_id:
            self.violation(where, "response does not echo X-Request-ID")
        if r.headers.get("X-Correlation-ID") != r.correlation_id:
            self.violation(where, "response does not echo X-Correlation-ID")
        if r.envelope is None:
            if r.http_status != 401:
                self.violation(where, f"HTTP {r.http_status} body is not JSON")
            return
        if not isinstance(r.envelope, dict):
            self.violation(where, "body is not an OCPI response object")
            return
        if not isinstance(r.envelope.get("status_code"), int):
            self.violation(where, "envelope without integer status_code")
        stamp = r.envelope.get("timestamp")
        if not isinstance(stamp, str) or not is_ocpi_datetime(stamp):
            self.violation(where, f"envelope timestamp {stamp!r} is not an OCPI DateTime")
        code = r.status_code
        if code == 2004 and r.envelope.get("data") is not None:
            self.violation(where, "status 2004 with a data field (spec: no data field)")

    def check(self, where: str, version: str, module: str, name: str, obj: Json) -> bool:
        """Validate ``obj`` against the schema; record and return False when invalid."""
        errors = self.schemas.validate(version, module, name, obj)
        for error in errors:
            self.violation(where, error)
        return not errors

    async def pull(
        self,
        url: str,
        *,
        token: str,
        module: str,
        version: str,
        schema_module: str,
        schema_name: str,
        params: dict[str, str] | None = None,
        id_of: Callable[[Json], str] | None = None,
        max_pages: int = 10_000,
    ) -> PullReport:
        """GET a paginated list and follow ``Link: <…>; rel="next"`` to the end."""
        report = PullReport(module=module)
        seen: set[str] = set()
        filters = {k: v for k, v in (params or {}).items() if k in ("date_from", "date_to")}
        next_url: str | None = url
        next_params = params
        first_total: int | None = None
        while next_url is not None:
            if len(report.pages) >= max_pages:
                self.violation(f"pull {module}", f"more than {max_pages} pages")
                break
            where = f"pull {module} {next_url}"
            r = await self.request("GET", next_url, token=token, module=module, params=next_params)
            next_params = None  # the Link URL carries every parameter
            if not r.ok:
                raise OcpiError(where, r)
            data = r.data
            if not isinstance(data, list):
                self.violation(where, "data is not a list")
                data = []
            total = _int_header(r.headers.get("X-Total-Count"))
            limit = _int_header(r.headers.get("X-Limit"))
            if total is None:
                self.violation(where, "missing or non-integer X-Total-Count")
            if limit is None:
                self.violation(where, "missing or non-integer X-Limit")
            elif len(data) > limit:
                self.violation(where, f"{len(data)} objects but X-Limit {limit}")
            if first_total is None:
                first_total = total
            link = next_link(r.headers.get("Link"))
            report.pages.append(
                PageInfo(next_url, r.http_status, r.status_code, len(data), total, limit, link)
            )
            for item in data:
                self.check(where, version, schema_module, schema_name, item)
                report.items.append(item)
                if id_of is not None and isinstance(item, dict):
                    oid = id_of(item)
                    if oid in seen:
                        report.duplicates.append(oid)
                        self.violation(where, f"object {oid} returned twice in one crawl")
                    seen.add(oid)
            if link is not None:
                query = parse_qs(urlsplit(link).query)
                for k, v in filters.items():
                    if query.get(k) != [v]:
                        self.violation(where, f"Link {link} does not carry {k}={v}")
                if not data:
                    self.violation(where, "empty page with a next Link")
                    break
            next_url = link
        return report


def _int_header(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def join_url(base: str, *parts: str) -> str:
    """``base`` + ``/part/part`` without doubled slashes (endpoint URLs may end with ``/``)."""
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])


def any_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
