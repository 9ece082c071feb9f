"""What the stations OCPP translators need from the settings, built once by ``bootstrap``."""

from __future__ import annotations

from dataclasses import dataclass, field

from borne.stations.vendors import VendorRegistry


@dataclass(frozen=True)
class StationsConfig:
    # BootNotification interval for an accepted station (``Settings.heartbeat_interval_s``).
    heartbeat_interval_s: int = 300
    # BootNotification interval for a Pending/Rejected one (``Settings.pending_retry_interval_s``).
    pending_retry_interval_s: int = 60
    # DataTransfer vendor handlers; share one registry between the 1.6 and 2.0.1 translators.
    vendors: VendorRegistry = field(default_factory=VendorRegistry)
