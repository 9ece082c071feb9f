"""Domain events of the notifications domain, published after commit."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SubscriptionsChanged:
    """A webhook subscription was created, changed or deleted (drops cached subscriptions)."""

    subscription_id: int
