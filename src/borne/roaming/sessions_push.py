"""Push of Sessions and CDRs to the eMSP that owns the token, through the OCPI outbox.

Reactions (each in one unit of work: the outbox rows and the ``roaming_sessions`` row change
together, so a push exists exactly when the state it announces does):

* ``TransactionStarted`` → PUT of the whole Session (status ACTIVE).
* ``MeterValuesRecorded`` / ``SessionCostUpdated`` → PATCH ``kwh``, ``currency``, ``total_cost``,
  coalesced per session: at most one every ``interval_s`` (default 60 s); while one waits for
  its turn further events add nothing, and the waiting one reads the state as it is when it runs
  (the same coalescing as the running cost, docs/cdrs.md).
* ``TransactionEnded`` → PATCH with ``end_date_time`` and the latest kWh and cost.
* ``CdrIssued`` → (original or correction) final PATCH: status COMPLETED with the CDR's
  ``charging_periods``, ``total_cost`` and energy, then POST of the CDR to the partner's CDRs
  receiver; a credit CDR is POSTed the same way.
* A PATCH that would repeat the previous one but for ``last_updated`` (a reading and the cost
  it caused arrive as two events; a last reading after the end) is not sent: nothing changed
  for the partner (remembered in memory: after a restart at most one is repeated).

Whatever the order or repetition of events: the first push of a session is always its PUT
(whole current state, which may already be COMPLETED when earlier events were missed), nothing
follows COMPLETED, and a CDR is enqueued at most once per partner (``roaming_cdr_posts``, a
unique row written with the outbox row). Order on the wire: the outbox key
``sessions:<cc>/<party>/<id>`` orders the session's pushes; ``cdrs:<cc>/<party>/<id>`` orders
its CDRs (original before credit before correction).

Only the partner owning the token is pushed to, and only when it registered a RECEIVER
endpoint for the module; Borne's own tokens go to nobody. Every reaction that changes what
the partner sees also moves the session's ``last_updated`` (the pull order).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from borne.cdrs.events import CdrIssued, SessionCostUpdated
from borne.cdrs.models import Cdr
from borne.core.bus import EventBus
from borne.core.clock import Clock
from borne.core.locks import KeyedLocks
from borne.core.uow import Database
from borne.ocpi.outbox import enqueue
from borne.roaming.cdrs import partner_cdr
from borne.roaming.models import Partner
from borne.roaming.sessions import (
    COMPLETED,
    COMPLETED_FIELDS,
    ENDED_FIELDS,
    PROGRESS_FIELDS,
    CpoIdentity,
    TokenOwner,
    TokenOwnerResolver,
    facts_of,
    session_document,
    session_id_of,
    session_patch,
)
from borne.roaming.sessions_models import RoamingCdrPost, RoamingSession
from borne.transactions.events import MeterValuesRecorded, TransactionEnded, TransactionStarted
from borne.transactions.models import ACTIVE, Transaction

log = logging.getLogger(__name__)

RECEIVER = "RECEIVER"
REGISTERED = "registered"


async def receiver_version(session: AsyncSession, partner_id: int, module: str) -> str | None:
    """The partner's negotiated version when it is registered and receives ``module``."""
    partner = await session.get(Partner, partner_id)
    if partner is None or partner.status != REGISTERED or partner.version is None:
        return None
    for endpoint in partner.endpoints or []:
        if endpoint.get("identifier") == module and str(endpoint.get("role")).upper() == RECEIVER:
            return partner.version
    return None


def new_row(tx: Transaction, owner: TokenOwner, now: datetime) -> RoamingSession:
    return RoamingSession(
        transaction_pk=tx.id,
        session_id=session_id_of(tx.id),
        partner_id=owner.partner_id,
        token_country_code=owner.country_code.upper(),
        token_party_id=owner.party_id.upper(),
        token_uid=owner.uid[:36],
        token_type=owner.type,
        contract_id=owner.contract_id[:36],
        auth_method=owner.auth_method,
        authorization_reference=owner.authorization_reference,
        last_updated=now,
        put_sent=False,
        completed_sent=False,
        created_at=now,
    )


def _canonical(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)


