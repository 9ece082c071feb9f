"""Authorization use cases: the token check used by Authorize and transactions, and token CRUD.

``check_token`` takes a bare ``AsyncSession`` so it can run inside a group-commit batch. The
CRUD functions take a unit of work (or batch) and never commit. Lookups are case-insensitive,
as OCPP id tokens are.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Literal, Protocol, TypeVar, get_args

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from borne.authorization.events import IdTokenChanged, IdTokenDeleted
from borne.authorization.external import ExternalAuthorizer
from borne.authorization.models import IdToken
from borne.core.errors import Conflict, InvalidInput, NotFound

T = TypeVar("T")

TokenStatus = Literal["Accepted", "Blocked", "Expired", "Invalid"]
TokenType = Literal[
    "Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local", "MacAddress", "NoAuthorization"
]
TOKEN_STATUSES: frozenset[str] = frozenset(get_args(TokenStatus))
TOKEN_TYPES: frozenset[str] = frozenset(get_args(TokenType))
MAX_TOKEN = 255
MAX_PAGE = 500


class Unit(Protocol):
    """A unit of work or a group-commit batch: a session and a place for events."""

    @property
    def session(self) -> AsyncSession: ...

    def add_event(self, event: object) -> None: ...


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    total: int
    offset: int
    limit: int


class Unset(enum.Enum):
    UNSET = 0


UNSET = Unset.UNSET  # "leave as it is", for fields where None is a value (clears it)


@dataclass(frozen=True)
class TokenVerdict:
    status: str  # "Accepted" | "Blocked" | "Expired" | "Invalid"  (unknown token → "Invalid")
    expiry_date: datetime | None
    group_id_token: str | None
    # Not part of equality: a verdict is its status, expiry and group.
    known: bool = field(default=True, compare=False)  # False: nobody had an opinion
    reference: str | None = field(default=None, compare=False)  # external (OCPI) reference
    # The local token read (2.0.1 answers add its personal message and languages).
    token: IdToken | None = field(default=None, compare=False, repr=False)


def token_key(id_token: str) -> str:
    """The case-insensitive lookup key of a token value."""
    return id_token.upper()


async def find_token(session: AsyncSession, id_token: str) -> IdToken | None:
    if not id_token or len(id_token) > MAX_TOKEN:
        return None
    token: IdToken | None = await session.scalar(
        select(IdToken).where(IdToken.id_token_key == token_key(id_token))
    )
    return token


async def check_token(
    session: AsyncSession,
    id_token: str,
    *,
    now: datetime,
    external: ExternalAuthorizer | None = None,
    station_id: str | None = None,
    for_start: bool = False,
) -> TokenVerdict:
    """Whether ``id_token`` may charge at ``now``; one indexed read, no writes.

    ``for_start``: the token starts a transaction; a member of a master pass group (which may
    stop any transaction, never start one) is then ``Blocked`` (one more read, grouped tokens
    only).

    Unknown → ``Invalid``; an ``Accepted`` token past its expiry date → ``Expired``. With
    ``external``, an unknown token gets what the external authorizer remembers from stored data
    (no network: this may run inside a group-commit batch); local tokens never reach it.
    """
    token = await find_token(session, id_token)
    if token is None:
        if external is not None and id_token and external.available():
            seen = await external.recall(session, id_token, station_id=station_id, now=now)
            if seen is not None:
                return TokenVerdict(
                    seen.status, seen.expiry_date, seen.group_id_token, reference=seen.reference
                )
        return TokenVerdict("Invalid", None, None, known=False)
    status = token.status
    if status == "Accepted" and token.expiry_date is not None and token.expiry_date < now:
        status = "Expired"
    if for_start and status == "Accepted" and await is_master_pass(session, token.group_id_token):
        status = "Blocked"
    return TokenVerdict(status, token.expiry_date, token.group_id_token, token=token)


async def is_master_pass(session: AsyncSession, group_id_token: str | None) -> bool:
    """Whether ``group_id_token`` names a master pass group (its own token is flagged)."""
    if not group_id_token:
        return False
    group = await find_token(session, group_id_token)
    return group is not None and bool(group.master_pass)


def _check_value(name: str, value: str) -> None:
    if not 1 <= len(value) <= MAX_TOKEN:
        raise InvalidInput(f"{name} must be 1 to {MAX_TOKEN} characters")
    if any(not c.isprintable() for c in value):
        raise InvalidInput(f"{name} must not contain control characters")


def _check_status(status: str) -> None:
    if status not in TOKEN_STATUSES:
        raise InvalidInput(f"token status must be one of {sorted(TOKEN_STATUSES)}")


def _check_type(type: str) -> None:
    if type not in TOKEN_TYPES:
        raise InvalidInput(f"token type must be one of {sorted(TOKEN_TYPES)}")


def _check_expiry(expiry_date: datetime | None) -> None:
    if expiry_date is not None and expiry_date.tzinfo is None:
        raise InvalidInput("expiry_date must carry a time zone")


@dataclass(frozen=True)
class TokenExtra:
    """Fields of a token beyond OCPP's idTagInfo; on update, UNSET leaves a field alone."""

    local_list: bool | Unset = UNSET
    master_pass: bool | Unset = UNSET
    personal_message: str | Unset | None = UNSET
    personal_message_language: str | Unset | None = UNSET
    language1: str | Unset | None = UNSET


