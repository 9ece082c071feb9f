"""Settings of the firmware campaign runner (from ``BORNE_FIRMWARE_*``, wired in bootstrap)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FirmwareConfig:
    # How often the runner looks for due work when nothing woke it (a status, a connection).
    poll_interval_s: float = 5.0
    # Timeout of one UpdateFirmware call; None: the gateway's default.
    call_timeout_s: float | None = None
