"""The OCPI outbox (R33): writing pushes, the sender's reads and writes, operator views.

A push is a row of ``ocpi_outbox`` written by ``enqueue`` in the caller's transaction (never
committed here), so it exists exactly when the change it announces does. ``OutboxSender``
(``borne.ocpi.sender``) delivers it later; every state lives in the row, so a restart of Borne
or an outage of the partner only delays delivery.

Ordering: rows of one ``(partner_id, key)`` are sent one at a time in ``id`` order; a row waits
while an older row of the same partner and key is ``pending`` (even one backing off). A
``failed`` row (given up, see the sender) does not block later rows: a newer push of the same
object carries newer state and supersedes it. Replaying a failed row puts it back in its
original place; if a newer row of its key was delivered meanwhile, the view says
``superseded`` so the operator knows a replay would send older state.

Functions take a session and never commit (the caller's unit of work does).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from borne.core.errors import Conflict, InvalidInput, NotFound
from borne.ocpi.client import dumps
from borne.ocpi.headers import Routing
from borne.ocpi.outbox_models import DELIVERED, FAILED, PENDING, STATUSES, OcpiOutboxRow

MAX_PAGE = 500
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


# --- what the sender needs from the roaming domain -------------------------------------------


@dataclass(frozen=True)
class ResolvedTarget:
    """Where and how to send: ``url`` is the partner's endpoint for the module and interface
    (None when the row carries its own absolute URL); the token is the partner's (token B)."""

    url: str | None
    token: str
    token_base64: bool
    routing: Routing | None = None


class EndpointResolver(Protocol):
    async def resolve(self, partner_id: int, module: str, interface: str) -> ResolvedTarget | None:
        """None: the partner is gone, unregistered, or has no such endpoint (row fails)."""
        ...


# --- writing ---------------------------------------------------------------------------------