class SessionPushes:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        cpo: CpoIdentity,
        tokens: TokenOwnerResolver,
        interval_s: float = 60.0,
        default_currency: str = "EUR",
        wake: Callable[[], None] | None = None,
    ) -> None:
        self._db = db
        self._wake = wake
        self._clock = clock
        self._cpo = cpo
        self._tokens = tokens
        self._interval = interval_s
        self._currency = default_currency
        self._locks = KeyedLocks()
        self._waiting: set[int] = set()
        self._last_patch: dict[int, float] = {}
        self._last_said: dict[int, str] = {}  # pk -> the last PATCH sent (but last_updated)
        self.pushes = 0

    def subscribe(self, bus: EventBus) -> None:
        bus.subscribe(TransactionStarted, self.on_started)
        bus.subscribe(MeterValuesRecorded, self.on_meter_values)
        bus.subscribe(SessionCostUpdated, self.on_cost)
        bus.subscribe(TransactionEnded, self.on_ended)
        bus.subscribe(CdrIssued, self.on_cdr)

    async def on_started(self, ev: TransactionStarted) -> None:
        await self.sync(ev.transaction_pk)

    async def on_meter_values(self, ev: MeterValuesRecorded) -> None:
        if ev.transaction_pk is not None:
            await self._coalesced(ev.transaction_pk)

    async def on_cost(self, ev: SessionCostUpdated) -> None:
        await self._coalesced(ev.transaction_pk)

    async def on_ended(self, ev: TransactionEnded) -> None:
        await self.sync(ev.transaction_pk)

    async def on_cdr(self, ev: CdrIssued) -> None:
        await self.sync(ev.transaction_pk, cdr_id=ev.cdr_id)

    async def _coalesced(self, pk: int) -> None:
        if pk in self._waiting:
            return  # a PATCH is queued and will read everything committed so far
        self._waiting.add(pk)
        try:
            loop = asyncio.get_running_loop()
            wait = self._last_patch.get(pk, -math.inf) + self._interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self._waiting.discard(pk)
            await self.sync(pk)
        finally:
            self._waiting.discard(pk)

    async def sync(self, pk: int, *, cdr_id: str | None = None) -> None:
        """Bring the partner up to date with session ``pk`` (and post CDR ``cdr_id``)."""
        async with self._locks.hold(pk), self._db.unit_of_work() as uow:
            session = uow.session
            tx = await session.get(Transaction, pk)
            if tx is None:
                return
            now = self._clock.now()
            row = await session.get(RoamingSession, pk)
            if row is None:
                owner = await self._tokens.owner_of(session, tx)
                if owner is None:  # one of Borne's own tokens: no partner sees it
                    # looked at again at most every interval (meter values coalesce), not on
                    # every reading: most sessions are local, this is the hot path
                    self._remember(pk, tx.state == ACTIVE)
                    return
                row = new_row(tx, owner, now)
                session.add(row)
                await session.flush()
            before = row.last_updated
            row.last_updated = max(now, row.last_updated)
            done = row.completed_sent
            said = await self._push_session(session, tx, row)
            if said is None:
                row.last_updated = before  # nothing changed for the partner
            if cdr_id is not None:
                await self._post_cdr(session, row, cdr_id)
            await uow.commit()
        if self._wake is not None:
            self._wake()
        if done or row.completed_sent:
            self._last_said.pop(pk, None)  # nothing follows COMPLETED
        elif said:
            self._last_said[pk] = said  # once committed: a failed commit forgets nothing
        self._remember(pk, tx.state == ACTIVE and not (done or row.completed_sent))

    def _remember(self, pk: int, active: bool) -> None:
        if active:
            self._last_patch[pk] = asyncio.get_running_loop().time()
        else:
            self._last_patch.pop(pk, None)

    async def _push_session(
        self, session: AsyncSession, tx: Transaction, row: RoamingSession
    ) -> str | None:
        """Enqueue the push the session needs; None when there is nothing new to say, else
        what a PATCH said (without ``last_updated``; "" for a PUT or a pull-only partner)."""
        if row.completed_sent:
            return None  # COMPLETED is final: no more modifications
        version = await receiver_version(session, row.partner_id, "sessions")
        if version is None:
            return ""  # pull only (the pull order still moves)
        facts = await facts_of(session, tx, row, cpo=self._cpo, default_currency=self._currency)
        path = f"/{self._cpo.country_code}/{self._cpo.party_id}/{row.session_id}"
        said = ""
        if not row.put_sent:
            method, body = "PUT", session_document(facts, version)
            row.put_sent = True
        else:
            fields: tuple[str, ...]
            if facts.status == COMPLETED:
                fields = COMPLETED_FIELDS
            elif tx.state != ACTIVE:
                fields = ENDED_FIELDS
            else:
                fields = PROGRESS_FIELDS
            method, body = "PATCH", session_patch(facts, version, fields)
            if fields != COMPLETED_FIELDS:
                said = _canonical({k: v for k, v in body.items() if k != "last_updated"})
                if self._last_said.get(row.transaction_pk) == said:
                    return None
        row.completed_sent = facts.status == COMPLETED
        await enqueue(
            session,
            partner_id=row.partner_id,
            key=f"sessions:{self._cpo.country_code}/{self._cpo.party_id}/{row.session_id}",
            method=method,
            module="sessions",
            interface=RECEIVER,
            path=path,
            body=body,
            now=row.last_updated,
        )
        self.pushes += 1
        return said

    async def _post_cdr(self, session: AsyncSession, row: RoamingSession, cdr_id: str) -> None:
        version = await receiver_version(session, row.partner_id, "cdrs")
        if version is None:
            return  # the partner pulls CDRs
        posted = await session.scalar(
            select(RoamingCdrPost.id).where(
                RoamingCdrPost.partner_id == row.partner_id, RoamingCdrPost.cdr_id == cdr_id
            )
        )
        if posted is not None:
            return  # never the same CDR twice
        cdr = (await session.scalars(select(Cdr).where(Cdr.cdr_id == cdr_id))).first()
        if cdr is None or cdr.transaction_pk != row.transaction_pk:
            return
        try:
            body = partner_cdr(cdr, row, version, self._cpo)
        except LookupError:
            log.warning(
                "CDR %s has no OCPI %s form: not pushed to partner %d (2.3.0 partners only)",
                cdr_id, version, row.partner_id,
            )  # fmt: skip
            return
        outbox_id = await enqueue(
            session,
            partner_id=row.partner_id,
            key=f"cdrs:{self._cpo.country_code}/{self._cpo.party_id}/{row.session_id}",
            method="POST",
            module="cdrs",
            interface=RECEIVER,
            body=body,
            now=row.last_updated,
        )
        session.add(
            RoamingCdrPost(
                partner_id=row.partner_id,
                cdr_id=cdr_id,
                outbox_id=outbox_id,
                created_at=row.last_updated,
            )
        )
        await session.flush()
        self.pushes += 1
