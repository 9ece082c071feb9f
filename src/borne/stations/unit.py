"""What the stations use cases run in, and how they page results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from borne.core.errors import InvalidInput

T = TypeVar("T")


class Unit(Protocol):
    """A unit of work (``deps.db.unit_of_work()``) or a group-commit ``Batch``: a session and a
    place to record events published after commit. Use cases never commit themselves."""

    @property
    def session(self) -> AsyncSession: ...

    def add_event(self, event: object) -> None: ...


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    total: int
    offset: int
    limit: int


MAX_PAGE = 500


def check_page(offset: int, limit: int) -> None:
    if offset < 0:
        raise InvalidInput("offset must be >= 0")
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