async def enqueue(
    session: AsyncSession,
    *,
    partner_id: int,
    key: str,
    method: str,
    module: str,
    interface: str,
    path: str = "",
    url: str | None = None,
    body: Any = None,
    now: datetime,
    correlation_id: str | None = None,
) -> int:
    """Add a push in the caller's transaction; returns its id (the session is flushed).

    ``key`` orders pushes of one object (e.g. ``"sessions:NL/BRN/123"``). The target is either
    ``path`` under the partner's endpoint for ``module``/``interface`` (resolved at send time,
    so a credentials update moves pending pushes too) or an absolute ``url`` (command results).
    """
    method = method.upper()
    if method not in _METHODS:
        raise InvalidInput(f"unsupported HTTP method {method!r}")
    if not key:
        raise InvalidInput("an outbox key is required")
    row = OcpiOutboxRow(
        partner_id=partner_id,
        key=key,
        method=method,
        module=module,
        interface=interface.upper(),
        path=path,
        url=url,
        body=None if body is None else dumps(body).decode(),
        correlation_id=correlation_id or str(uuid.uuid4()),
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row.id


# --- the sender's side -----------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    """A claimed row; ``attempt`` counts this one (1 = first)."""

    id: int
    partner_id: int
    key: str
    method: str
    module: str
    interface: str
    path: str
    url: str | None
    body: str | None
    correlation_id: str
    attempt: int


@dataclass(frozen=True)
class Outcome:
    id: int
    at: datetime
    ok: bool
    http_status: int | None = None
    status_code: int | None = None
    error: str | None = None
    retry_at: datetime | None = None  # None on failure: give up (status failed)


def _blocked_by_older() -> Any:
    older = aliased(OcpiOutboxRow)
    return (
        exists()
        .where(
            older.partner_id == OcpiOutboxRow.partner_id,
            older.key == OcpiOutboxRow.key,
            older.status == PENDING,
            older.id < OcpiOutboxRow.id,
        )
        .correlate(OcpiOutboxRow)
    )


async def claim_due(
    session: AsyncSession, *, now: datetime, lease: timedelta, limit: int
) -> list[Due]:
    """Claim due rows, at most one per ``(partner_id, key)`` (the oldest pending one).

    A claim moves ``next_attempt_at`` past the lease and counts the attempt, so a concurrent
    sender (another node) skips the row, and a crash mid-send retries it once the lease ends.
    """
    rows = (
        await session.scalars(
            select(OcpiOutboxRow)
            .where(
                OcpiOutboxRow.status == PENDING,
                OcpiOutboxRow.next_attempt_at <= now,
                ~_blocked_by_older(),
            )
            .order_by(OcpiOutboxRow.next_attempt_at, OcpiOutboxRow.id)
            .limit(limit)
        )
    ).all()
    claimed: list[Due] = []
    for row in rows:
        result = await session.execute(
            update(OcpiOutboxRow)
            .where(
                OcpiOutboxRow.id == row.id,
                OcpiOutboxRow.status == PENDING,
                OcpiOutboxRow.next_attempt_at <= now,
            )
            .values(
                next_attempt_at=now + lease,
                attempts=OcpiOutboxRow.attempts + 1,
                last_attempt_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            continue  # another sender took it
        claimed.append(
            Due(
                id=row.id,
                partner_id=row.partner_id,
                key=row.key,
                method=row.method,
                module=row.module,
                interface=row.interface,
                path=row.path,
                url=row.url,
                body=row.body,
                correlation_id=row.correlation_id,
                attempt=row.attempts + 1,
            )
        )
    return claimed


async def record_outcomes(session: AsyncSession, outcomes: list[Outcome]) -> None:
    for o in outcomes:
        values: dict[str, Any] = {
            "last_http_status": o.http_status,
            "last_status_code": o.status_code,
            "last_error": None if o.error is None else o.error[:500],
        }
        if o.ok:
            values.update(status=DELIVERED, delivered_at=o.at)
        elif o.retry_at is None:
            values.update(status=FAILED)
        else:
            values.update(next_attempt_at=o.retry_at)
        await session.execute(
            update(OcpiOutboxRow)
            .where(OcpiOutboxRow.id == o.id, OcpiOutboxRow.status == PENDING)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


# --- operator views --------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryView:
    id: int
    partner_id: int
    key: str
    method: str
    module: str
    interface: str
    path: str
    url: str | None
    body: str | None
    status: str
    attempts: int
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_error: str | None
    last_http_status: int | None
    last_status_code: int | None
    created_at: datetime
    delivered_at: datetime | None
    superseded: bool  # failed, and a newer row of its key was delivered since


def _superseded() -> Any:
    newer = aliased(OcpiOutboxRow)
    return (
        exists()
        .where(
            newer.partner_id == OcpiOutboxRow.partner_id,
            newer.key == OcpiOutboxRow.key,
            newer.status == DELIVERED,
            newer.id > OcpiOutboxRow.id,
        )
        .correlate(OcpiOutboxRow)
    )


def _view(row: OcpiOutboxRow, superseded: bool) -> DeliveryView:
    return DeliveryView(
        id=row.id,
        partner_id=row.partner_id,
        key=row.key,
        method=row.method,
        module=row.module,
        interface=row.interface,
        path=row.path,
        url=row.url,
        body=row.body,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_attempt_at=row.last_attempt_at,
        last_error=row.last_error,
        last_http_status=row.last_http_status,
        last_status_code=row.last_status_code,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
        superseded=row.status == FAILED and superseded,
    )


def _check_status(status: str | None) -> None:
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"unknown delivery status {status!r}", details={"allowed": STATUSES})


async def list_deliveries(
    session: AsyncSession,
    *,
    status: str | None = None,
    partner_id: int | None = None,
    offset: int = 0,
    limit: int = 50,
) -> list[DeliveryView]:
    """Deliveries, newest first, optionally of one status and/or partner."""
    _check_status(status)
    if offset < 0 or not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"offset must be >= 0 and limit within 1..{MAX_PAGE}")
    stmt = select(OcpiOutboxRow, _superseded().label("superseded"))
    if status is not None:
        stmt = stmt.where(OcpiOutboxRow.status == status)
    if partner_id is not None:
        stmt = stmt.where(OcpiOutboxRow.partner_id == partner_id)
    stmt = stmt.order_by(OcpiOutboxRow.id.desc()).offset(offset).limit(limit)
    return [_view(row, bool(sup)) for row, sup in await session.execute(stmt)]


async def get_delivery(session: AsyncSession, delivery_id: int) -> DeliveryView:
    row = (
        await session.execute(
            select(OcpiOutboxRow, _superseded().label("superseded")).where(
                OcpiOutboxRow.id == delivery_id
            )
        )
    ).first()
    if row is None:
        raise NotFound(f"OCPI delivery {delivery_id} not found")
    return _view(row[0], bool(row[1]))


async def replay(session: AsyncSession, delivery_id: int, now: datetime) -> DeliveryView:
    """Put a failed delivery back in the queue (attempts reset, due now). Conflict otherwise,
    and for a superseded one: a newer state of the same object was delivered since, and
    sending the old one now would overwrite it at the partner."""
    current = await get_delivery(session, delivery_id)  # NotFound if absent
    if current.superseded:
        raise Conflict(
            f"OCPI delivery {delivery_id} is superseded: a newer state of {current.key} was "
            "delivered since"
        )
    result = await session.execute(
        update(OcpiOutboxRow)
        .where(OcpiOutboxRow.id == delivery_id, OcpiOutboxRow.status == FAILED)
        .values(status=PENDING, attempts=0, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        current = await get_delivery(session, delivery_id)
        raise Conflict(f"OCPI delivery {delivery_id} is {current.status}, only failed replays")
    return await get_delivery(session, delivery_id)


async def count_by_status(
    session: AsyncSession, *, partner_id: int | None = None
) -> dict[str, int]:
    """``{"pending": n, "delivered": n, "failed": n}`` for monitoring."""
    stmt = select(OcpiOutboxRow.status, func.count()).group_by(OcpiOutboxRow.status)
    if partner_id is not None:
        stmt = stmt.where(OcpiOutboxRow.partner_id == partner_id)
    counts = dict.fromkeys(STATUSES, 0)
    for status, n in await session.execute(stmt):
        counts[status] = n
    return counts


async def purge_delivered(session: AsyncSession, *, before: datetime) -> int:
    """Delete rows delivered before ``before`` (retention); returns how many."""
    result = await session.execute(
        delete(OcpiOutboxRow).where(
            OcpiOutboxRow.status == DELIVERED, OcpiOutboxRow.delivered_at < before
        )
    )
    return int(getattr(result, "rowcount", 0))
