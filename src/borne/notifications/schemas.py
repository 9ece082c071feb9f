"""Operator API models of webhook subscriptions and their delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from borne.notifications.service import DeliveryView, Subscription

EventType = Literal[
    "session.started", "session.soc_threshold", "session.charging_finished", "session.ended"
]
Url = Annotated[str, Field(min_length=8, max_length=2048, pattern=r"^https?://[^\s]+$")]
Secret = Annotated[str, Field(min_length=16, max_length=255, pattern=r"^[\x21-\x7e]+$")]
Threshold = Annotated[int, Field(ge=1, le=100, description="state of charge, percent")]
Description = Annotated[str, Field(max_length=255, pattern=r"^[^\x00-\x1f\x7f]*$")]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubscriptionIn(Body):
    url: Url = Field(description="https:// (http:// only with BORNE_WEBHOOK_ALLOW_HTTP)")
    event_types: list[EventType] = Field(min_length=1)
    secret: Secret | None = Field(None, description="generated when left out; shown once")
    soc_threshold: Threshold = 80
    active: bool = True
    description: Description | None = None


class SubscriptionPatch(Body):
    """Only the fields sent change; a ``secret`` of null generates a new one (shown once)."""

    url: Url | None = None
    event_types: list[EventType] | None = Field(None, min_length=1)
    secret: Secret | None = None
    soc_threshold: Threshold | None = None
    active: bool | None = None
    description: Description | None = None


class SubscriptionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    event_types: list[str]
    active: bool
    soc_threshold: int
    description: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, sub: Subscription) -> SubscriptionOut:
        return cls.model_validate(sub)


class SubscriptionCreatedOut(SubscriptionOut):
    secret: str = Field(description="the signing secret; shown only now")


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryOut(BaseModel):
    id: int
    event_id: str
    event_type: str
    session_id: int | None
    status: str = Field(description="pending | delivered | dead")
    awaiting_cost: bool = Field(description="session.ended held until its CDR or grace period")
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    payload: Any = Field(description="the JSON body sent")
    log: list[AttemptOut]

    @classmethod
    def of(cls, d: DeliveryView) -> DeliveryOut:
        return cls(
            id=d.id,
            event_id=d.event_id,
            event_type=d.event_type,
            session_id=d.transaction_pk,
            status=d.status,
            awaiting_cost=d.awaiting_cost,
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at,
            last_attempt_at=d.last_attempt_at,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            delivered_at=d.delivered_at,
            created_at=d.created_at,
            payload=orjson.loads(d.body),
            log=[AttemptOut.model_validate(a) for a in d.log],
        )


class DeliveryPageOut(BaseModel):
    items: list[DeliveryOut]
    total: int
    offset: int
    limit: int
