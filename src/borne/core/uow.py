"""Unit of work: one database transaction per inbound message or request, events after commit."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from borne.core.bus import EventBus


class UnitOfWork:
    """``async with db.unit_of_work() as uow: ...; await uow.commit()``.

    Nothing is committed unless ``commit`` is called; leaving the block without it rolls back.
    Events recorded with ``add_event`` are published only once the commit has succeeded; their
    in-transaction recorders (see ``borne.core.bus``) run just before it.
    """

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], bus: EventBus) -> None:
        self._factory = session_factory
        self._bus = bus
        self._events: list[object] = []
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("unit of work used outside its 'async with' block")
        return self._session

    def add_event(self, event: object) -> None:
        self._events.append(event)

    async def commit(self) -> None:
        if self._events:
            self._bus.record_in_transaction(self.session, self._events)
        await self.session.commit()
        events, self._events = self._events, []
        if events:
            await self._bus.publish(events)

    async def __aenter__(self) -> UnitOfWork:
        self._session = self._factory()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self._session, None
        self._events = []
        if session is not None:
            try:
                await session.rollback()
            finally:
                await session.close()


class Database:
    """The engine, the session factory and the bus that units of work publish to."""

    def __init__(
        self,
        engine: AsyncEngine,
        session_factory: async_sessionmaker[AsyncSession],
        bus: EventBus,
    ) -> None:
        self.engine = engine
        self.session_factory = session_factory
        self.bus = bus

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory, self.bus)

    async def dispose(self) -> None:
        await self.engine.dispose()
