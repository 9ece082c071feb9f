"""Domain events of the authorization domain, published after commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class IdTokenChanged:
    """Created or updated (for OCPI token push and station local lists)."""

    id_token: str
    type: str
    status: str
    expiry_date: datetime | None
    group_id_token: str | None
    created: bool
    # In stations' local lists now / before the change (a token leaving them is removed).
    local_list: bool = False
    was_local_list: bool = False


@dataclass(frozen=True)
class IdTokenDeleted:
    id_token: str
    local_list: bool = False  # it was in stations' local lists
