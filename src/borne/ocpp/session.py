"""The RPC engine of one station connection, independent of the transport.

``OcppSession`` is built with two coroutines, ``send(text)`` and ``close(code, reason)``, and fed
with ``await session.on_frame(text)`` by whoever reads the socket (the gateway, or a unit test).
It implements ``borne.core.registry.StationConnection``.

Inbound CALLs are answered by a worker task of the session, in arrival order, while the reader
goes on reading: a handler that calls the station and waits for its CALLRESULT does not
deadlock, and a station CALL that crosses a CSMS CALL is served (R5).

Answers to broken frames (R1 to R3):

- 2.0.1: a frame that is not JSON, not an array, has the wrong number of elements, or whose
  message id cannot be read or is over 36 characters → ``CALLERROR RpcFrameworkError`` with
  message id ``"-1"`` ("content of the call is not a valid RPC request, for example: MessageId
  could not be read", part 4 §4.3; an over-long id is not a usable id either, and echoing it
  would send a frame that breaks the limit). Unknown message type id → ``MessageTypeNotSupported``
  (with the id when readable, else ``"-1"``). A CALL whose payload is not an object →
  ``FormatViolation`` with its id. A broken CALLRESULT/CALLERROR whose id is readable is not
  answered (answering an answer would start a ping-pong); the pending call it answers fails.
- 1.6 has no ``"-1"`` convention: a broken CALL whose id is readable is answered with that id
  (``FormationViolation``, ``ProtocolError`` when the payload is missing; an over-long id is
  echoed because it is the only way the station can match the answer); anything else (no
  readable id, unknown message type, broken CALLRESULT/CALLERROR) is logged and ignored.
- A CALL whose id is still being handled → CALLERROR (2.0.1 ``RpcFrameworkError``, 1.6
  ``GenericError``) and it is not processed twice. A CALL repeated with the id and action of a
  recently completed CALL gets the cached CALLRESULT again, without running the handler (a
  bounded LRU per session). CALLERROR answers are not cached, so a retry after InternalError
  is processed again (R17).
- The socket always stays open.

Outbound calls (R5, R7): one outstanding CSMS→station CALL at a time; others wait in FIFO order,
at most ``queue_limit`` of them (``CallQueueFull`` beyond). ``timeout`` covers the whole call,
waiting in the queue included (``StationCallTimeout``). A CALLRESULT or CALLERROR that arrives
after its call timed out is logged and dropped. Payloads are validated before sending
(``InvalidInput``); a CALLERROR answer raises ``StationCallError``; a CALLRESULT that breaks the
response schema (after the station's leniency) raises ``StationCallError`` with the violation
code.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from borne.core.errors import (
    CallQueueFull,
    InvalidInput,
    StationCallError,
    StationCallTimeout,
    StationNotConnected,
)
from borne.ocpp.context import CallContext, StationSessionState
from borne.ocpp.dispatch import InboundDispatcher, Reply
from borne.ocpp.errors import ErrorCode, wire_name
from borne.ocpp.framing import (
    Call,
    CallError,
    CallResult,
    FrameError,
    FrameProblem,
    MessageType,
    encode_call,
    parse_frame,
)
from borne.ocpp.validation import Direction, SchemaViolation, UnknownAction
from borne.ocpp.versions import OcppVersion

log = logging.getLogger(__name__)

SendFn = Callable[[str], Awaitable[None]]
CloseFn = Callable[[int, str], Awaitable[None]]
Now = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class _Pending:
    __slots__ = ("action", "future", "message_id")

    def __init__(self, message_id: str, action: str, future: asyncio.Future[dict[str, Any]]):
        self.message_id = message_id
        self.action = action
        self.future = future


class OcppSession:
    """One station connection's RPC engine (a ``StationConnection``)."""

    def __init__(
        self,
        station_id: str,
        version: OcppVersion,
        *,
        dispatcher: InboundDispatcher,
        send: SendFn,
        close: CloseFn,
        state: StationSessionState | None = None,
        call_timeout: float = 30.0,
        queue_limit: int = 100,
        inbound_limit: int = 32,
        reply_cache_size: int = 64,
        remote: str = "",
        now: Now = _utcnow,
    ) -> None:
        if dispatcher.version is not version:
            raise ValueError("dispatcher is for another OCPP version")
        self._station_id = station_id
        self._version = version
        self._v16 = version is OcppVersion.V16
        self._dispatcher = dispatcher
        self._validator = dispatcher.validator
        self._send = send
        self._close = close
        self.state = state if state is not None else StationSessionState()
        self.remote = remote
        self._call_timeout = call_timeout
        self._queue_limit = queue_limit
        self._inbound_limit = inbound_limit
        self._cache_size = reply_cache_size
        self._now = now
        # Inbound: ids queued or being handled → action; recent CALLRESULTs: id → (action, text).
        self._in_progress: dict[str, str] = {}
        self._replies: OrderedDict[str, tuple[str, str]] = OrderedDict()
        # CALLs waiting for the worker. The deque and the worker task exist only while there is
        # work: an idle connection carries neither (R20/R21 memory per station).
        self._inbox: deque[Call] | None = None
        self._worker: asyncio.Task[None] | None = None
        # Outbound: the one outstanding call, and how many wait behind it.
        self._call_lock = asyncio.Lock()
        self._waiting = 0
        self._pending: _Pending | None = None
        self._closed = False

    # -- StationConnection -------------------------------------------------------------------

    @property
    def station_id(self) -> str:
        return self._station_id

    @property
    def ocpp_version(self) -> str:
        return self._version.value

    @property
    def version(self) -> OcppVersion:
        return self._version

    @property
    def closed(self) -> bool:
        return self._closed

    async def call(
        self,
        action: str,
        payload: Mapping[str, Any],
        *,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Send a CALL to the station and return its CALLRESULT payload."""
        if self._closed:
            raise StationNotConnected(f"station {self._station_id} is not connected")
        body = payload if isinstance(payload, dict) else dict(payload)
        try:
            self._validator.validate(action, Direction.REQUEST, body)
        except UnknownAction:
            raise InvalidInput(f"{action} is not an action of {self._version}") from None
        except SchemaViolation as exc:
            raise InvalidInput(
                f"{action} payload breaks the schema: {exc.description}",
                details={"code": wire_name(exc.code, self._version)},
            ) from None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self._call_timeout if timeout is None else timeout)
        queued = self._call_lock.locked()
        if queued:
            if self._waiting >= self._queue_limit:
                raise CallQueueFull(
                    f"{self._waiting} calls already wait for station {self._station_id}"
                )
            self._waiting += 1
        try:
            async with asyncio.timeout_at(deadline):
                await self._call_lock.acquire()
        except TimeoutError:
            raise StationCallTimeout(
                f"{action} to {self._station_id} timed out waiting for earlier calls"
            ) from None
        finally:
            if queued:
                self._waiting -= 1
        try:
            if self._closed:
                raise StationNotConnected(f"station {self._station_id} is not connected")
            message_id = str(uuid.uuid4())
            future: asyncio.Future[dict[str, Any]] = loop.create_future()
            self._pending = _Pending(message_id, action, future)
            text = encode_call(message_id, action, body)
            try:
                async with asyncio.timeout_at(deadline):
                    try:
                        await self._send(text)
                    except Exception as exc:  # the transport is gone or stuck
                        raise StationNotConnected(
                            f"station {self._station_id} is not connected"
                        ) from exc
                    return await future
            except TimeoutError:
                raise StationCallTimeout(
                    f"{action} to {self._station_id} got no answer in time"
                ) from None
        finally:
            self._pending = None
            self._call_lock.release()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection; pending and queued calls fail with ``StationNotConnected``."""
        self.connection_lost()
        try:
            await self._close(code, reason)
        except Exception:
            log.warning(
                "station %s: closing the connection failed", self._station_id, exc_info=True
            )

    # -- transport side ----------------------------------------------------------------------

    def connection_lost(self) -> None:
        """The transport is gone: fail the outstanding call, stop the worker after the CALL
        it is handling (a handler is not cut in the middle of its unit of work)."""
        if self._closed:
            return
        self._closed = True
        pending = self._pending
        if pending is not None and not pending.future.done():
            pending.future.set_exception(
                StationNotConnected(f"station {self._station_id} disconnected")
            )

    async def wait_closed(self, grace_s: float = 5.0) -> None:
        """Wait for the worker to finish its current CALL; cancel it after ``grace_s``."""
        worker = self._worker
        if worker is None or worker.done():
            return
        done, _ = await asyncio.wait({worker}, timeout=grace_s)
        if not done:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)

    async def on_frame(self, data: str | bytes) -> None:
        """Handle one WebSocket message from the station."""
        if self._closed:
            return
        try:
            frame = parse_frame(data)
        except FrameError as exc:
            await self._on_frame_error(exc, data)
            return
        if type(frame) is Call:
            await self._on_call(frame)
        elif type(frame) is CallResult:
            self._on_result(frame)
        else:
            assert type(frame) is CallError
            self._on_error(frame)

    # -- inbound CALLs -----------------------------------------------------------------------

    async def _on_call(self, frame: Call) -> None:
        mid = frame.message_id
        if mid in self._in_progress:
            code = ErrorCode.GENERIC_ERROR if self._v16 else ErrorCode.RPC_FRAMEWORK_ERROR
            log.warning("station %s: CALL %s reused while in progress", self._station_id, mid)
            await self._reply(self._dispatcher.error(mid, code, "message id already in progress"))
            return
        cached = self._replies.get(mid)
        if cached is not None and cached[0] == frame.action:
            self._replies.move_to_end(mid)
            log.info(
                "station %s: repeated %s %s answered from cache",
                self._station_id,
                frame.action,
                mid,
            )
            await self._safe_send(cached[1])
            return
        if len(self._in_progress) >= self._inbound_limit:
            await self._reply(
                self._dispatcher.error(mid, ErrorCode.GENERIC_ERROR, "too many calls in progress")
            )
            return
        self._in_progress[mid] = frame.action
        if self._inbox is None:
            self._inbox = deque()
        self._inbox.append(frame)
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(
                self._work(), name=f"ocpp-session-{self._station_id}"
            )

    async def _work(self) -> None:
        """Handle queued CALLs in arrival order; ends when the queue is empty (restarted by the
        next CALL) or after the CALL in hand once the connection is lost."""
        try:
            inbox = self._inbox
            while inbox and not self._closed:
                await self._handle(inbox.popleft())
        finally:
            self._worker = None
            if not self._inbox:
                self._inbox = None

    async def _handle(self, item: Call) -> None:
        dispatch = self._dispatcher.dispatch
        mid = item.message_id
        ctx = CallContext(
            station_id=self._station_id,
            version=self._version,
            message_id=mid,
            received_at=self._now(),
            connection=self,
            state=self.state,
        )
        try:
            reply = await dispatch(ctx, item.action, item.payload)
        except Exception:  # dispatch answers everything; this is a last resort
            log.exception("station %s: %s dispatch failed", self._station_id, item.action)
            reply = self._dispatcher.error(
                mid, ErrorCode.INTERNAL_ERROR, f"{item.action} could not be processed"
            )
        if reply.ok:
            replies = self._replies
            replies[mid] = (item.action, reply.text)
            replies.move_to_end(mid)
            if len(replies) > self._cache_size:
                replies.popitem(last=False)
        del self._in_progress[mid]
        await self._safe_send(reply.text)

    async def _reply(self, reply: Reply) -> None:
        await self._safe_send(reply.text)

    async def _safe_send(self, text: str) -> None:
        try:
            await self._send(text)
        except Exception as exc:
            log.debug("station %s: send failed: %r", self._station_id, exc)

    async def _on_frame_error(self, exc: FrameError, data: str | bytes) -> None:
        mid = exc.message_id
        mtype = exc.message_type
        sample = data[:120]
        if mtype in (MessageType.CALLRESULT, MessageType.CALLERROR) and mid is not None:
            log.warning(
                "station %s: broken answer frame (%s): %r",
                self._station_id,
                exc.problem.value,
                sample,
            )
            pending = self._pending
            if pending is not None and pending.message_id == mid and not pending.future.done():
                code = exc.code(self._version)
                pending.future.set_exception(
                    StationCallError(wire_name(code, self._version), exc.problem.value)
                )
            return
        if self._v16:
            if mtype is MessageType.CALL and mid is not None:
                await self._reply(
                    self._dispatcher.error(mid, exc.code(self._version), exc.problem.value)
                )
            log.warning(
                "station %s: broken frame (%s): %r", self._station_id, exc.problem.value, sample
            )
            return
        reply_id = "-1"
        if mid is not None and exc.problem in (
            FrameProblem.UNKNOWN_TYPE,
            FrameProblem.BAD_PAYLOAD,
        ):
            reply_id = mid
        log.warning(
            "station %s: broken frame (%s): %r", self._station_id, exc.problem.value, sample
        )
        await self._reply(
            self._dispatcher.error(reply_id, exc.code(self._version), exc.problem.value)
        )

    # -- answers to outbound calls -----------------------------------------------------------

    def _take_pending(self, message_id: str, kind: str) -> _Pending | None:
        pending = self._pending
        if pending is None or pending.message_id != message_id or pending.future.done():
            log.warning(
                "station %s: late or unknown %s %s dropped", self._station_id, kind, message_id
            )
            return None
        return pending

    def _on_result(self, frame: CallResult) -> None:
        pending = self._take_pending(frame.message_id, "CALLRESULT")
        if pending is None:
            return
        try:
            payload = self._validator.validate(
                pending.action,
                Direction.RESPONSE,
                frame.payload,
                leniency=self.state.leniency,
                station_id=self._station_id,
            )
        except SchemaViolation as exc:
            pending.future.set_exception(
                StationCallError(
                    wire_name(exc.code, self._version),
                    f"{pending.action} answer breaks the schema: {exc.description}",
                )
            )
            return
        pending.future.set_result(payload)

    def _on_error(self, frame: CallError) -> None:
        pending = self._take_pending(frame.message_id, "CALLERROR")
        if pending is None:
            return
        pending.future.set_exception(
            StationCallError(frame.error_code, frame.description, frame.details)
        )
