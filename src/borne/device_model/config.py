"""Settings of the device-model domain, built from ``borne.settings`` by the composition root."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceModelConfig:
    # Read the configuration (1.6 GetConfiguration) / device model (2.0.1 GetBaseReport
    # FullInventory) after an Accepted boot when what Borne holds is missing or older than
    # ``max_age_s``. Off by default: an unasked call during a station's boot sequence is a
    # surprise to some firmwares, and a reconnect storm would become a report storm.
    refresh_on_boot: bool = False
    boot_delay_s: float = 2.0  # let the station finish its boot sequence (StatusNotifications)
    max_age_s: float = 86_400.0
