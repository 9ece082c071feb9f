"""The OCPP WebSocket server: upgrade checks, authentication, one ``OcppSession`` per socket.

Before the upgrade (``process_request``), in this order, each refusal an HTTP answer sent before
any OCPP is processed:

1. path ``{prefix}/{station_id}``, otherwise 404. The station id is the last path segment,
   percent-decoded exactly once (UTF-8), non-empty, at most 48 characters, without ``:``, ``/``
   or control characters after decoding, otherwise 400 (R6). Percent-encoding is just a
   spelling: ``CP%31`` *is* ``CP1``. The decoded id is the only identity used afterwards
   (throttling, ``directory.admit`` which checks the Basic username against it, the registry),
   so an encoded form can neither skip authentication nor reach another station's socket.
   ``%25`` decodes to a literal ``%`` and is not decoded again.
2. subprotocol: the best common version in ``PREFERENCE`` order (``ocpp2.0.1``, then
   ``ocpp1.6``); none offered in common → HTTP 400 (R6). Refusing the upgrade is clearer to the
   station than accepting without a subprotocol and closing with 1002 afterwards.
3. failed-login limits (``FailureLimiter``): over the limit → 429 with ``Retry-After``, the
   directory is not asked (R25).
4. HTTP Basic credentials (malformed → 401) and ``directory.admit``; a refusal answers the
   admission's status (401 with ``WWW-Authenticate``) (R23). Every refused login is counted by
   the limiter and stored through ``directory.record_failed_login`` (R25). Passwords and the
   ``Authorization`` header are never logged: the ``websockets`` logger given to the server
   never logs at DEBUG, the level where it would print request headers (R24).

TLS (security profiles 2 and 3, ``borne.ocpp.tls``): given an ``ssl_context`` the gateway serves
``wss://`` on ``port``, or on ``tls_port`` while ``port`` keeps serving ``ws://`` (stations move
from profile 1 to 2 one by one). The handshake accepts TLS >= 1.2 only and ends on an invalid,
expired or untrusted client certificate; at step 4 a client certificate whose CN is not the
station id is refused (403), and the directory gets the TLS facts (``TlsPeer``) to refuse a
station configured for a higher profile than the connection offers: profile 2 or 3 over plain
``ws://``, profile 3 without a certificate (R26).

Admission back-pressure (R20), checked before step 3 because steps 3 and 4 cost database reads,
writes and a password hash: at most ``max_concurrent_admissions`` upgrades run steps 3 and 4 at
once and at most ``max_pending_admissions`` wait for a turn, each for at most half the handshake's
``open_timeout`` (so the station gets an answer rather than a dropped socket). Beyond that, and when
``max_connections`` sockets are already held, the upgrade is answered 503 with a small jittered
``Retry-After`` (estimated from the current admission rate) before any work is done; stations
retry, and a restart storm is admitted at the rate the database sustains instead of timing out.
Refusals are logged at most once per second, with counts.

After the upgrade: the session is registered (an authenticated newcomer replaces the current
connection, whose socket is then closed with 1000 in the background; the old connection's
cleanup cannot unregister its successor, R18), ``directory.connected`` is called, and frames are
read in one task per connection and fed to the session.

Transport limits: ``max_size`` (frames above it are refused by ``websockets`` with close 1009,
from the frame header, without buffering them), ``ping_interval``/``ping_timeout`` (half-open
sockets are dropped, R19), ``write_limit`` and a ``send_timeout`` on every send: a station that
stops reading has its connection aborted instead of growing server memory (R21).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import math
import random
import resource
import ssl
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote
from weakref import WeakKeyDictionary

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.typing import Subprotocol

from borne.core.registry import ConnectionRegistry
from borne.ocpp.context import StationSessionState
from borne.ocpp.directory import Admission, StationDirectory, TlsPeer
from borne.ocpp.dispatch import InboundDispatcher
from borne.ocpp.router import Router
from borne.ocpp.session import OcppSession
from borne.ocpp.throttle import FailureLimiter
from borne.ocpp.tls import peer_of
from borne.ocpp.validation import PayloadValidator
from borne.ocpp.versions import PREFERENCE, OcppVersion

log = logging.getLogger(__name__)

MAX_STATION_ID_LENGTH = 48


class _NoDebugLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """``websockets`` logs request headers (``Authorization`` included) at DEBUG: never let it.

    Its INFO lines ("connection open", "connection rejected", "connection closed", one or two
    per socket) are not let through either: the gateway logs connections itself, and during a
    reconnect storm formatting them cost a third of the CPU (refusals are counted instead)."""

    def isEnabledFor(self, level: int) -> bool:
        return level >= logging.WARNING and self.logger.isEnabledFor(level)


def parse_station_id(segment: str) -> str | None:
    """The station identity of a raw path segment, or None when it is not acceptable."""
    try:
        station_id = unquote(segment, errors="strict")
    except UnicodeDecodeError:
        return None
    if not station_id or len(station_id) > MAX_STATION_ID_LENGTH:
        return None
    if ":" in station_id or "/" in station_id:
        return None
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in station_id):
        return None
    return station_id


def negotiate(offered: list[str]) -> OcppVersion | None:
    """The best version both sides speak."""
    for version in PREFERENCE:
        if version.value in offered:
            return version
    return None


def parse_basic_auth(header: str | None) -> tuple[str, str] | None:
    """``(username, password)`` of an ``Authorization: Basic`` header; raises ``ValueError``
    when the header is there but malformed; None when there is none."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token:
        raise ValueError("not Basic credentials")
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError("undecodable Basic credentials") from None
    username, sep, password = decoded.partition(":")
    if not sep:
        raise ValueError("Basic credentials without ':'")
    return username, password


