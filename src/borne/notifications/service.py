"""Notifications use cases: subscriptions, writing to the outbox, the sender's reads and writes.

Functions take a unit of work (anything with a session and ``add_event``) and never commit.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from borne.core.errors import InvalidInput, NotFound
from borne.notifications.events import SubscriptionsChanged
from borne.notifications.models import (
    DEAD,
    DELIVERED,
    PENDING,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)

SESSION_STARTED = "session.started"
SOC_THRESHOLD = "session.soc_threshold"
CHARGING_FINISHED = "session.charging_finished"
SESSION_ENDED = "session.ended"
EVENT_TYPES = (SESSION_STARTED, SOC_THRESHOLD, CHARGING_FINISHED, SESSION_ENDED)
DEFAULT_SOC_THRESHOLD = 80
MAX_PAGE = 500
# Event ids are UUIDs derived from what the event is about: the same event, the same id.
_EVENT_NS = uuid.UUID("6f0f8a52-2b0c-4d47-9a4e-0c1f3f3c7b6e")


class Unit(Protocol):
    @property
    def session(self) -> AsyncSession: ...

    def add_event(self, event: object) -> None: ...


def event_id(event_type: str, transaction_pk: int, discriminator: str = "") -> str:
    """The stable id of a session event (``discriminator``: the SoC threshold)."""
    return str(uuid.uuid5(_EVENT_NS, f"{event_type}/{transaction_pk}/{discriminator}"))


def encode_body(event_id: str, event_type: str, created_at: datetime, data: Any) -> str:
    """The JSON body sent at every attempt: ``{"id", "type", "created_at", "data"}``."""
    body = {
        "id": event_id,
        "type": event_type,
        "created_at": created_at.isoformat().replace("+00:00", "Z"),
        "data": data,
    }
    return orjson.dumps(body, default=_json_default).decode()


def _json_default(value: object) -> str:
    if isinstance(value, Decimal):  # positional: PostgreSQL hands 20000 back as 2E+4
        return format(value, "f")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# --- subscriptions --------------------------------------------------------------------------


@dataclass(frozen=True)
class Subscription:
    id: int
    url: str
    event_types: tuple[str, ...]
    active: bool
    soc_threshold: int
    description: str | None
    created_at: datetime
    updated_at: datetime


def _view(row: WebhookSubscription) -> Subscription:
    return Subscription(
        id=row.id,
        url=row.url,
        event_types=tuple(row.event_types),
        active=row.active,
        soc_threshold=row.soc_threshold,
        description=row.description,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def check_url(url: str, *, allow_http: bool) -> str:
    parts = urlsplit(url)
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        wanted = " or ".join(f"{s}://" for s in schemes)
        raise InvalidInput(f"the webhook url must be an absolute {wanted} URL")
    return url


def check_event_types(event_types: Sequence[str]) -> list[str]:
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown or not event_types:
        raise InvalidInput(
            "event_types must list some of: " + ", ".join(EVENT_TYPES),
            details={"unknown": unknown},
        )
    return sorted(set(event_types), key=EVENT_TYPES.index)


def _check_threshold(value: int) -> int:
    if not 1 <= value <= 100:
        raise InvalidInput("soc_threshold must be 1..100 (percent)")
    return value


async def create_subscription(
    unit: Unit,
    *,
    url: str,
    event_types: Sequence[str],
    now: datetime,
    allow_http: bool,
    secret: str | None = None,
    soc_threshold: int = DEFAULT_SOC_THRESHOLD,
    active: bool = True,
    description: str | None = None,
) -> tuple[Subscription, str]:
    """A new subscription and its secret (generated unless given): the only time it is shown."""
    row = WebhookSubscription(
        url=check_url(url, allow_http=allow_http),
        secret=secret or new_secret(),
        event_types=check_event_types(event_types),
        active=active,
        soc_threshold=_check_threshold(soc_threshold),
        description=description,
        created_at=now,
        updated_at=now,
    )
    unit.session.add(row)
    await unit.session.flush()
    unit.add_event(SubscriptionsChanged(row.id))
    return _view(row), row.secret


async def _get(unit: Unit, subscription_id: int) -> WebhookSubscription:
    row = await unit.session.get(WebhookSubscription, subscription_id)
    if row is None:
        raise NotFound(f"webhook subscription {subscription_id} not found")
    return row


async def get_subscription(unit: Unit, subscription_id: int) -> Subscription:
    return _view(await _get(unit, subscription_id))


async def list_subscriptions(unit: Unit) -> list[Subscription]:
    rows = await unit.session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id))
    return [_view(r) for r in rows]


async def update_subscription(
    unit: Unit,
    subscription_id: int,
    *,
    now: datetime,
    allow_http: bool,
    changes: Mapping[str, Any],
) -> Subscription:
    """Change the fields in ``changes`` (url, secret, event_types, active, soc_threshold,
    description)."""
    row = await _get(unit, subscription_id)
    if "url" in changes:
        row.url = check_url(changes["url"], allow_http=allow_http)
    if "secret" in changes:
        row.secret = changes["secret"] or new_secret()
    if "event_types" in changes:
        row.event_types = check_event_types(changes["event_types"])
    if "active" in changes:
        row.active = bool(changes["active"])
    if "soc_threshold" in changes:
        row.soc_threshold = _check_threshold(changes["soc_threshold"])
    if "description" in changes:
        row.description = changes["description"]
    row.updated_at = now
    await unit.session.flush()
    unit.add_event(SubscriptionsChanged(row.id))
    return _view(row)


async def delete_subscription(unit: Unit, subscription_id: int) -> None:
    """Delete a subscription and its deliveries (and their log)."""
    row = await _get(unit, subscription_id)
    ids = select(WebhookDelivery.id).where(WebhookDelivery.subscription_id == subscription_id)
    await unit.session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(ids)))
    await unit.session.execute(
        delete(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    )
    await unit.session.delete(row)
    unit.add_event(SubscriptionsChanged(subscription_id))


@dataclass(frozen=True)
class Target:
    """An active subscription as the event reactions see it (cached)."""

    id: int
    event_types: frozenset[str]
    soc_threshold: int


async def active_targets(session: AsyncSession) -> list[Target]:
    rows = await session.scalars(
        select(WebhookSubscription).where(WebhookSubscription.active.is_(True))
    )
    return [Target(r.id, frozenset(r.event_types), r.soc_threshold) for r in rows]


# --- the outbox -----------------------------------------------------------------------------

_INSERT_ONCE: dict[str, Any] = {
    name: dialect.insert(WebhookDelivery)
    .on_conflict_do_nothing(index_elements=["subscription_id", "event_id"])
    .returning(WebhookDelivery.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


@dataclass(frozen=True)
class Outgoing:
    """One event for one subscription, ready for the outbox."""

    subscription_id: int
    event_id: str
    event_type: str
    transaction_pk: int | None
    body: str
    awaiting_cost: bool = False
    not_before: datetime | None = None


async def enqueue(unit: Unit, items: Sequence[Outgoing], *, now: datetime) -> int:
    """Write deliveries to the outbox; one already there for (subscription, event) is kept.
    Returns how many were new."""
    s = unit.session
    stmt = _INSERT_ONCE["postgresql" if s.get_bind().dialect.name == "postgresql" else "sqlite"]
    new = 0
    for item in items:
        row = {
            "subscription_id": item.subscription_id,
            "event_id": item.event_id,
            "event_type": item.event_type,
            "transaction_pk": item.transaction_pk,
            "body": item.body,
            "status": PENDING,
            "awaiting_cost": item.awaiting_cost,
            "attempts": 0,
            "next_attempt_at": item.not_before or now,
            "created_at": now,
        }
        if (await s.execute(stmt, row)).first() is not None:
            new += 1
    return new


async def complete_held(unit: Unit, *, event_id: str, body: str, now: datetime) -> list[int]:
    """Give held ``session.ended`` deliveries (never attempted) their final body, due now.
    Returns the subscriptions whose delivery was updated."""
    s = unit.session
    rows = await s.scalars(
        select(WebhookDelivery).where(
            WebhookDelivery.event_id == event_id,
            WebhookDelivery.status == PENDING,
            WebhookDelivery.attempts == 0,
        )
    )
    done = []
    for row in rows:
        if row.awaiting_cost:
            row.body, row.awaiting_cost, row.next_attempt_at = body, False, now
        done.append(row.subscription_id)
    return done


async def has_event(session: AsyncSession, subscription_id: int, event_id: str) -> bool:
    found = await session.execute(
        select(WebhookDelivery.id).where(
            WebhookDelivery.subscription_id == subscription_id,
            WebhookDelivery.event_id == event_id,
        )
    )
    return found.first() is not None


# --- the sender's side ----------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    delivery_id: int
    event_id: str
    event_type: str
    body: str
    attempt: int  # the number of the attempt about to be made (1-based)
    url: str
    secret: str


async def claim_due(unit: Unit, *, now: datetime, lease: timedelta, limit: int) -> list[Due]:
    """Take due deliveries of active subscriptions; each one's ``next_attempt_at`` moves ahead
    by ``lease`` (only if nobody else moved it first), so a second sender does not send it too
    and one that crashes mid-delivery lets it be sent again after the lease."""
    s = unit.session
    d, sub = WebhookDelivery, WebhookSubscription
    rows = (
        await s.execute(
            select(d.id, d.event_id, d.event_type, d.body, d.attempts, d.next_attempt_at)
            .add_columns(sub.url, sub.secret)
            .join(sub, sub.id == d.subscription_id)
            .where(d.status == PENDING, d.next_attempt_at <= now, sub.active.is_(True))
            .order_by(d.next_attempt_at, d.id)
            .limit(limit)
        )
    ).all()
    out = []
    for r in rows:
        claimed = await s.execute(
            update(d)
            .where(d.id == r.id, d.next_attempt_at == r.next_attempt_at, d.status == PENDING)
            .values(next_attempt_at=now + lease)
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", 0) == 1:
            out.append(Due(r.id, r.event_id, r.event_type, r.body, r.attempts + 1, r.url, r.secret))
    return out


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    attempt: int
    at: datetime
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int
    retry_at: datetime | None  # None: no more attempts (delivered or dead)


async def record_outcomes(unit: Unit, outcomes: Sequence[Outcome]) -> None:
    s = unit.session
    for o in outcomes:
        s.add(
            WebhookAttempt(
                delivery_id=o.delivery_id,
                attempt=o.attempt,
                at=o.at,
                status_code=o.status_code,
                error=None if o.error is None else o.error[:255],
                duration_ms=o.duration_ms,
            )
        )
        values: dict[str, Any] = {
            "attempts": o.attempt,
            "last_attempt_at": o.at,
            "last_status_code": o.status_code,
            "last_error": None if o.error is None else o.error[:255],
        }
        if o.ok:
            values.update(status=DELIVERED, delivered_at=o.at)
        elif o.retry_at is None:
            values.update(status=DEAD)
        else:
            values.update(next_attempt_at=o.retry_at)
        await s.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == o.delivery_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


# --- the delivery log -----------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptView:
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


@dataclass(frozen=True)
class DeliveryView:
    id: int
    subscription_id: int
    event_id: str
    event_type: str
    transaction_pk: int | None
    status: str
    awaiting_cost: bool
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    body: str
    log: tuple[AttemptView, ...]


@dataclass(frozen=True)
class DeliveryPage:
    items: list[DeliveryView]
    total: int
    offset: int
    limit: int


async def list_deliveries(
    unit: Unit,
    subscription_id: int,
    *,
    status: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> DeliveryPage:
    """A subscription's deliveries, newest first, each with its attempts."""
    await _get(unit, subscription_id)
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise InvalidInput(f"limit must be 1..{MAX_PAGE} and offset ≥ 0")
    d = WebhookDelivery
    conds = [d.subscription_id == subscription_id]
    if status is not None:
        conds.append(d.status == status)
    s = unit.session
    total = int(await s.scalar(select(func.count(d.id)).where(*conds)) or 0)
    rows = list(
        await s.scalars(select(d).where(*conds).order_by(d.id.desc()).limit(limit).offset(offset))
    )
    logs: dict[int, list[AttemptView]] = {r.id: [] for r in rows}
    if rows:
        attempts = await s.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(list(logs)))
            .order_by(WebhookAttempt.delivery_id, WebhookAttempt.attempt)
        )
        for a in attempts:
            logs[a.delivery_id].append(
                AttemptView(a.attempt, a.at, a.status_code, a.error, a.duration_ms)
            )
    items = [
        DeliveryView(
            id=r.id,
            subscription_id=r.subscription_id,
            event_id=r.event_id,
            event_type=r.event_type,
            transaction_pk=r.transaction_pk,
            status=r.status,
            awaiting_cost=r.awaiting_cost,
            attempts=r.attempts,
            next_attempt_at=None if r.status != PENDING else r.next_attempt_at,
            last_attempt_at=r.last_attempt_at,
            last_status_code=r.last_status_code,
            last_error=r.last_error,
            delivered_at=r.delivered_at,
            created_at=r.created_at,
            body=r.body,
            log=tuple(logs[r.id]),
        )
        for r in rows
    ]
    return DeliveryPage(items, total, offset, limit)


async def requeue(unit: Unit, subscription_id: int, delivery_id: int, *, now: datetime) -> None:
    """Send a dead-lettered (or delivered) delivery again, with a fresh count of attempts."""
    row = await unit.session.get(WebhookDelivery, delivery_id)
    if row is None or row.subscription_id != subscription_id:
        raise NotFound(f"delivery {delivery_id} not found")
    if row.status == PENDING:
        return
    row.status, row.attempts, row.next_attempt_at = PENDING, 0, now
    row.awaiting_cost = False
