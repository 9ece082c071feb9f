"""Connection upkeep of the gateway: one task pinging every socket (R19) and the send side of a
connection with its timeout (R21)."""

from __future__ import annotations

import asyncio
import logging

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

log = logging.getLogger("borne.ocpp.gateway")


class Keepalive:
    """Pings every connection from one task (R19) instead of a keepalive task per connection.

    Connections are spread over ``slots`` sets; every ``interval_s / slots`` one set is
    visited: a connection whose last ping is unanswered after ``timeout_s`` is closed (1011),
    one with no ping outstanding gets a new ping. Each connection is thus pinged about every
    ``interval_s``, pings are spread evenly over time, and an idle connection costs a set entry
    instead of a task, its coroutine and its timer.
    """

    def __init__(
        self,
        interval_s: float,
        timeout_s: float | None,
        close_timeout_s: float,
        slots: int = 16,
    ) -> None:
        self._interval = interval_s
        self._timeout = timeout_s
        self._close_timeout = close_timeout_s
        self._slots: list[set[ServerConnection]] = [set() for _ in range(slots)]
        self._task: asyncio.Task[None] | None = None
        self._jobs: set[asyncio.Task[None]] = set()

    def add(self, ws: ServerConnection) -> None:
        self._slots[hash(ws) % len(self._slots)].add(ws)

    def discard(self, ws: ServerConnection) -> None:
        self._slots[hash(ws) % len(self._slots)].discard(ws)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="ocpp-keepalive")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._jobs) if t is not None]
        self._task = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        tick = self._interval / len(self._slots)
        index = 0
        while True:
            await asyncio.sleep(tick)
            slot = self._slots[index]
            index = (index + 1) % len(self._slots)
            if slot:
                job = loop.create_task(self._visit(list(slot)))
                self._jobs.add(job)
                job.add_done_callback(self._jobs.discard)

    async def _visit(self, connections: list[ServerConnection]) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        for n, ws in enumerate(connections, 1):
            if n % 256 == 0:
                await asyncio.sleep(0)  # thousands of pings: let frames flow in between
            if ws.state is not State.OPEN:
                continue
            pending = ws.pending_pings
            if pending:
                sent = min(timestamp for _, timestamp in pending.values())
                if self._timeout is not None and now - sent >= self._timeout:
                    self.discard(ws)
                    job = loop.create_task(self._fail(ws))
                    self._jobs.add(job)
                    job.add_done_callback(self._jobs.discard)
                continue
            try:
                # Does not wait unless the write buffer is over its limit; then the station
                # does not read, and its unanswered ping closes it on a later visit.
                async with asyncio.timeout(1.0):
                    await ws.ping()
            except (ConnectionClosed, TimeoutError):
                continue

    async def _fail(self, ws: ServerConnection) -> None:
        log.info("%s: no pong within %.1fs; connection dropped", remote_of(ws), self._timeout)
        try:
            async with asyncio.timeout(self._close_timeout):
                await ws.close(1011, "keepalive ping timeout")
        except TimeoutError:
            ws.transport.abort()


class Link:
    """What a session sends and closes through: ``send`` gives up after ``send_timeout`` and
    aborts the socket of a station that does not read (R21). (A slotted object: cheaper per
    connection than two closures.)"""

    __slots__ = ("_station_id", "_timeout", "_ws")

    def __init__(self, ws: ServerConnection, station_id: str, send_timeout: float) -> None:
        self._ws = ws
        self._station_id = station_id
        self._timeout = send_timeout

    async def send(self, text: str) -> None:
        ws = self._ws
        try:
            async with asyncio.timeout(self._timeout):
                await ws.send(text)
        except TimeoutError:
            log.warning(
                "station %s: not reading for %.1fs; connection dropped",
                self._station_id,
                self._timeout,
            )
            ws.transport.abort()
            raise ConnectionError("send timed out") from None

    async def close(self, code: int, reason: str) -> None:
        await self._ws.close(code, reason)


def remote_of(connection: ServerConnection) -> str:
    """The peer address of a connection, for logs ("" when it is gone)."""
    try:
        address = connection.remote_address
    except Exception:
        return ""
    if isinstance(address, tuple) and address:
        return str(address[0])
    return str(address or "")
