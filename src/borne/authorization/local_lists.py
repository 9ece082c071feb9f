"""Local authorization lists, version-agnostic: which tokens a station should hold, what it
holds, and the difference between the two (docs/authorization.md).

The rule: every id token flagged ``local_list`` goes to every station whose list Borne keeps
(a ``LocalAuthList`` row with ``enabled``). Entries are compared by a digest of what is sent
(status, expiry, group, message, languages), so a change to any of them is a differential
update and an unchanged token costs nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from borne.authorization.models import IdToken, LocalAuthList, LocalAuthListEntry
from borne.core.errors import InvalidInput, NotFound

T = TypeVar("T")


@dataclass(frozen=True)
class ListEntry:
    """One token as a station's local list carries it."""

    key: str
    id_token: str
    type: str
    status: str
    expiry_date: datetime | None
    group_id_token: str | None
    personal_message: str | None = None
    personal_message_language: str | None = None
    language1: str | None = None

    @property
    def digest(self) -> str:
        fields = [
            self.id_token,
            self.type,
            self.status,
            None if self.expiry_date is None else self.expiry_date.isoformat(),
            self.group_id_token,
            self.personal_message,
            self.personal_message_language,
            self.language1,
        ]
        return hashlib.sha256(json.dumps(fields).encode()).hexdigest()


@dataclass(frozen=True)
class Removal:
    key: str
    id_token: str
    type: str  # 2.0.1 names a token by value and type


@dataclass(frozen=True)
class ListDiff:
    upserts: list[ListEntry]
    removals: list[Removal]

    def __bool__(self) -> bool:
        return bool(self.upserts or self.removals)


def entry_of(token: IdToken, *, max_len: int) -> ListEntry | None:
    """The entry of ``token`` for a version whose id tokens hold ``max_len`` characters; None
    when the value does not fit (a group id that does not fit is left out)."""
    if len(token.id_token) > max_len:
        return None
    group = token.group_id_token
    return ListEntry(
        key=token.id_token_key,
        id_token=token.id_token,
        type=token.type,
        status=token.status,
        expiry_date=token.expiry_date,
        group_id_token=group if group is not None and len(group) <= max_len else None,
        personal_message=token.personal_message,
        personal_message_language=token.personal_message_language,
        language1=token.language1,
    )


async def desired_entries(
    session: AsyncSession, *, max_len: int, limit: int | None = None
) -> tuple[list[ListEntry], int]:
    """The entries every list should hold (oldest token first) and how many were left out
    because ``limit`` (the station's list capacity) is smaller."""
    query = select(IdToken).where(IdToken.local_list.is_(True)).order_by(IdToken.id)
    entries = [e for t in await session.scalars(query) if (e := entry_of(t, max_len=max_len))]
    if limit is not None and len(entries) > limit:
        return entries[:limit], len(entries) - limit
    return entries, 0


async def held_entries(session: AsyncSession, station_id: str) -> dict[str, LocalAuthListEntry]:
    """What the station holds after its last accepted update, by token key."""
    rows = await session.scalars(
        select(LocalAuthListEntry).where(LocalAuthListEntry.station_id == station_id)
    )
    return {r.id_token_key: r for r in rows}


def diff(held: dict[str, LocalAuthListEntry], desired: Sequence[ListEntry]) -> ListDiff:
    wanted = {e.key: e for e in desired}
    upserts = [e for e in desired if (h := held.get(e.key)) is None or h.digest != e.digest]
    removals = [Removal(k, h.id_token, h.token_type) for k, h in held.items() if k not in wanted]
    return ListDiff(upserts, removals)


def chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), max(size, 1)):
        yield list(items[start : start + max(size, 1)])


async def get_state(session: AsyncSession, station_id: str) -> LocalAuthList | None:
    state: LocalAuthList | None = await session.get(LocalAuthList, station_id)
    return state


async def require_state(session: AsyncSession, station_id: str) -> LocalAuthList:
    state = await get_state(session, station_id)
    if state is None:
        raise NotFound(f"station {station_id} has no local authorization list")
    return state


