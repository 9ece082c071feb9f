"""Domain events of the limits domain, published after commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class SessionLimitReached:
    """A session reached one of its limits; Borne is stopping it (once per session)."""

    transaction_pk: int
    station_id: str
    transaction_id: str
    kind: str  # cost | energy | duration
    reason: str  # limit:cost | limit:energy | limit:duration
    limit_value: Decimal
    value_at_trigger: Decimal
    currency: str | None
    at: datetime


@dataclass(frozen=True)
class SessionLimitsChanged:
    """A session's limits were set or replaced (operator API, token defaults, OCPI)."""

    transaction_pk: int
    source: str
