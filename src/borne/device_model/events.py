"""Domain events of the device model, published after commit."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceReportCompleted:
    """The last part of a 2.0.1 report was stored (``kind``: what Borne asked for, or
    ``"Unsolicited"`` for a report it did not ask for)."""

    station_id: str
    request_id: int
    kind: str
    replaced: bool  # a FullInventory: variables it did not list were removed


@dataclass(frozen=True)
class ConfigurationRefreshed:
    """A 1.6 station's configuration snapshot was (re)read."""

    station_id: str
    keys: int