def _apply_extra(token: IdToken, extra: TokenExtra) -> None:
    for name in (
        "personal_message",
        "personal_message_language",
        "language1",
    ):
        value = getattr(extra, name)
        limit = 512 if name == "personal_message" else 8
        if isinstance(value, str) and not 1 <= len(value) <= limit:
            raise InvalidInput(f"{name} must be 1 to {limit} characters")
        if not isinstance(value, Unset):
            setattr(token, name, value)
    for flag in ("local_list", "master_pass"):
        value = getattr(extra, flag)
        if not isinstance(value, Unset):
            setattr(token, flag, value)
        elif getattr(token, flag) is None:  # a new token: the column default is set at flush
            setattr(token, flag, False)


def _changed(token: IdToken, *, created: bool, was_local: bool = False) -> IdTokenChanged:
    return IdTokenChanged(
        id_token=token.id_token,
        type=token.type,
        status=token.status,
        expiry_date=token.expiry_date,
        group_id_token=token.group_id_token,
        created=created,
        local_list=bool(token.local_list),
        was_local_list=was_local,
    )


async def _get(unit: Unit, id_token: str) -> IdToken:
    token = await find_token(unit.session, id_token)
    if token is None:
        raise NotFound(f"id token {id_token} not found", details={"id_token": id_token})
    return token


async def create_id_token(
    unit: Unit,
    *,
    id_token: str,
    now: datetime,
    type: str = "ISO14443",
    status: str = "Accepted",
    expiry_date: datetime | None = None,
    group_id_token: str | None = None,
    label: str | None = None,
    notes: str | None = None,
    extra: TokenExtra | None = None,
) -> IdToken:
    """Add a token; ``Conflict`` if the same value exists in any letter case. ``extra``: local
    list membership, master pass and the 2.0.1 message and languages."""
    _check_value("id_token", id_token)
    _check_type(type)
    _check_status(status)
    _check_expiry(expiry_date)
    if group_id_token is not None:
        _check_value("group_id_token", group_id_token)
    if label is not None and len(label) > 255:
        raise InvalidInput("label must be at most 255 characters")
    if await find_token(unit.session, id_token) is not None:
        raise Conflict(f"id token {id_token} already exists", details={"id_token": id_token})
    token = IdToken(
        id_token=id_token,
        id_token_key=token_key(id_token),
        type=type,
        status=status,
        expiry_date=expiry_date,
        group_id_token=group_id_token,
        label=label,
        notes=notes,
        created_at=now,
        updated_at=now,
    )
    _apply_extra(token, extra or TokenExtra())
    unit.session.add(token)
    try:
        await unit.session.flush()
    except IntegrityError:
        raise Conflict(f"id token {id_token} already exists") from None
    unit.add_event(_changed(token, created=True))
    return token


async def update_id_token(
    unit: Unit,
    *,
    id_token: str,
    now: datetime,
    type: str | None = None,
    status: str | None = None,
    expiry_date: datetime | Unset | None = UNSET,
    group_id_token: str | Unset | None = UNSET,
    label: str | Unset | None = UNSET,
    notes: str | Unset | None = UNSET,
    extra: TokenExtra | None = None,
) -> IdToken:
    """Change what is given: ``None`` leaves ``type``/``status`` alone; for the optional fields
    ``UNSET`` leaves them alone and ``None`` clears them."""
    if type is not None:
        _check_type(type)
    if status is not None:
        _check_status(status)
    if not isinstance(expiry_date, Unset):
        _check_expiry(expiry_date)
    if isinstance(group_id_token, str):
        _check_value("group_id_token", group_id_token)
    if isinstance(label, str) and len(label) > 255:
        raise InvalidInput("label must be at most 255 characters")
    token = await _get(unit, id_token)
    was_local = bool(token.local_list)
    if type is not None:
        token.type = type
    if status is not None:
        token.status = status
    if not isinstance(expiry_date, Unset):
        token.expiry_date = expiry_date
    if not isinstance(group_id_token, Unset):
        token.group_id_token = group_id_token
    if not isinstance(label, Unset):
        token.label = label
    if not isinstance(notes, Unset):
        token.notes = notes
    if extra is not None:
        _apply_extra(token, extra)
    token.updated_at = now
    unit.add_event(_changed(token, created=False, was_local=was_local))
    return token


async def get_id_token(unit: Unit, *, id_token: str) -> IdToken:
    """The token, detached from the session so it stays readable after the unit of work."""
    token = await _get(unit, id_token)
    unit.session.expunge(token)
    return token


async def list_id_tokens(
    unit: Unit,
    *,
    offset: int = 0,
    limit: int = 50,
    status: str | None = None,
    group_id_token: str | None = None,
) -> Page[IdToken]:
    """Tokens in creation order (oldest first, so pages stay stable while tokens are added)."""
    if offset < 0 or not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"offset must be >= 0 and limit between 1 and {MAX_PAGE}")
    query = select(IdToken).order_by(IdToken.id)
    if status is not None:
        _check_status(status)
        query = query.where(IdToken.status == status)
    if group_id_token is not None:
        query = query.where(IdToken.group_id_token == group_id_token)
    total = await unit.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = list(await unit.session.scalars(query.offset(offset).limit(limit)))
    for row in rows:  # detached: readable after the unit of work, committed or not
        unit.session.expunge(row)
    return Page(rows, int(total or 0), offset, limit)


async def delete_id_token(unit: Unit, *, id_token: str) -> None:
    token = await _get(unit, id_token)
    await unit.session.delete(token)
    try:
        await unit.session.flush()
    except IntegrityError:
        raise Conflict(f"id token {id_token} is still referenced") from None
    unit.add_event(IdTokenDeleted(token.id_token, local_list=bool(token.local_list)))
