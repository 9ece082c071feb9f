"""The push journal: events partners must hear about are recorded with the change, delivered
after commit, and re-driven after a crash (R33: pushes survive a restart of Borne)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select

import borne.models  # noqa: F401  (every table for create_all)
from borne.core.bus import InProcessBus
from borne.core.clock import Clock
from borne.core.deps import Deps
from borne.core.group_commit import Batch
from borne.core.supervisor import Supervisor
from borne.core.uow import Database
from borne.roaming.events import PartnerRegistered
from borne.roaming.journal import PushJournal
from borne.roaming.journal_models import PushJournalEntry
from borne.roaming.models import Partner
from borne.transactions.events import TransactionEnded


@dataclass
class Later(Clock):
    """A clock that can be moved forward (the sweep re-drives entries past a grace period)."""

    at: datetime

    def now(self) -> datetime:
        return self.at


def ended(pk: int) -> TransactionEnded:
    return TransactionEnded(
        transaction_pk=pk,
        station_id="CP-1",
        transaction_id=f"tx-{pk}",
        started_at=datetime(2025, 1, 1, 10, tzinfo=UTC),
        stopped_at=datetime(2025, 1, 1, 11, tzinfo=UTC),
        stop_reason="Local",
        meter_start_wh=Decimal("0"),
        meter_stop_wh=Decimal("1234.5"),
        energy_wh=Decimal("1234.5"),
        flags=("offline",),
    )


async def _register_partner(db: Database, now: datetime) -> None:
    async with db.unit_of_work() as uow:
        uow.session.add(Partner(name="p", status="registered", created_at=now, updated_at=now))
        await uow.commit()


async def _entries(db: Database) -> int:
    async with db.unit_of_work() as uow:
        return int(await uow.session.scalar(select(func.count(PushJournalEntry.id))) or 0)


async def _publish(db: Database, event: object, *, commit: bool = True) -> None:
    async with db.unit_of_work() as uow:
        uow.add_event(event)
        if commit:
            await uow.commit()


async def _settle(supervisor: Supervisor) -> None:
    for _ in range(50):
        await asyncio.sleep(0.01)
        if supervisor.running <= 1:
            return


async def test_recorded_with_the_change_delivered_then_forgotten(deps: Deps) -> None:
    clock = Later(datetime(2025, 1, 1, 12, tzinfo=UTC))
    journal = PushJournal(deps.db, clock)
    seen: list[TransactionEnded] = []

    async def pusher(ev: TransactionEnded) -> None:
        seen.append(ev)

    journal.register(deps.bus, TransactionEnded, pusher)
    # no partner registered: nothing is recorded and no pusher runs (nobody to push to)
    await journal.refresh()
    assert journal.enabled is False
    await _publish(deps.db, ended(1))
    await _settle(deps.supervisor)
    assert seen == [] and await _entries(deps.db) == 0

    await _register_partner(deps.db, clock.now())
    await journal.refresh()
    assert journal.enabled
    # a change that rolls back records nothing
    await _publish(deps.db, ended(2), commit=False)
    assert await _entries(deps.db) == 0
    # a committed change: recorded in its transaction, forgotten once the pusher finished
    await _publish(deps.db, ended(3))
    assert await _entries(deps.db) == 1
    await _settle(deps.supervisor)
    assert seen[-1].transaction_pk == 3
    assert await journal.flush() == 1
    assert await _entries(deps.db) == 0

    # the same through group commit (transaction messages): recorded in the batch's transaction
    async def work(batch: Batch) -> None:
        batch.add_event(ended(4))

    await deps.committer.submit(work)
    assert await _entries(deps.db) == 1
    await _settle(deps.supervisor)
    assert seen[-1].transaction_pk == 4
    assert await journal.flush() == 1 and await _entries(deps.db) == 0


async def test_a_push_lost_to_a_crash_is_redriven_after_restart(deps: Deps, db_url: str) -> None:
    clock = Later(datetime(2025, 1, 1, 12, tzinfo=UTC))
    await _register_partner(deps.db, clock.now())

    # Before the crash: the pusher never completes (the process dies meanwhile).
    crashed = PushJournal(deps.db, clock)

    async def dying(ev: TransactionEnded) -> None:
        raise RuntimeError("process killed before the outbox row was written")

    crashed.register(deps.bus, TransactionEnded, dying)
    await crashed.refresh()
    original = ended(7)
    await _publish(deps.db, original)
    await _settle(deps.supervisor)
    assert await _entries(deps.db) == 1

    # After the restart: a new bus and journal on the same database.
    supervisor = Supervisor()
    db = Database(deps.db.engine, deps.db.session_factory, InProcessBus(supervisor))
    restarted = PushJournal(db, clock, grace_s=60)
    seen: list[TransactionEnded] = []

    async def pusher(ev: TransactionEnded) -> None:
        seen.append(ev)

    restarted.register(db.bus, TransactionEnded, pusher)
    assert await restarted.sweep() == 0  # within the grace period: maybe still in flight
    clock.at = clock.at.replace(minute=5)
    assert await restarted.sweep() == 1
    assert seen == [original]  # the same event, types and all (Decimal, datetime, tuple)
    assert await _entries(db) == 0
    assert await restarted.sweep() == 0  # once
    await supervisor.shutdown()


async def test_an_entry_for_an_event_nobody_handles_any_more_is_dropped(deps: Deps) -> None:
    clock = Later(datetime(2025, 1, 1, 12, tzinfo=UTC))
    async with deps.db.unit_of_work() as uow:
        uow.session.add(PushJournalEntry(event="Gone", payload={}, created_at=clock.now()))
        await uow.commit()
    journal = PushJournal(deps.db, clock)
    clock.at = clock.at.replace(hour=13)
    assert await journal.sweep() == 0
    assert await _entries(deps.db) == 0


async def test_journaling_starts_in_the_transaction_that_registers_a_partner(deps: Deps) -> None:
    """The first session of a partner that has just registered must be journaled and pushed,
    even if it starts before the next refresh of the flag."""
    clock = Later(datetime(2025, 1, 1, 12, tzinfo=UTC))
    journal = PushJournal(deps.db, clock)
    journal.watch_partners(deps.bus)
    await journal.refresh()
    assert journal.enabled is False
    await _publish(deps.db, PartnerRegistered(1), commit=False)  # rolled back: still off
    assert journal.enabled is False
    await _publish(deps.db, PartnerRegistered(1))
    assert journal.enabled is True
