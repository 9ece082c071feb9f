"""Who is calling: filled by the authenticator that the roaming domain supplies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class PartyRole:
    country_code: str
    party_id: str
    role: str  # CPO / EMSP / HUB / NSP / SCSP / OTHER


@dataclass(frozen=True)
class Party:
    partner_id: int
    name: str
    roles: tuple[PartyRole, ...]
    registered: bool  # False: token A (only versions/credentials allowed, R28)
    version: str | None  # negotiated version, None before registration
    token_base64: bool  # how this partner encodes tokens (what we send them)


class PartyAuthenticator(Protocol):
    async def authenticate(self, tokens: Sequence[str]) -> Party | None:
        """Return the party owning one of ``tokens`` (tried in order), else None."""
        ...
