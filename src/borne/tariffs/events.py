"""Domain events of stored tariffs, published after commit (OCPI push and caches listen)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class TariffChanged:
    record_id: int
    ocpi_id: str
    country_code: str
    party_id: str
    change: Literal["created", "updated", "deleted"]


@dataclass(frozen=True)
class TariffAssigned:
    """A tariff was assigned (``assigned=True``) to a target, or taken off it (False)."""

    record_id: int
    level: Literal["connector", "evse", "location", "default"]
    assigned: bool
    location_id: str | None = None
    station_id: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