class AdmissionBusy(Exception):
    """No admission slot in time: the upgrade is answered 503."""


class AdmissionGate:
    """Bounds the upgrades being admitted at once and those waiting for a turn (R20).

    ``slot()`` raises ``AdmissionBusy`` at once when ``max_pending`` upgrades already wait, or
    after ``max_wait_s`` without a turn. The drain rate (admissions per second, smoothed) gives
    the ``Retry-After`` suggested to refused stations.
    """

    def __init__(
        self,
        max_concurrent: int,
        max_pending: int,
        *,
        max_wait_s: float = 5.0,
        max_retry_after_s: int = 30,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        if max_pending < 0:
            raise ValueError("max_pending must not be negative")
        self.max_concurrent = max_concurrent
        self.max_pending = max_pending
        self.max_wait_s = max_wait_s
        self.max_retry_after_s = max_retry_after_s
        self._clock = clock
        self._semaphore = asyncio.Semaphore(max_concurrent)
        self.in_flight = 0
        self.waiting = 0
        self.admitted = 0  # slots granted since the start
        self._rate = 0.0  # slots completed per second, smoothed
        self._window_start = clock()
        self._window_done = 0

    @property
    def held(self) -> int:
        """Upgrades inside the gate: running or waiting."""
        return self.in_flight + self.waiting

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self.in_flight >= self.max_concurrent or self._semaphore.locked():
            if self.waiting >= self.max_pending:
                raise AdmissionBusy("admission queue full")
            self.waiting += 1
            try:
                async with asyncio.timeout(self.max_wait_s):
                    await self._semaphore.acquire()
            except TimeoutError:
                raise AdmissionBusy("no admission slot in time") from None
            finally:
                self.waiting -= 1
        else:
            await self._semaphore.acquire()  # free: returns at once
        self.in_flight += 1
        self.admitted += 1
        try:
            yield
        finally:
            self.in_flight -= 1
            self._semaphore.release()
            self._completed()

    def _completed(self) -> None:
        self._window_done += 1
        now = self._clock()
        elapsed = now - self._window_start
        if elapsed >= 1.0:
            rate = self._window_done / elapsed
            self._rate = rate if self._rate == 0.0 else 0.5 * self._rate + 0.5 * rate
            self._window_start, self._window_done = now, 0

    def retry_after_s(self) -> int:
        """Seconds a refused station should wait: about the time to drain what is queued,
        jittered (0.5 to 1.5 times that) so refused stations do not all come back together."""
        backlog = self.held + 1
        estimate = backlog / self._rate if self._rate > 0 else 2.0
        low = max(1.0, 0.5 * estimate)
        high = max(low + 1.0, 1.5 * estimate)
        return min(self.max_retry_after_s, max(1, math.ceil(random.uniform(low, high))))


class _RateLimitedLog:
    """Counts events and logs them at most once per ``interval_s``."""

    def __init__(self, interval_s: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self._interval = interval_s
        self._clock = clock
        self._last = -math.inf
        self._counts: dict[str, int] = {}
        self.total = 0

    def note(self, reason: str, detail: str) -> None:
        self.total += 1
        self._counts[reason] = self._counts.get(reason, 0) + 1
        now = self._clock()
        if now - self._last >= self._interval:
            self.flush(detail)
            self._last = now

    def flush(self, detail: str = "") -> None:
        if not self._counts:
            return
        counts = ", ".join(f"{n} {reason}" for reason, n in sorted(self._counts.items()))
        log.warning("OCPP upgrades refused with 503 (overload): %s%s", counts, detail)
        self._counts.clear()


def raise_open_files_limit() -> int:
    """Raise the soft open-files limit to the hard one (one descriptor per station); return
    the soft limit in force afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1_048_576)
    if soft == resource.RLIM_INFINITY or (soft >= target):
        return int(soft)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return int(soft)
    return int(target)


class _Keepalive:
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
        log.info("%s: no pong within %.1fs; connection dropped", _remote_of(ws), self._timeout)
        try:
            async with asyncio.timeout(self._close_timeout):
                await ws.close(1011, "keepalive ping timeout")
        except TimeoutError:
            ws.transport.abort()


class _Link:
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


@dataclass(frozen=True, slots=True)
class _Admitted:
    station_id: str
    admission: Admission
    remote: str


class OcppGateway:
    """The OCPP-J WebSocket server of one process."""

    def __init__(
        self,
        routers: Mapping[OcppVersion, Router],
        directory: StationDirectory,
        registry: ConnectionRegistry,
        limiter: FailureLimiter,
        *,
        host: str = "127.0.0.1",
        port: int = 9000,
        path_prefix: str = "/ocpp",
        max_frame_bytes: int = 65_536,
        ping_interval_s: float | None = 30.0,
        ping_timeout_s: float | None = 30.0,
        write_limit_bytes: int = 65_536,
        send_timeout_s: float = 30.0,
        call_timeout_s: float = 30.0,
        call_queue_limit: int = 100,
        close_timeout_s: float = 10.0,
        open_timeout_s: float = 10.0,
        max_concurrent_admissions: int = 64,
        max_pending_admissions: int = 1000,
        max_connections: int = 0,
        validators: Mapping[OcppVersion, PayloadValidator] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        tls_port: int | None = None,
    ) -> None:
        if not routers:
            raise ValueError("the gateway needs a router for at least one OCPP version")
        self._dispatchers: dict[OcppVersion, InboundDispatcher] = {}
        for version, router in routers.items():
            if router.version is not version:
                raise ValueError(f"router for {router.version} given as {version}")
            validator = (
                validators[version]
                if validators is not None and version in validators
                else PayloadValidator(version)
            )
            self._dispatchers[version] = InboundDispatcher(router, validator)
        self._subprotocols = [Subprotocol(v.value) for v in PREFERENCE if v in routers]
        self._directory = directory
        self._registry = registry
        self._limiter = limiter
        self._host = host
        self._port = port
        self._prefix = path_prefix.rstrip("/") + "/"
        self._max_frame_bytes = max_frame_bytes
        self._write_limit = write_limit_bytes
        self._send_timeout = send_timeout_s
        self._call_timeout = call_timeout_s
        self._queue_limit = call_queue_limit
        self._close_timeout = close_timeout_s
        self._open_timeout = open_timeout_s
        # A queued upgrade gives up (503) well before the handshake's own open timeout.
        self._gate = AdmissionGate(
            max_concurrent_admissions,
            max_pending_admissions,
            max_wait_s=max(0.1, open_timeout_s / 2),
        )
        self._max_connections = max_connections
        self._open_connections = 0
        self._overload_log = _RateLimitedLog()
        self._keepalive = (
            _Keepalive(ping_interval_s, ping_timeout_s, close_timeout_s)
            if ping_interval_s is not None
            else None
        )
        self._ssl = ssl_context
        self._tls_port = tls_port
        self._server: Server | None = None  # plain ws://, or wss:// when TLS replaces it
        self._tls_server: Server | None = None  # wss:// beside ws:// (``tls_port`` given)
        self._admitted: WeakKeyDictionary[ServerConnection, _Admitted] = WeakKeyDictionary()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ws_logger = _NoDebugLogger(logging.getLogger("borne.ocpp.websockets"), {})

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._server is not None:
            return
        fd_limit = raise_open_files_limit()
        if fd_limit < (self._max_connections or 10_000) + 100:
            log.warning(
                "open-files limit is %d: fewer stations than expected can connect "
                "(raise the hard limit, e.g. ulimit -Hn or LimitNOFILE=)",
                fd_limit,
            )
        side_by_side = self._ssl is not None and self._tls_port is not None
        self._server = await self._serve(self._port, None if side_by_side else self._ssl)
        if side_by_side:
            try:
                self._tls_server = await self._serve(self._tls_port or 0, self._ssl)
            except BaseException:
                self._server.close()
                await self._server.wait_closed()
                self._server = None
                raise
        if self._keepalive is not None:
            self._keepalive.start()
        scheme = "wss" if self._ssl is not None and not side_by_side else "ws"
        log.info(
            "OCPP gateway listening on %s://%s:%d%s{station_id}%s",
            scheme,
            self._host,
            self.port,
            self._prefix,
            f" and wss:// on port {self.tls_port}" if side_by_side else "",
        )

    async def _serve(self, port: int, context: ssl.SSLContext | None) -> Server:
        return await serve(
            self._handler,
            self._host,
            port,
            ssl=context,
            process_request=self._process_request,
            subprotocols=self._subprotocols,
            max_size=self._max_frame_bytes,
            # One gateway-wide keepalive task pings every connection (``_Keepalive``).
            ping_interval=None,
            ping_timeout=None,
            write_limit=self._write_limit,
            close_timeout=self._close_timeout,
            open_timeout=self._open_timeout,
            compression=None,
            logger=self._ws_logger,
        )

    async def stop(self) -> None:
        server, self._server = self._server, None
        tls_server, self._tls_server = self._tls_server, None
        if server is None:
            return
        if self._keepalive is not None:
            await self._keepalive.stop()
        servers = [s for s in (server, tls_server) if s is not None]
        for each in servers:
            each.close()
        for each in servers:
            await each.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._overload_log.flush()
        log.info("OCPP gateway stopped")

    @property
    def port(self) -> int:
        """The bound port (useful when constructed with port 0): ``wss://`` when TLS replaces
        ``ws://`` (``tls`` is true and ``tls_port`` is None), else ``ws://``."""
        return _bound_port(self._server, self._port)

    @property
    def tls(self) -> bool:
        """The gateway serves ``wss://`` (on ``port`` or on ``tls_port``)."""
        return self._ssl is not None

    @property
    def tls_port(self) -> int | None:
        """The bound ``wss://`` port when it is served beside ``ws://``, else None."""
        if self._ssl is None or self._tls_port is None:
            return None
        return _bound_port(self._tls_server, self._tls_port)

    def dispatcher(self, version: OcppVersion) -> InboundDispatcher:
        return self._dispatchers[version]

    @property
    def open_connections(self) -> int:
        """Upgraded connections whose handler runs (replaced ones until their socket closes)."""
        return self._open_connections

    @property
    def admission_stats(self) -> dict[str, int]:
        """Upgrades being admitted, waiting for a turn, admitted so far, refused with 503."""
        gate = self._gate
        return {
            "in_flight": gate.in_flight,
            "waiting": gate.waiting,
            "admitted": gate.admitted,
            "refused_busy": self._overload_log.total,
        }

    # -- before the upgrade ------------------------------------------------------------------

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        path = request.path.partition("?")[0]
        if not path.startswith(self._prefix):
            return connection.respond(HTTPStatus.NOT_FOUND, "Not found\n")
        segment = path[len(self._prefix) :]
        if not segment or "/" in segment:
            return connection.respond(HTTPStatus.NOT_FOUND, "Not found\n")
        station_id = parse_station_id(segment)
        if station_id is None:
            return connection.respond(HTTPStatus.BAD_REQUEST, "Invalid station identity\n")
        offered = [
            p.strip()
            for value in request.headers.get_all("Sec-WebSocket-Protocol")
            for p in value.split(",")
        ]
        version = negotiate([p for p in offered if p in self._subprotocols])
        if version is None:
            return connection.respond(
                HTTPStatus.BAD_REQUEST,
                "No common OCPP version; offer one of " + ", ".join(self._subprotocols) + "\n",
            )
        remote = _remote_of(connection)
        gate = self._gate
        if self._max_connections and (self._open_connections + gate.held >= self._max_connections):
            return self._busy(connection, "connection limit reached")
        try:
            async with gate.slot():
                return await self._admit(connection, request, station_id, remote)
        except AdmissionBusy as exc:
            return self._busy(connection, str(exc))

    def _busy(self, connection: ServerConnection, reason: str) -> Response:
        """503 with a jittered ``Retry-After``, before any work; logged once a second at most."""
        gate = self._gate
        self._overload_log.note(
            reason,
            f" (admitting {gate.in_flight}, waiting {gate.waiting}, "
            f"connected {self._open_connections})",
        )
        response = connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "Server busy, retry later\n")
        response.headers["Retry-After"] = str(gate.retry_after_s())
        return response

    async def _admit(
        self, connection: ServerConnection, request: Request, station_id: str, remote: str
    ) -> Response | None:
        """Failed-login limits, credentials and the directory (inside an admission slot)."""
        if self._limiter.blocked(station_id, remote):
            await self._record_failure(station_id, remote, "too many failed logins")
            response = connection.respond(HTTPStatus.TOO_MANY_REQUESTS, "Too many attempts\n")
            response.headers["Retry-After"] = str(max(1, int(self._limiter.window_s)))
            return response
        try:
            credentials = parse_basic_auth(request.headers.get("Authorization"))
        except ValueError as exc:
            return await self._refuse(
                connection, station_id, remote, HTTPStatus.UNAUTHORIZED, str(exc)
            )
        username, password = credentials if credentials is not None else (None, None)
        peer = peer_of(connection.transport)
        if peer is not None and peer.has_certificate and peer.client_cn != station_id:
            return await self._refuse(
                connection,
                station_id,
                remote,
                HTTPStatus.FORBIDDEN,
                "client certificate CN is not the station id",
            )
        try:
            admission = await self._ask_directory(station_id, username, password, remote, peer)
        except Exception:
            log.exception("station %s: admission failed", station_id)
            response = connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "Try again later\n")
            response.headers["Retry-After"] = str(self._gate.retry_after_s())
            return response
        if not admission.accepted:
            return await self._refuse(
                connection,
                station_id,
                remote,
                admission.http_status,
                admission.reason or f"refused ({admission.http_status})",
            )
        self._limiter.record_success(station_id)
        self._admitted[connection] = _Admitted(station_id, admission, remote)
        return None

    async def _ask_directory(
        self,
        station_id: str,
        username: str | None,
        password: str | None,
        remote: str,
        peer: TlsPeer | None,
    ) -> Admission:
        if peer is None:  # plain: the historical call, which every directory accepts
            return await self._directory.admit(station_id, username, password, remote)
        return await self._directory.admit(station_id, username, password, remote, tls=peer)

    async def _refuse(
        self,
        connection: ServerConnection,
        station_id: str,
        remote: str,
        status: int,
        reason: str,
    ) -> Response:
        self._limiter.record_failure(station_id, remote)
        await self._record_failure(station_id, remote, reason)
        log.info("station %s from %s refused (%d): %s", station_id, remote, status, reason)
        response = connection.respond(status, "Unauthorized\n" if status == 401 else "Refused\n")
        if status == HTTPStatus.UNAUTHORIZED:
            response.headers["WWW-Authenticate"] = 'Basic realm="OCPP", charset="UTF-8"'
        return response

    async def _record_failure(self, station_id: str, remote: str, reason: str) -> None:
        try:
            await self._directory.record_failed_login(station_id, remote, reason)
        except Exception:
            log.exception("station %s: recording a failed login failed", station_id)

    # -- after the upgrade -------------------------------------------------------------------

    async def _handler(self, ws: ServerConnection) -> None:
        admitted = self._admitted.pop(ws, None)
        if admitted is None or ws.subprotocol is None:  # cannot happen: process_request ran
            await ws.close(1011, "not admitted")
            return
        station_id, remote = admitted.station_id, admitted.remote
        version = OcppVersion(ws.subprotocol)
        # The handshake is over: its headers are not needed any more and would otherwise stay
        # in memory as long as the station is connected (``ws.request`` itself must stay: the
        # connection tells the handshake from later frames by it).
        if ws.request is not None:
            ws.request.headers.clear()
        ws.response = None
        send_timeout = self._send_timeout
        link = _Link(ws, station_id, send_timeout)
        session = OcppSession(
            station_id,
            version,
            dispatcher=self._dispatchers[version],
            send=link.send,
            close=link.close,
            state=StationSessionState(
                registration_status=admitted.admission.registration_status,
                leniency=admitted.admission.leniency,
            ),
            call_timeout=self._call_timeout,
            queue_limit=self._queue_limit,
            remote=remote,
        )
        del admitted, link  # this frame lives as long as the connection: keep it small
        self._open_connections += 1
        keepalive = self._keepalive
        if keepalive is not None:
            keepalive.add(ws)
        old = self._registry.register(session)
        if old is not None:
            log.info(
                "station %s: new connection from %s replaces the previous one", station_id, remote
            )
            self._spawn(old.close(1000, "replaced by a new connection"), f"close-old-{station_id}")
        del old  # not kept alive by this frame for as long as the new connection lasts
        try:
            await self._hook(self._directory.connected(station_id, version, remote), station_id)
            log.info("station %s connected (%s) from %s", station_id, version.value, remote)
            async for message in ws:
                await session.on_frame(message)
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("station %s: connection failed", station_id)
        finally:
            self._open_connections -= 1
            if keepalive is not None:
                keepalive.discard(ws)
            session.connection_lost()
            if self._registry.unregister(session):
                await self._hook(self._directory.disconnected(station_id), station_id)
            await session.wait_closed(grace_s=send_timeout)
            log.info(
                "station %s disconnected (%s) from %s: code %s %s",
                station_id,
                version.value,
                remote,
                ws.close_code,
                ws.close_reason or "",
            )

    async def _hook(self, coro: Coroutine[Any, Any, None], station_id: str) -> None:
        try:
            await coro
        except Exception:
            log.exception("station %s: directory hook failed", station_id)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _bound_port(server: Server | None, configured: int) -> int:
    if server is None:
        return configured
    for sock in server.sockets:
        return int(sock.getsockname()[1])
    return configured


def _remote_of(connection: ServerConnection) -> str:
    try:
        address = connection.remote_address
    except Exception:
        return ""
    if isinstance(address, tuple) and address:
        return str(address[0])
    return str(address or "")
