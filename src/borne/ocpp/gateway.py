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
import logging
import ssl
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from weakref import WeakKeyDictionary

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from borne.core.registry import ConnectionRegistry
from borne.ocpp.admission import (
    AdmissionBusy,
    AdmissionGate,
    RateLimitedLog,
    raise_open_files_limit,
)
from borne.ocpp.context import StationSessionState
from borne.ocpp.directory import Admission, StationDirectory, TlsPeer
from borne.ocpp.dispatch import InboundDispatcher
from borne.ocpp.handshake import (
    negotiate,
    parse_basic_auth,
    parse_station_id,
)
from borne.ocpp.keepalive import Keepalive, Link, remote_of
from borne.ocpp.router import Router
from borne.ocpp.session import OcppSession
from borne.ocpp.throttle import FailureLimiter
from borne.ocpp.tls import peer_of
from borne.ocpp.validation import PayloadValidator
from borne.ocpp.versions import PREFERENCE, OcppVersion

log = logging.getLogger(__name__)


class _NoDebugLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """``websockets`` logs request headers (``Authorization`` included) at DEBUG: never let it.

    Its INFO lines ("connection open", "connection rejected", "connection closed", one or two
    per socket) are not let through either: the gateway logs connections itself, and during a
    reconnect storm formatting them cost a third of the CPU (refusals are counted instead)."""

    def isEnabledFor(self, level: int) -> bool:
        return level >= logging.WARNING and self.logger.isEnabledFor(level)


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
        self._overload_log = RateLimitedLog()
        self._keepalive = (
            Keepalive(ping_interval_s, ping_timeout_s, close_timeout_s)
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
            # One gateway-wide keepalive task pings every connection (``Keepalive``).
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
        remote = remote_of(connection)
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
        link = Link(ws, station_id, send_timeout)
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
