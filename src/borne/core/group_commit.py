"""Group commit: many small units of work share one database transaction and one commit.

Transaction messages must be committed before they are acknowledged (R16), and committing each
on its own costs about a millisecond. The committer queues work items, runs a batch of them in
one transaction and commits once; every caller then gets its own result. If the batch fails, it
is rolled back and each item is retried alone, so one bad item never fails its neighbours.

A work item is an async function of the session. It must not commit, and it must be safe to run
again after a rollback (keep in-memory side effects until after ``submit`` returns).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from borne.core.bus import EventBus
from borne.core.supervisor import Supervisor

log = logging.getLogger(__name__)

T = TypeVar("T")
Work = Callable[["Batch"], Awaitable[Any]]


@dataclass
class Batch:
    """What a work item sees: the shared session, and a place to record events.

    ``defer_insert`` queues rows that the committer inserts with one executemany per table just
    before the commit, so a hot-path item (meter values) costs no database round trip of its
    own. Deferred rows are invisible to queries until ``flush``: an item that reads a table
    others may have deferred into must ``await batch.flush()`` first.
    """

    session: AsyncSession
    events: list[object] = field(default_factory=list)
    _deferred: dict[Table, list[dict[str, Any]]] = field(default_factory=dict)

    def add_event(self, event: object) -> None:
        self.events.append(event)

    def defer_insert(self, table: Table, rows: list[dict[str, Any]]) -> None:
        if rows:
            self._deferred.setdefault(table, []).extend(rows)

    async def flush(self) -> None:
        """Insert the deferred rows now (in the order they were deferred, per table)."""
        deferred, self._deferred = self._deferred, {}
        for table, rows in deferred.items():
            await self.session.execute(insert(table), rows)


@dataclass
class _Item:
    work: Work
    future: asyncio.Future[Any]


class GroupCommitter:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        bus: EventBus,
        supervisor: Supervisor,
        *,
        max_batch: int = 200,
        max_wait_ms: float = 2.0,
    ) -> None:
        self._factory = session_factory
        self._bus = bus
        self._supervisor = supervisor
        self._max_batch = max_batch
        self._max_wait = max_wait_ms / 1000
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task: asyncio.Task[Any] | None = None
        self.batches = 0
        self.items = 0

    def start(self) -> None:
        if self._task is None:
            self._task = self._supervisor.keep_running(self._run, name="group-commit")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if not item.future.done():
                item.future.set_exception(RuntimeError("server is shutting down"))

    async def submit(self, work: Callable[[Batch], Awaitable[T]]) -> T:
        """Run ``work`` in the next batch; returns its result once the batch has committed."""
        if self._task is None:
            raise RuntimeError("group committer is not started")
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Item(work, fut))
        return await fut

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            batch = [first]
            if self._queue.empty() and self._max_wait > 0:
                await asyncio.sleep(self._max_wait)
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._process(batch)

    async def _process(self, items: list[_Item]) -> None:
        self.batches += 1
        self.items += len(items)
        try:
            results, events = await self._attempt(items)
        except Exception as exc:
            if len(items) == 1:
                self._fail(items[0], exc)
                return
            log.warning("group commit of %d items failed; retrying them one by one", len(items))
            for item in items:
                try:
                    results, events = await self._attempt([item])
                except Exception as exc:
                    self._fail(item, exc)
                    continue
                self._succeed([item], results, events)
            return
        self._succeed(items, results, events)

    async def _attempt(self, items: list[_Item]) -> tuple[list[Any], list[object]]:
        async with self._factory() as session:
            batch = Batch(session)
            results: list[Any] = []
            for item in items:
                if item.future.cancelled():
                    results.append(None)
                    continue
                results.append(await item.work(batch))
            await batch.flush()
            if batch.events:
                self._bus.record_in_transaction(session, batch.events)
            await session.commit()
            return results, batch.events

    def _succeed(self, items: list[_Item], results: list[Any], events: list[object]) -> None:
        for item, result in zip(items, results, strict=True):
            if not item.future.done():
                item.future.set_result(result)
        if events:
            self._supervisor.spawn(self._bus.publish(events), name="publish-events")

    @staticmethod
    def _fail(item: _Item, exc: BaseException) -> None:
        if not item.future.done():
            item.future.set_exception(exc)
