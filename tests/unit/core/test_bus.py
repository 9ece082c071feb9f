"""The in-process event bus: subscribers after commit, filters, in-transaction recorders."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession

from borne.core.bus import InProcessBus
from borne.core.supervisor import Supervisor


@dataclass(frozen=True)
class Reading:
    soc: int | None


async def test_a_filter_spares_the_task_and_a_recorder_runs_in_the_transaction() -> None:
    supervisor = Supervisor()
    bus = InProcessBus(supervisor)
    seen: list[int | None] = []
    recorded: list[tuple[Any, Reading]] = []

    async def on_reading(ev: Reading) -> None:
        seen.append(ev.soc)

    bus.subscribe(Reading, on_reading, when=lambda ev: ev.soc is not None)
    bus.subscribe_in_transaction(Reading, lambda session, ev: recorded.append((session, ev)))

    session = cast(AsyncSession, object())
    events = [Reading(None), Reading(80)]
    bus.record_in_transaction(session, events)
    assert recorded == [(session, Reading(None)), (session, Reading(80))]

    spawned_before = supervisor.running
    await bus.publish(events)
    assert supervisor.running - spawned_before == 1  # no task for the filtered-out event
    await asyncio.sleep(0.01)
    assert seen == [80]
    await supervisor.shutdown()
