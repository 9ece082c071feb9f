"""Push of tariff changes to partners (OCPI Tariffs module, CPO sender, push model).

On ``TariffChanged`` (published after the tariffs domain commits), one PUT of the whole Tariff
object goes to every registered partner that has a tariffs RECEIVER endpoint and sees the
tariff (:mod:`borne.roaming.tariffs`), in that partner's version, through the outbox (R33:
durable, ordered per object by the key ``tariffs:CC/PPP/id``). A DELETE goes to a partner
whose latest push of that object was a PUT and that no longer sees it: the tariff was deleted,
re-scoped to another partner or to a token group, or has no form in the partner's version.

Limits: the outbox row is written in its own transaction right after the tariff's commit (the
tariffs domain cannot call roaming inside its transaction), so a crash in between loses that
push until :func:`enqueue_all` resynchronises a partner; and "was it sent to that partner"
is read from the outbox history, so a withdrawal after the history was purged is not sent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from borne.core.bus import EventBus
from borne.core.clock import Clock
from borne.core.uow import Database
from borne.ocpi.outbox import enqueue
from borne.ocpi.outbox_models import OcpiOutboxRow
from borne.roaming import partners
from borne.roaming.partners import PartnerLink
from borne.roaming.tariffs import (
    MODULE,
    CpoIdentity,
    object_key,
    object_path,
    party_keys,
    tariff_object,
    visible_to,
)
from borne.tariffs.events import TariffChanged
from borne.tariffs.models import TariffRecord

RECEIVER = "RECEIVER"


async def _last_methods(session: AsyncSession, key: str) -> dict[int, str]:
    """Per partner, the method of the latest push of ``key`` (PUT or DELETE)."""
    rows = await session.execute(
        select(OcpiOutboxRow.partner_id, OcpiOutboxRow.method)
        .where(OcpiOutboxRow.key == key)
        .order_by(OcpiOutboxRow.id)
    )
    return {int(pid): str(method) for pid, method in rows}


async def enqueue_tariff_change(
    session: AsyncSession,
    *,
    record_id: int,
    ocpi_id: str,
    links: Sequence[PartnerLink],
    me: CpoIdentity,
    now: datetime,
) -> int:
    """Write the pushes of one tariff's current state (absent record: deleted); returns how
    many rows were written. Does not commit."""
    record = await session.get(TariffRecord, record_id)
    key = object_key(ocpi_id, me)
    path = object_path(ocpi_id, me)
    last = await _last_methods(session, key)
    written = 0
    for link in links:
        if link.endpoint(MODULE, RECEIVER) is None:
            continue
        body = None
        if record is not None and visible_to(record, party_keys(link.roles)):
            body = tariff_object(record, link.version, me)
        if body is not None:
            method = "PUT"
        elif last.get(link.partner_id) == "PUT":
            method = "DELETE"
        else:
            continue
        await enqueue(
            session,
            partner_id=link.partner_id,
            key=key,
            method=method,
            module=MODULE,
            interface=RECEIVER,
            path=path,
            body=body,
            now=now,
        )
        written += 1
    return written


async def enqueue_all(
    session: AsyncSession, *, link: PartnerLink, me: CpoIdentity, now: datetime
) -> int:
    """PUT every tariff ``link``'s partner sees (after registration, or to resynchronise)."""
    if link.endpoint(MODULE, RECEIVER) is None:
        return 0
    keys = party_keys(link.roles)
    rows = await session.scalars(select(TariffRecord).order_by(TariffRecord.id))
    written = 0
    for record in rows:
        body = tariff_object(record, link.version, me) if visible_to(record, keys) else None
        if body is None:
            continue
        await enqueue(
            session,
            partner_id=link.partner_id,
            key=object_key(record.ocpi_id, me),
            method="PUT",
            module=MODULE,
            interface=RECEIVER,
            path=object_path(record.ocpi_id, me),
            body=body,
            now=now,
        )
        written += 1
    return written


class TariffPusher:
    """Subscriber of ``TariffChanged``; ``wake`` (the outbox sender's) is called after a commit
    that wrote pushes."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        me: CpoIdentity,
        *,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._me = me
        self._wake = wake

    def subscribe(self, bus: EventBus) -> None:
        bus.subscribe(TariffChanged, self.on_tariff_changed)

    async def push_all(self, partner_id: int) -> int:
        """PUT every tariff a just-registered partner sees; returns how many."""
        async with self._db.unit_of_work() as uow:
            link = await partners.get_link(uow, partner_id=partner_id)
            if link is None:
                return 0
            count = await enqueue_all(uow.session, link=link, me=self._me, now=self._clock.now())
            await uow.commit()
        if count and self._wake is not None:
            self._wake()
        return count

    async def on_tariff_changed(self, event: TariffChanged) -> None:
        async with self._db.unit_of_work() as uow:
            links = await partners.registered_links(uow)
            written = await enqueue_tariff_change(
                uow.session,
                record_id=event.record_id,
                ocpi_id=event.ocpi_id,
                links=links,
                me=self._me,
                now=self._clock.now(),
            )
            if not written:
                return
            await uow.commit()
        if self._wake is not None:
            self._wake()
