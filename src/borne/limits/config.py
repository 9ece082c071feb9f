"""Tunables of limit enforcement, built from settings by ``bootstrap``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LimitsConfig:
    # How often the supervised loop checks duration limits and retries stop requests; also how
    # long a session's limits are cached by the meter-value check (a change made through the
    # API on another node is seen within this time).
    check_interval_s: float = 2.0
    # How long a session's limits stay cached; changes made in this process reload at once.
    cache_ttl_s: float = 60.0
    # First wait before a refused or failed stop request is sent again; doubles per attempt.
    stop_retry_s: float = 10.0
    stop_retry_max_s: float = 300.0
    # A stop the station accepted but did not carry out within this time is requested again.
    stop_confirm_s: float = 120.0
    # Timeout of the stop call itself (None: the gateway's OCPP call timeout).
    call_timeout_s: float | None = None