async def configure(
    session: AsyncSession,
    station_id: str,
    *,
    now: datetime,
    enabled: bool = True,
    max_entries: int | None = None,
    items_per_message: int | None = None,
) -> LocalAuthList:
    """Keep (or stop keeping) ``station_id``'s list. Limits given here win over what the
    station reports. Enabling schedules a full update."""
    for name, value in (("max_entries", max_entries), ("items_per_message", items_per_message)):
        if value is not None and value < 1:
            raise InvalidInput(f"{name} must be at least 1")
    state = await get_state(session, station_id)
    if state is None:
        state = LocalAuthList(
            station_id=station_id,
            enabled=enabled,
            version=0,
            pending=enabled,
            needs_full=True,
            verify_version=False,
            generation=0,
            limits_checked=False,
            truncated=0,
            attempts=0,
            updated_at=now,
        )
        session.add(state)
    elif enabled and not state.enabled:
        state.enabled, state.pending, state.needs_full = True, True, True
    elif not enabled:
        state.enabled, state.pending = False, False
    if max_entries is not None or items_per_message is not None:
        state.max_entries = max_entries if max_entries is not None else state.max_entries
        state.items_per_message = items_per_message or state.items_per_message
        state.limits_checked = True
        state.pending = state.enabled
    state.attempts, state.next_attempt_at, state.updated_at = 0, None, now
    state.generation = (state.generation or 0) + 1
    await session.flush()
    return state


async def mark_all_pending(session: AsyncSession, *, now: datetime) -> None:
    """A token changed: every kept list may need a differential update."""
    await session.execute(
        update(LocalAuthList)
        .where(LocalAuthList.enabled.is_(True))
        .values(
            pending=True,
            attempts=0,
            next_attempt_at=None,
            updated_at=now,
            generation=LocalAuthList.generation + 1,
        )
    )


async def mark_pending(
    session: AsyncSession,
    station_id: str,
    *,
    now: datetime,
    verify: bool = False,
    not_before: datetime | None = None,
) -> bool:
    """Schedule ``station_id``'s update (``verify``: ask its version first; ``not_before``: not
    earlier); False when Borne does not keep its list."""
    values: dict[str, object] = {
        "pending": True,
        "attempts": 0,
        "next_attempt_at": not_before,
        "generation": LocalAuthList.generation + 1,
    }
    if verify:
        values["verify_version"] = True
    result = await session.execute(
        update(LocalAuthList)
        .where(LocalAuthList.station_id == station_id, LocalAuthList.enabled.is_(True))
        .values(updated_at=now, **values)
    )
    return bool(getattr(result, "rowcount", 0))


async def record_accepted(
    session: AsyncSession,
    station_id: str,
    *,
    version: int,
    full: bool,
    upserts: Sequence[ListEntry],
    removals: Sequence[Removal],
    now: datetime,
) -> None:
    """The station accepted one SendLocalList: hold what it now holds (``full``: replace)."""
    if full:
        await session.execute(
            delete(LocalAuthListEntry).where(LocalAuthListEntry.station_id == station_id)
        )
    elif removals:
        await session.execute(
            delete(LocalAuthListEntry).where(
                LocalAuthListEntry.station_id == station_id,
                LocalAuthListEntry.id_token_key.in_([r.key for r in removals]),
            )
        )
    held = {} if full else await held_entries(session, station_id)
    for e in upserts:
        row = held.get(e.key)
        if row is None:
            session.add(
                LocalAuthListEntry(
                    station_id=station_id,
                    id_token_key=e.key,
                    id_token=e.id_token,
                    token_type=e.type,
                    digest=e.digest,
                )
            )
        else:
            row.id_token, row.token_type, row.digest = e.id_token, e.type, e.digest
    state = await require_state(session, station_id)
    state.version = version
    state.updated_at = now
    if full:
        state.needs_full = False
    await session.flush()


async def forget(session: AsyncSession, station_id: str) -> None:
    """The station is gone: its list state and entries with it."""
    await session.execute(
        delete(LocalAuthListEntry).where(LocalAuthListEntry.station_id == station_id)
    )
    await session.execute(delete(LocalAuthList).where(LocalAuthList.station_id == station_id))
