"""A hook for tokens Borne does not know itself: somebody else (a roaming partner) may.

The authorization domain never imports the party that answers (OCPI roaming lives elsewhere):
bootstrap hands an ``ExternalAuthorizer`` to the Authorize translators and to the transaction
services. Local id tokens always win: the hook is consulted only when ``check_token`` finds no
local token, so the hot path of a known token costs nothing more.

Two questions, with different costs:

- ``authorize``: may ask over the network (real-time authorization); called outside any
  database transaction, by the Authorize translators.
- ``recall``: answers from the database only, inside the caller's session (a group-commit
  batch may be open): a recent external authorization of this token, or a stored whitelist.
  StartTransaction and TransactionEvent use it so that a token authorized a moment ago by a
  partner is not refused when the transaction starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

ExternalStatus = Literal["Accepted", "Blocked", "Expired", "Invalid"]


@dataclass(frozen=True)
class ExternalVerdict:
    status: ExternalStatus
    # How long a station may cache the answer (None: the configured default only).
    expiry_date: datetime | None = None
    group_id_token: str | None = None
    # Opaque to this domain (the OCPI authorization_reference): kept for sessions and CDRs.
    reference: str | None = None


class ExternalAuthorizer(Protocol):
    def available(self) -> bool:
        """Whether anybody could answer at all (in memory, cheap): False spares every lookup
        on the OCPP hot path when no roaming partner is registered."""
        ...

    async def authorize(
        self,
        id_token: str,
        *,
        token_type: str | None,
        station_id: str,
        evse_id: int | None,
        now: datetime,
    ) -> ExternalVerdict | None:
        """The verdict of whoever owns ``id_token``; None: nobody has an opinion."""
        ...

    async def recall(
        self,
        session: AsyncSession,
        id_token: str,
        *,
        station_id: str | None,
        now: datetime,
        decided_only: bool = False,
    ) -> ExternalVerdict | None:
        """A verdict from stored data only (no network), read in ``session``. ``decided_only``:
        only a standing decision or a token that never needs asking, not what a whitelist
        allows when the owner cannot be reached (the caller is about to ask)."""
        ...


class ExternalAuthorizerSlot:
    """An ``ExternalAuthorizer`` whose target is set after construction.

    Bootstrap builds the OCPP routers before the roaming domain: it gives them a slot and sets
    the real authorizer once built (``set``). Empty, the slot has no opinion. One slot per
    runtime: no module-level state.
    """

    def __init__(self, target: ExternalAuthorizer | None = None) -> None:
        self._target = target

    def set(self, target: ExternalAuthorizer | None) -> None:
        self._target = target

    @property
    def target(self) -> ExternalAuthorizer | None:
        return self._target

    def available(self) -> bool:
        return self._target is not None and self._target.available()

    async def authorize(
        self,
        id_token: str,
        *,
        token_type: str | None,
        station_id: str,
        evse_id: int | None,
        now: datetime,
    ) -> ExternalVerdict | None:
        if self._target is None:
            return None
        return await self._target.authorize(
            id_token, token_type=token_type, station_id=station_id, evse_id=evse_id, now=now
        )

    async def recall(
        self,
        session: AsyncSession,
        id_token: str,
        *,
        station_id: str | None,
        now: datetime,
        decided_only: bool = False,
    ) -> ExternalVerdict | None:
        if self._target is None:
            return None
        return await self._target.recall(
            session, id_token, station_id=station_id, now=now, decided_only=decided_only
        )
