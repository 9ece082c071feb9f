"""Limits use cases: set and read limits, copy token defaults, record enforcement.

Every function takes a unit of work (or anything with a session and ``add_event``) and never
commits. Nothing here talks to a station: ``subscribers.LimitsEnforcer`` sends the stop, outside
any database transaction, and records each attempt with ``record_attempt``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from borne.authorization import service as authorization
from borne.core.errors import Conflict, InvalidInput, NotFound
from borne.limits.events import SessionLimitReached, SessionLimitsChanged
from borne.limits.models import (
    COST,
    KINDS,
    LimitEnforcement,
    SessionLimit,
    TokenLimit,
    reason_of,
)
from borne.transactions import service as transactions

OPERATOR = "operator"
TOKEN = "token"
OCPI = "ocpi"
SOURCES = (OPERATOR, TOKEN, OCPI)


class Unit(Protocol):
    @property
    def session(self) -> AsyncSession: ...

    def add_event(self, event: object) -> None: ...


@dataclass(frozen=True)
class Limits:
    """What a session (or a token's sessions) may consume; None means no limit of that kind.

    ``max_cost`` includes taxes and is in ``currency`` (ISO 4217), which it requires.
    """

    max_cost: Decimal | None = None
    currency: str | None = None
    max_energy_wh: Decimal | None = None
    max_duration_s: int | None = None

    def check(self) -> Limits:
        if self.max_cost is not None and self.currency is None:
            raise InvalidInput("max_cost needs a currency", details={"field": "currency"})
        for name in ("max_cost", "max_energy_wh", "max_duration_s"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise InvalidInput(f"{name} must be positive", details={"field": name})
        currency = None if self.max_cost is None else self.currency
        return Limits(self.max_cost, currency, self.max_energy_wh, self.max_duration_s)

    @property
    def empty(self) -> bool:
        return self.max_cost is None and self.max_energy_wh is None and self.max_duration_s is None


@dataclass(frozen=True)
class SessionLimits:
    """A session's limits as the checks need them (also cached by the enforcer)."""

    transaction_pk: int
    station_id: str
    transaction_id: str
    limits: Limits
    source: str
    started_at: datetime | None
    meter_start_wh: Decimal | None
    ended: bool
    updated_at: datetime


@dataclass(frozen=True)
class Enforcement:
    transaction_pk: int
    station_id: str
    transaction_id: str
    kind: str
    reason: str
    limit_value: Decimal
    value_at_trigger: Decimal
    currency: str | None
    triggered_at: datetime
    stop_requested_at: datetime | None
    last_status: str | None
    last_error: str | None
    last_attempt_at: datetime | None
    attempts: int
    next_attempt_at: datetime | None
    closed: bool
    stopped_at: datetime | None


@dataclass(frozen=True)
class LimitsView:
    transaction_pk: int
    limits: SessionLimits | None
    enforcement: Enforcement | None


def _limits(row: SessionLimit | TokenLimit) -> Limits:
    return Limits(row.max_cost, row.currency, row.max_energy_wh, row.max_duration_s)


def _session_view(row: SessionLimit) -> SessionLimits:
    return SessionLimits(
        transaction_pk=row.transaction_pk,
        station_id=row.station_id,
        transaction_id=row.transaction_id,
        limits=_limits(row),
        source=row.source,
        started_at=row.started_at,
        meter_start_wh=row.meter_start_wh,
        ended=row.ended,
        updated_at=row.updated_at,
    )


def _enforcement_view(row: LimitEnforcement) -> Enforcement:
    return Enforcement(
        transaction_pk=row.transaction_pk,
        station_id=row.station_id,
        transaction_id=row.transaction_id,
        kind=row.kind,
        reason=row.reason,
        limit_value=row.limit_value,
        value_at_trigger=row.value_at_trigger,
        currency=row.currency,
        triggered_at=row.triggered_at,
        stop_requested_at=row.stop_requested_at,
        last_status=row.last_status,
        last_error=row.last_error,
        last_attempt_at=row.last_attempt_at,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        closed=row.closed,
        stopped_at=row.stopped_at,
    )


# --- session limits -------------------------------------------------------------------------


async def set_session_limits(
    unit: Unit, transaction_pk: int, limits: Limits, *, now: datetime, source: str = OPERATOR
) -> LimitsView:
    """Replace the limits of an active transaction (all of them: a kind left None is lifted).

    Unknown transaction → ``NotFound``; ended one → ``Conflict``. Lowering a limit below what
    the session already consumed makes the next check stop it.
    """
    if source not in SOURCES:
        raise InvalidInput(f"unknown limits source {source!r}")
    limits = limits.check()
    tx = await transactions.get_transaction(unit, transaction_pk)
    if tx.state != "active":
        raise Conflict(
            f"transaction {transaction_pk} has ended", details={"transaction_pk": transaction_pk}
        )
    s = unit.session
    row = await s.get(SessionLimit, transaction_pk)
    if row is None:
        row = SessionLimit(
            transaction_pk=transaction_pk,
            station_id=tx.station_id,
            transaction_id=tx.transaction_id,
            started_at=tx.started_at,
            meter_start_wh=tx.meter_start_wh,
            ended=False,
            created_at=now,
        )
        s.add(row)
    row.max_cost, row.currency = limits.max_cost, limits.currency
    row.max_energy_wh, row.max_duration_s = limits.max_energy_wh, limits.max_duration_s
    row.source = source
    row.updated_at = now
    await s.flush()
    unit.add_event(SessionLimitsChanged(transaction_pk, source))
    return LimitsView(transaction_pk, _session_view(row), await _enforcement(s, transaction_pk))


async def get_session_limits(unit: Unit, transaction_pk: int) -> LimitsView:
    """The limits and the enforcement record of a transaction (``NotFound`` if unknown)."""
    await transactions.get_transaction(unit, transaction_pk)
    row = await unit.session.get(SessionLimit, transaction_pk)
    return LimitsView(
        transaction_pk,
        None if row is None else _session_view(row),
        await _enforcement(unit.session, transaction_pk),
    )


async def load_session_limits(session: AsyncSession, transaction_pk: int) -> SessionLimits | None:
    row = await session.get(SessionLimit, transaction_pk)
    return None if row is None else _session_view(row)


async def _enforcement(session: AsyncSession, transaction_pk: int) -> Enforcement | None:
    row = await session.get(LimitEnforcement, transaction_pk)
    return None if row is None else _enforcement_view(row)


async def apply_token_defaults(
    unit: Unit,
    *,
    transaction_pk: int,
    station_id: str,
    transaction_id: str,
    id_token: str | None,
    started_at: datetime | None,
    meter_start_wh: Decimal | None,
    now: datetime,
) -> SessionLimits | None:
    """Copy the token's default limits into a session that has none yet (at its start).

    Without ``id_token`` (a 2.0.1 transaction whose token came only in a later ``Updated``
    event, or a 1.6 one started without a token) the transaction's stored token is used.
    """
    if not id_token:
        try:
            id_token = (await transactions.get_transaction(unit, transaction_pk)).id_token
        except NotFound:
            return None
        if not id_token:
            return None
    defaults = await unit.session.get(TokenLimit, authorization.token_key(id_token))
    if defaults is None or await unit.session.get(SessionLimit, transaction_pk) is not None:
        return None
    row = SessionLimit(
        transaction_pk=transaction_pk,
        station_id=station_id,
        transaction_id=transaction_id,
        max_cost=defaults.max_cost,
        currency=defaults.currency,
        max_energy_wh=defaults.max_energy_wh,
        max_duration_s=defaults.max_duration_s,
        source=TOKEN,
        started_at=started_at,
        meter_start_wh=meter_start_wh,
        ended=False,
        created_at=now,
        updated_at=now,
    )
    unit.session.add(row)
    await unit.session.flush()
    return _session_view(row)


# --- token defaults -------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenLimits:
    id_token: str
    limits: Limits
    updated_at: datetime


async def set_token_limits(
    unit: Unit, id_token: str, limits: Limits, *, now: datetime
) -> TokenLimits:
    """Set the defaults of a known token's future sessions (``NotFound`` if unknown)."""
    limits = limits.check()
    token = await authorization.get_id_token(unit, id_token=id_token)
    row = await unit.session.get(TokenLimit, token.id_token_key)
    if row is None:
        row = TokenLimit(id_token_key=token.id_token_key, id_token=token.id_token, created_at=now)
        unit.session.add(row)
    row.max_cost, row.currency = limits.max_cost, limits.currency
    row.max_energy_wh, row.max_duration_s = limits.max_energy_wh, limits.max_duration_s
    row.updated_at = now
    await unit.session.flush()
    return TokenLimits(row.id_token, _limits(row), row.updated_at)


async def get_token_limits(unit: Unit, id_token: str) -> TokenLimits:
    row = await unit.session.get(TokenLimit, authorization.token_key(id_token))
    if row is None:
        raise NotFound(f"id token {id_token} has no default limits")
    return TokenLimits(row.id_token, _limits(row), row.updated_at)


async def delete_token_limits(unit: Unit, id_token: str) -> None:
    row = await unit.session.get(TokenLimit, authorization.token_key(id_token))
    if row is None:
        raise NotFound(f"id token {id_token} has no default limits")
    await unit.session.delete(row)


# --- enforcement ----------------------------------------------------------------------------

_INSERT_ONCE: dict[str, Any] = {
    name: dialect.insert(LimitEnforcement)
    .on_conflict_do_nothing(index_elements=["transaction_pk"])
    .returning(LimitEnforcement.transaction_pk)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


async def trigger(
    unit: Unit,
    limits: SessionLimits,
    *,
    kind: str,
    limit_value: Decimal,
    value: Decimal,
    now: datetime,
) -> bool:
    """Record that ``kind`` fired for the session; False if a limit had already fired.

    The insert-once on the primary key is what makes enforcement idempotent: whoever records the
    trigger sends the stop; every later check of the same session is a no-op.
    """
    assert kind in KINDS
    s = unit.session
    dialect = "postgresql" if s.get_bind().dialect.name == "postgresql" else "sqlite"
    currency = limits.limits.currency if kind == COST else None
    row = {
        "transaction_pk": limits.transaction_pk,
        "station_id": limits.station_id,
        "transaction_id": limits.transaction_id,
        "kind": kind,
        "reason": reason_of(kind),
        "limit_value": limit_value,
        "value_at_trigger": value,
        "currency": currency,
        "triggered_at": now,
        "attempts": 0,
        "next_attempt_at": now,
        "closed": False,
        "updated_at": now,
    }
    if (await s.execute(_INSERT_ONCE[dialect], row)).first() is None:
        return False
    unit.add_event(
        SessionLimitReached(
            transaction_pk=limits.transaction_pk,
            station_id=limits.station_id,
            transaction_id=limits.transaction_id,
            kind=kind,
            reason=reason_of(kind),
            limit_value=limit_value,
            value_at_trigger=value,
            currency=currency,
            at=now,
        )
    )
    return True


@dataclass(frozen=True)
class StopTarget:
    transaction_pk: int
    station_id: str
    transaction_id: str
    attempts: int


async def claim_attempt(
    unit: Unit, transaction_pk: int, *, now: datetime, lease: timedelta
) -> StopTarget | None:
    """Take the turn to send the next stop request: the enforcement is open, its attempt is
    due and the transaction is still active. ``next_attempt_at`` moves ahead by ``lease`` so
    that another node (or task) does not send the same attempt meanwhile."""
    s = unit.session
    row = await s.get(LimitEnforcement, transaction_pk)
    if row is None or row.closed:
        return None
    if row.next_attempt_at is not None and row.next_attempt_at > now:
        return None
    tx = await transactions.get_transaction(unit, transaction_pk)
    if tx.state != "active":
        row.closed, row.stopped_at, row.updated_at = True, tx.stopped_at, now
        return None
    claimed = await s.execute(
        update(LimitEnforcement)
        .where(
            LimitEnforcement.transaction_pk == transaction_pk,
            LimitEnforcement.next_attempt_at == row.next_attempt_at,
        )
        .values(next_attempt_at=now + lease)
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        return None
    return StopTarget(row.transaction_pk, row.station_id, row.transaction_id, row.attempts)


async def record_attempt(
    unit: Unit,
    transaction_pk: int,
    *,
    status: str | None,
    error: str | None,
    accepted: bool,
    now: datetime,
    next_attempt_at: datetime,
) -> None:
    """Record one stop request's outcome and when to try again (also after an accepted stop:
    the station may accept and not stop; ``TransactionEnded`` closes the record)."""
    row = await unit.session.get(LimitEnforcement, transaction_pk)
    if row is None:
        return
    row.attempts += 1
    row.last_status = None if status is None else status[:32]
    row.last_error = None if error is None else error[:255]
    row.last_attempt_at = now
    if accepted and row.stop_requested_at is None:
        row.stop_requested_at = now
    if not row.closed:
        row.next_attempt_at = next_attempt_at
    row.updated_at = now


async def due_enforcements(unit: Unit, *, now: datetime, limit: int = 100) -> list[int]:
    """Open enforcements whose next stop request is due."""
    stmt = (
        select(LimitEnforcement.transaction_pk)
        .where(
            LimitEnforcement.closed.is_(False),
            or_(
                LimitEnforcement.next_attempt_at.is_(None),
                LimitEnforcement.next_attempt_at <= now,
            ),
        )
        .order_by(LimitEnforcement.next_attempt_at)
        .limit(limit)
    )
    return list((await unit.session.execute(stmt)).scalars())


async def sessions_with_duration_limit(unit: Unit) -> list[SessionLimits]:
    """Active sessions that have a duration limit and no enforcement yet."""
    stmt = (
        select(SessionLimit)
        .outerjoin(LimitEnforcement, LimitEnforcement.transaction_pk == SessionLimit.transaction_pk)
        .where(
            SessionLimit.ended.is_(False),
            SessionLimit.max_duration_s.is_not(None),
            LimitEnforcement.transaction_pk.is_(None),
        )
    )
    return [_session_view(r) for r in (await unit.session.execute(stmt)).scalars()]


async def mark_ended(
    unit: Unit, transaction_pk: int, *, stopped_at: datetime | None, now: datetime
) -> None:
    """The transaction ended: its limits are no longer checked, its enforcement is closed."""
    s = unit.session
    await s.execute(
        update(SessionLimit)
        .where(SessionLimit.transaction_pk == transaction_pk)
        .values(ended=True, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    await s.execute(
        update(LimitEnforcement)
        .where(LimitEnforcement.transaction_pk == transaction_pk)
        .values(closed=True, stopped_at=stopped_at, updated_at=now)
        .execution_options(synchronize_session=False)
    )


async def energy_so_far(
    unit: Unit, limits: SessionLimits, last_energy_wh: Decimal | None
) -> Decimal | None:
    """Energy delivered in the session: the latest register - the register at start (from the
    transactions domain when the start carried no register)."""
    if last_energy_wh is not None and limits.meter_start_wh is not None:
        return last_energy_wh - limits.meter_start_wh
    return await transactions.energy_delivered(unit, limits.transaction_pk)
