"""Tunables of webhook notifications, built from settings by ``bootstrap``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NotificationsConfig:
    # How often the sender looks for due deliveries when nothing wakes it.
    poll_interval_s: float = 1.0
    # One HTTP attempt's timeout; 2xx within it is a success, anything else a failure.
    timeout_s: float = 10.0
    # Attempts before a delivery is dead-lettered.
    max_attempts: int = 10
    # Back-off before attempt n+1: base * 2^(n-1), at most ``backoff_max_s``, plus up to 10 %.
    backoff_base_s: float = 5.0
    backoff_max_s: float = 3600.0
    # Deliveries sent at once.
    concurrency: int = 8
    # Subscriptions may use plain http:// URLs (tests, local receivers); otherwise https only.
    allow_http: bool = False
    # ``session.ended`` waits this long for the CDR (and its cost) before going without it.
    ended_grace_s: float = 60.0
    # Energy-idle rule of ``session.charging_finished``: the register has not moved for this long
    # after energy had been flowing.
    idle_after_s: float = 300.0
    # How long the list of active subscriptions is cached by the event reactions.
    subscriptions_cache_s: float = 2.0
    # Reconciliation sweep of the sender (``reconcile``): how often, how far back, and how old a
    # transaction change must be before the sweep (rather than the live path) handles it.
    reconcile_interval_s: float = 60.0
    reconcile_lookback_s: float = 86_400.0
    reconcile_settle_s: float = 30.0
