"""Domain events of the locations domain, published after commit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

LocationChange = Literal[
    "created", "updated", "deleted", "station_attached", "station_detached", "evse_changed"
]


@dataclass(frozen=True)
class LocationChanged:
    """Something OCPI partners see of a location changed (later: pushed as a Location PATCH)."""

    location_id: str
    change: LocationChange
    station_id: str | None = None
    evse_id: int | None = None
    # EVSE uids that left the location (EVSE deleted or re-identified, station detached,
    # location deleted): OCPI never deletes an EVSE, partners are told it was REMOVED.
    evse_uids: tuple[str, ...] = ()
    # The location's (country_code, party_id), given when it was deleted (nowhere else then).
    party: tuple[str, str] | None = None
