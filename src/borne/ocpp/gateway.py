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
import logging
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote
from weakref import WeakKeyDictionary

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from borne.core.registry import ConnectionRegistry
from borne.ocpp.context import StationSessionState
from borne.ocpp.directory import Admission, StationDirectory
from borne.ocpp.dispatch import InboundDispatcher
from borne.ocpp.router import Router
from borne.ocpp.session import OcppSession
from borne.ocpp.throttle import FailureLimiter
from borne.ocpp.validation import PayloadValidator
from borne.ocpp.versions import PREFERENCE, OcppVersion

log = logging.getLogger(__name__)

MAX_STATION_ID_LENGTH = 48


class _NoDebugLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """``websockets`` logs request headers (``Authorization`` included) at DEBUG: never let it."""

    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


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
        validators: Mapping[OcppVersion, PayloadValidator] | None = None,
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
        self._ping_interval = ping_interval_s
        self._ping_timeout = ping_timeout_s
        self._write_limit = write_limit_bytes
        self._send_timeout = send_timeout_s
        self._call_timeout = call_timeout_s
        self._queue_limit = call_queue_limit
        self._close_timeout = close_timeout_s
        self._server: Server | None = None
        self._admitted: WeakKeyDictionary[ServerConnection, _Admitted] = WeakKeyDictionary()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ws_logger = _NoDebugLogger(logging.getLogger("borne.ocpp.websockets"), {})

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._server is not None:
            return
        self._server = await serve(
            self._handler,
            self._host,
            self._port,
            process_request=self._process_request,
            subprotocols=self._subprotocols,
            max_size=self._max_frame_bytes,
            ping_interval=self._ping_interval,
            ping_timeout=self._ping_timeout,
            write_limit=self._write_limit,
            close_timeout=self._close_timeout,
            compression=None,
            logger=self._ws_logger,
        )
        log.info(
            "OCPP gateway listening on %s:%d%s{station_id}", self._host, self.port, self._prefix
        )

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        await server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        log.info("OCPP gateway stopped")

    @property
    def port(self) -> int:
        """The bound port (useful when constructed with port 0)."""
        if self._server is None:
            return self._port
        for sock in self._server.sockets:
            return int(sock.getsockname()[1])
        return self._port

    def dispatcher(self, version: OcppVersion) -> InboundDispatcher:
        return self._dispatchers[version]

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
        try:
            admission = await self._directory.admit(station_id, username, password, remote)
        except Exception:
            log.exception("station %s: admission failed", station_id)
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "Try again later\n")
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
        send_timeout = self._send_timeout

        async def send(text: str) -> None:
            try:
                async with asyncio.timeout(send_timeout):
                    await ws.send(text)
            except TimeoutError:
                log.warning(
                    "station %s: not reading for %.1fs; connection dropped",
                    station_id,
                    send_timeout,
                )
                ws.transport.abort()
                raise ConnectionError("send timed out") from None

        async def close(code: int, reason: str) -> None:
            await ws.close(code, reason)

        session = OcppSession(
            station_id,
            version,
            dispatcher=self._dispatchers[version],
            send=send,
            close=close,
            state=StationSessionState(
                registration_status=admitted.admission.registration_status,
                leniency=admitted.admission.leniency,
            ),
            call_timeout=self._call_timeout,
            queue_limit=self._queue_limit,
            remote=remote,
        )
        old = self._registry.register(session)
        if old is not None:
            log.info(
                "station %s: new connection from %s replaces the previous one", station_id, remote
            )
            self._spawn(old.close(1000, "replaced by a new connection"), f"close-old-{station_id}")
        await self._hook(self._directory.connected(station_id, version, remote), station_id)
        log.info("station %s connected (%s) from %s", station_id, version.value, remote)
        try:
            async for message in ws:
                await session.on_frame(message)
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("station %s: connection failed", station_id)
        finally:
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


def _remote_of(connection: ServerConnection) -> str:
    try:
        address = connection.remote_address
    except Exception:
        return ""
    if isinstance(address, tuple) and address:
        return str(address[0])
    return str(address or "")
