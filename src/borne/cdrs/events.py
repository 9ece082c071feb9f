"""Domain events of the CDR domain, published after commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class SessionCostUpdated:
    """The running cost of a transaction changed (after meter values, or the final CDR)."""

    transaction_pk: int
    station_id: str
    currency: str
    total_excl: Decimal | None
    total_incl: Decimal | None
    energy_wh: Decimal | None
    at: datetime


@dataclass(frozen=True)
class CdrIssued:
    """A CDR was issued: the original of a transaction, a credit CDR, or a corrected CDR.
    A credit CDR carries the negated totals of the CDR it credits."""

    cdr_id: str
    transaction_pk: int
    station_id: str
    currency: str
    total_excl: Decimal | None
    total_incl: Decimal | None
    credit: bool
