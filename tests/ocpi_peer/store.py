"""The eMSP peer's in-memory state: what it received, what it sent, what looked wrong."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Json = Any
#: (country_code, party_id, object id): the identity of an OCPI object of a party.
ObjectKey = tuple[str, str, str]


def ocpi_now() -> str:
    """Current time as an OCPI DateTime (UTC, ``Z``, whole seconds)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def canonical(obj: Json) -> str:
    """A stable text form of a JSON value, to compare bodies."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


@dataclass
class RecordedRequest:
    """One HTTP request Borne made to the peer (and what the peer answered)."""

    method: str
    path: str  # as received (before slash normalisation)
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: Json  # parsed JSON, or the raw text when it is not JSON, or None
    received_at: datetime
    module: str = ""  # versions, credentials, locations, … ("" when unrouted)
    http_status: int | None = None
    ocpi_status: int | None = None


@dataclass
class Violation:
    """Something Borne did that the specification (or the peer's strict reading of it) forbids."""

    where: str  # e.g. "PUT /ocpi/emsp/2.2.1/sessions/NL/BRN/42" or "pull locations"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class AuthorizeRule:
    """How the peer answers ``POST tokens/{uid}/authorize`` for one token uid.

    ``allowed``: an AllowedType (ALLOWED, BLOCKED, EXPIRED, NO_CREDIT, NOT_ALLOWED).
    ``delay``: seconds to wait before answering. ``hang``: never answer (until the peer stops).
    """

    allowed: str = "ALLOWED"
    authorization_reference: str | None = None
    delay: float = 0.0
    hang: bool = False
    info: str | None = None
    location: Json = None  # LocationReferences to return, if any


@dataclass
class AuthorizeRequest:
    uid: str
    token_type: str
    body: Json
    answered_allowed: str | None  # None: answered "unknown token" (or not at all)


@dataclass
class CommandRecord:
    """One command the peer sent to Borne, with its synchronous response and async result."""

    uid: str
    command: str  # START_SESSION, STOP_SESSION, …
    request: Json
    http_status: int | None = None
    ocpi_status: int | None = None
    response: Json = None  # CommandResponse (data of the envelope)
    results: list[Json] = field(default_factory=list)  # every CommandResult POSTed to us
    result_event: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def result(self) -> Json:
        """The first CommandResult received, or None."""
        return self.results[0] if self.results else None


@dataclass
class PageInfo:
    url: str
    http_status: int
    ocpi_status: int | None
    count: int
    total_count: int | None
    limit: int | None
    next_url: str | None


@dataclass
class PullReport:
    """What a paginated pull saw, page by page."""

    module: str
    pages: list[PageInfo] = field(default_factory=list)
    items: list[Json] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # ids returned more than once

    @property
    def oldest_first(self) -> bool:
        stamps = [str(i.get("last_updated", "")) for i in self.items if isinstance(i, dict)]
        return stamps == sorted(stamps)


@dataclass
class ReceivedObjects:
    """Objects of one module that Borne pushed to the peer (locations, tariffs, sessions, cdrs).

    ``current`` holds the merged state per object; ``history`` every body received for it, in
    order; ``duplicates`` how many times an identical body arrived again; ``stale`` how many
    PATCH/PUT bodies were older than the stored ``last_updated`` (ignored).
    """

    current: dict[ObjectKey, Json] = field(default_factory=dict)
    history: dict[ObjectKey, list[Json]] = field(default_factory=dict)
    duplicates: dict[ObjectKey, int] = field(default_factory=dict)
    stale: dict[ObjectKey, int] = field(default_factory=dict)
    deleted: list[ObjectKey] = field(default_factory=list)

    def remember(self, key: ObjectKey, body: Json) -> bool:
        """Add ``body`` to the history; False (and a duplicate counted) if seen before."""
        seen = self.history.setdefault(key, [])
        text = canonical(body)
        if any(canonical(b) == text for b in seen):
            self.duplicates[key] = self.duplicates.get(key, 0) + 1
            seen.append(body)
            return False
        seen.append(body)
        return True

    def total_duplicates(self) -> int:
        return sum(self.duplicates.values())

    def by_id(self, object_id: str) -> Json:
        """The current object with this id (any party), or None."""
        for (_, _, oid), obj in self.current.items():
            if oid == object_id:
                return obj
        return None

    def history_of(self, object_id: str) -> list[Json]:
        for (_, _, oid), bodies in self.history.items():
            if oid == object_id:
                return bodies
        return []
