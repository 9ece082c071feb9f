"""What every simulated station does, whatever its OCPP version.

A station connects, boots (honouring Pending and Rejected), reports its connectors, heartbeats and
runs charging sessions, while the ``ocpp`` package's receive loop answers the CSMS's commands. The
version-specific classes (`v16.Station16`, `v201.Station201`) put this mixin before the ``ocpp``
package's ``ChargePoint`` and supply the messages.

Rule kept throughout: a handler (``@on``) only answers; anything that sends a CALL of its own runs
in an ``@after`` hook or a task, since the receive loop waits for the handler and the station's
own CALL waits for the receive loop.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import random
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from ocpp.exceptions import OCPPError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from borne.simulator.config import SimulationConfig, StationReport
from borne.simulator.ev import Connector, Meter

Outcome = Literal["stop", "done", "reset", "lost"]


class CallFailed(Exception):
    """The CSMS answered a CALL with a CALLERROR."""


class SimStation:
    """Lifecycle shared by both protocol versions (a mixin over ``ocpp``'s ``ChargePoint``)."""

    subprotocol: ClassVar[str]

    if TYPE_CHECKING:  # provided by ocpp's ChargePoint, which follows this mixin in the MRO
        _connection: Any
        _response_queue: asyncio.Queue[Any]
        _call_lock: asyncio.Lock

        async def call(
            self,
            payload: Any,
            suppress: bool = True,
            unique_id: str | None = None,
            skip_schema_validation: bool = False,
        ) -> Any: ...

        async def start(self) -> None: ...

    # ------------------------------------------------------------------ set-up
    def _init_station(self, cfg: SimulationConfig, index: int) -> None:
        self.cfg = cfg
        self.station_id = cfg.station_id(index)
        self.id_tag = cfg.tag_for(index)
        self.report = StationReport(self.station_id)
        self.rng = random.Random(None if cfg.seed is None else cfg.seed * 100_003 + index)
        self.connectors: dict[int, Connector] = {
            n: Connector(n, Meter(cfg.max_power_w, cfg.battery_capacity_wh, self.rng))
            for n in range(1, cfg.connectors + 1)
        }
        for c in self.connectors.values():
            c.meter.register_wh = self.rng.uniform(1_000.0, 5_000_000.0)
        self.operative = True
        self.booted = False
        self.heartbeat_interval = cfg.heartbeat_interval or 60.0
        self.meter_interval = cfg.meter_interval
        self.boot_reason = "PowerUp"
        self._sessions_left = cfg.sessions
        self._linger = True
        self._closing = False
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._reset_type: str | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        return f"{self.cfg.url.rstrip('/')}/{self.station_id}"

    # --------------------------------------------- what each version provides
    async def boot_notification(self) -> tuple[str, float]:
        """Send BootNotification; return (status, interval)."""
        raise NotImplementedError

    async def send_status(self, connector_id: int, status: str) -> None:
        raise NotImplementedError

    async def heartbeat(self) -> None:
        raise NotImplementedError

    async def charge(
        self, c: Connector, id_tag: str, *, remote: bool, remote_start_id: int | None
    ) -> None:
        """One whole session on ``c``: authorize, start, meter values until stopped, stop.

        ``remote``: started by the CSMS (no Authorize, as with AuthorizeRemoteTxRequests off).
        """
        raise NotImplementedError

    def connector_status(self, c: Connector) -> str:
        raise NotImplementedError

    # ------------------------------------------------------------- public API
    def request_stop(self) -> None:
        """End the run: sessions end cleanly, then the station disconnects."""
        self._stopping.set()
        self._wake.set()

    async def run(self, *, linger: bool = False) -> StationReport:
        """Connect and operate until stopped (without ``linger``: until the sessions are done)."""
        self._linger = linger
        failures = 0
        headers = {}
        if self.cfg.password is not None:
            raw = f"{self.station_id}:{self.cfg.password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        while not self._stopping.is_set():
            outcome: Outcome = "lost"
            try:
                async with connect(
                    self.url,
                    subprotocols=[Subprotocol(self.subprotocol)],
                    additional_headers=headers,
                    open_timeout=self.cfg.response_timeout,
                    compression=None,
                ) as ws:
                    failures = 0
                    if ws.subprotocol != self.subprotocol:
                        self.error(f"CSMS did not accept subprotocol {self.subprotocol}")
                        return self.report
                    outcome = await self._run_connected(ws)
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                failures += 1
                self.error(f"connect: {exc!r}")
                if failures >= self.cfg.connect_attempts:
                    break
            except ConnectionClosed:
                pass
            if outcome in ("stop", "done"):
                break
            if outcome == "reset":
                self.boot_reason = "RemoteReset"
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.cfg.reconnect_delay)
        return self.report

    # ------------------------------------------------------------- connection
    async def _run_connected(self, ws: ClientConnection) -> Outcome:
        self._connection = ws
        self._response_queue = asyncio.Queue()
        self._call_lock = asyncio.Lock()
        self._closing = False
        self._reset_type = None
        self._wake.clear()
        self.report.connected = True
        self.report.connections += 1
        reader = asyncio.create_task(self._read_loop())
        worker = asyncio.create_task(self._guard(self._operate(), "operate"))
        wake = asyncio.create_task(self._wake.wait())
        try:
            await asyncio.wait({reader, wake}, return_when=asyncio.FIRST_COMPLETED)
            if reader.done():
                if not self._stopping.is_set():
                    self.error("connection closed by the CSMS")
                return "stop" if self._stopping.is_set() else "lost"
            self._closing = True
            if self._reset_type is not None:
                outcome: Outcome = "reset"
                reason = "HardReset" if self._reset_type in ("Hard", "Immediate") else "SoftReset"
            else:
                outcome = "stop" if self._stopping.is_set() else "done"
                reason = "Local"
            await self._end_sessions(reason)
            return outcome
        finally:
            self._closing = True
            self.booted = False
            pending = [reader, worker, wake, *self._tasks]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            self._tasks.clear()
            await ws.close()

    async def _read_loop(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self.start()

    async def _operate(self) -> None:
        await self._boot()
        await self.send_all_status()
        self.spawn(self._heartbeat_loop(), "heartbeat")
        await self._drive_sessions()
        if not self._linger:
            await self._wait_idle()
            self._wake.set()

    async def _boot(self) -> None:
        while True:
            status, interval = await self.boot_notification()
            self.report.boot_status = status
            if status == "Accepted":
                self.booted = True
                if self.cfg.heartbeat_interval is None and interval > 0:
                    self.heartbeat_interval = float(interval)
                return
            await asyncio.sleep(interval if interval > 0 else self.cfg.boot_retry_interval)

    async def send_all_status(self) -> None:
        for c in self.connectors.values():
            c.status = self.connector_status(c)
            await self.send_status(c.connector_id, c.status)

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            try:
                await self.heartbeat()
            except (CallFailed, TimeoutError) as exc:
                self.error(f"Heartbeat: {exc!r}")

    # --------------------------------------------------------------- sessions
    async def _drive_sessions(self) -> None:
        c = self.connectors[1]
        while (self._sessions_left is None or self._sessions_left > 0) and not self._closing:
            if c.busy or not c.operative or not self.operative:
                await asyncio.sleep(self.cfg.pause_between_sessions or 0.1)
                continue
            if self._sessions_left is not None:
                self._sessions_left -= 1
            task = self.start_session(c, self.id_tag)
            await asyncio.wait({task})
            if self._sessions_left != 0:
                await asyncio.sleep(self.cfg.pause_between_sessions)

    async def _wait_idle(self) -> None:
        tasks = [c.task for c in self.connectors.values() if c.task is not None]
        if tasks:
            await asyncio.wait(tasks)

    def start_session(
        self, c: Connector, id_tag: str, *, remote: bool = False, remote_start_id: int | None = None
    ) -> asyncio.Task[None]:
        """Run a session on ``c`` in its own task (``c`` becomes busy at once)."""
        c.busy = True
        coro = self._session(c, id_tag, remote=remote, remote_start_id=remote_start_id)
        task: asyncio.Task[None] = self.spawn(coro, "session")
        c.task = task
        return task

    async def _session(
        self, c: Connector, id_tag: str, *, remote: bool, remote_start_id: int | None
    ) -> None:
        try:
            await self.charge(c, id_tag, remote=remote, remote_start_id=remote_start_id)
        except (CallFailed, TimeoutError) as exc:
            self.error(f"session on connector {c.connector_id}: {exc!r}")
        finally:
            c.meter.unplug()
            c.reset_session()
            c.busy = False
        if not self._closing or self._reset_type is not None:
            with contextlib.suppress(CallFailed, TimeoutError, ConnectionClosed):
                c.status = self.connector_status(c)
                await self.send_status(c.connector_id, c.status)

    async def _end_sessions(self, reason: str) -> None:
        tasks = []
        for c in self.connectors.values():
            if c.busy and c.task is not None:
                c.request_stop(reason)
                tasks.append(c.task)
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=self.cfg.stop_grace)
            if late:
                self.error(f"{len(late)} session(s) did not stop within {self.cfg.stop_grace}s")

    async def meter_loop(self, c: Connector, send: Callable[[], Awaitable[None]]) -> None:
        """Charge until the session duration elapses or a stop is asked; ``send`` every interval.

        On return ``c.stop_reason`` says why the session ends (``Local`` when its time is up).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.cfg.session_duration
        last = loop.time()
        while True:
            wait = min(self.meter_interval, deadline - loop.time())
            stopped = wait <= 0 or await self.wait_stop(c, wait)
            now = loop.time()
            c.meter.advance((now - last) * self.cfg.time_scale)
            last = now
            if stopped or now >= deadline:
                c.request_stop("Local")
                return
            await send()
            self.report.meter_values_sent += 1

    async def wait_stop(self, c: Connector, seconds: float) -> bool:
        """Sleep ``seconds`` or until the session is asked to stop; True when asked."""
        try:
            await asyncio.wait_for(c.stop.wait(), seconds)
        except TimeoutError:
            return False
        return True

    # ------------------------------------------------------------- plumbing
    async def request(self, payload: Any) -> Any:
        """Send a CALL and return the typed result; CALLERROR raises `CallFailed`."""
        action = type(payload).__name__
        self.report.calls_sent[action] += 1
        try:
            return await self.call(payload, suppress=False)
        except OCPPError as exc:
            self.error(f"{action} answered with CALLERROR {type(exc).__name__}: {exc}")
            raise CallFailed(f"{action}: {exc}") from exc

    def spawn(self, coro: Coroutine[Any, Any, Any], what: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(self._guard(coro, what))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guard(self, coro: Coroutine[Any, Any, Any], what: str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except ConnectionClosed:
            pass
        except Exception as exc:
            self.error(f"{what}: {exc!r}")

    def error(self, text: str) -> None:
        self.report.errors.append(text)

    async def _send(self, message: str) -> None:
        self.report.messages_sent += 1
        await self._connection.send(message)

    async def route_message(self, raw_msg: str) -> None:
        self.report.messages_received += 1
        if raw_msg.lstrip()[1:].lstrip().startswith("2"):
            with contextlib.suppress(ValueError, IndexError, TypeError):
                self.report.calls_received[str(json.loads(raw_msg)[2])] += 1
        await super().route_message(raw_msg)  # type: ignore[misc]
