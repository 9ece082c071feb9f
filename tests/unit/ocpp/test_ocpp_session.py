"""The per-connection RPC engine, driven without sockets (R1-R5, R7, R17, R22)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from borne.core.errors import (
    CallQueueFull,
    InvalidInput,
    StationCallError,
    StationCallTimeout,
    StationNotConnected,
)
from borne.ocpp.context import CallContext, StationSessionState
from borne.ocpp.dispatch import InboundDispatcher
from borne.ocpp.router import Router
from borne.ocpp.session import OcppSession
from borne.ocpp.v16 import models as m16
from borne.ocpp.v201 import models as m201
from borne.ocpp.validation import PayloadValidator
from borne.ocpp.versions import OcppVersion

V16, V201 = OcppVersion.V16, OcppVersion.V201
NOW = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
VALIDATORS = {v: PayloadValidator(v) for v in OcppVersion}


class Wire:
    """The station's side: what the session sent, and how it was closed."""

    def __init__(self) -> None:
        self.frames: asyncio.Queue[list[Any]] = asyncio.Queue()
        self.closed: tuple[int, str] | None = None

    async def send(self, text: str) -> None:
        self.frames.put_nowait(orjson.loads(text))

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    async def next(self, wait_s: float = 2.0) -> list[Any]:
        return await asyncio.wait_for(self.frames.get(), wait_s)

    async def nothing(self) -> None:
        for _ in range(20):
            await asyncio.sleep(0)
        assert self.frames.empty(), self.frames.get_nowait()


def make(
    version: OcppVersion = V201,
    router: Router | None = None,
    status: str = "Accepted",
    leniency: frozenset[str] = frozenset(),
    **kw: Any,
) -> tuple[OcppSession, Wire]:
    wire = Wire()
    router = router or Router(version)
    session = OcppSession(
        "CP1",
        version,
        dispatcher=InboundDispatcher(router, VALIDATORS[version]),
        send=wire.send,
        close=wire.close,
        state=StationSessionState(registration_status=status, leniency=leniency),
        **kw,
    )
    return session, wire


def heartbeat_router(version: OcppVersion, calls: list[str] | None = None) -> Router:
    router = Router(version)
    models: Any = m16 if version is V16 else m201

    async def heartbeat(ctx: CallContext, req: Any) -> Any:
        if calls is not None:
            calls.append(ctx.message_id)
        return models.HeartbeatResponse(current_time=NOW)

    router.register("Heartbeat", heartbeat)
    return router


def frame(*items: Any) -> str:
    return orjson.dumps(list(items)).decode()


# -- R1: broken frames --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["not json", "{}", "[]", '[2,"a","Heartbeat"]', '[2,5,"Heartbeat",{}]', '[2,"a",7,{}]'],
)
async def test_v201_broken_frames_get_rpc_framework_error_with_id_minus_one(text: str) -> None:
    session, wire = make(V201, heartbeat_router(V201))
    await session.on_frame(text)
    msg = await wire.next()
    assert msg[:3] == [4, "-1", "RpcFrameworkError"]
    # The session keeps working.
    await session.on_frame(frame(2, "ok", "Heartbeat", {}))
    assert (await wire.next())[:2] == [3, "ok"]
    assert wire.closed is None


async def test_v201_payload_not_an_object_is_format_violation_with_its_id() -> None:
    session, wire = make(V201, heartbeat_router(V201))
    await session.on_frame(frame(2, "m1", "Heartbeat", [1]))
    assert (await wire.next())[:3] == [4, "m1", "FormatViolation"]


async def test_v16_broken_call_with_readable_id_is_answered_with_that_id() -> None:
    session, wire = make(V16, heartbeat_router(V16))
    await session.on_frame('[2,"m1","Heartbeat"]')
    assert (await wire.next())[:3] == [4, "m1", "ProtocolError"]
    await session.on_frame(frame(2, "m2", "Heartbeat", "x"))
    assert (await wire.next())[:3] == [4, "m2", "FormationViolation"]


@pytest.mark.parametrize("text", ["not json", "[]", '[2,5,"Heartbeat",{}]', '[3,"m1"]'])
async def test_v16_unanswerable_frames_are_ignored(
    text: str, caplog: pytest.LogCaptureFixture
) -> None:
    session, wire = make(V16, heartbeat_router(V16))
    with caplog.at_level(logging.WARNING):
        await session.on_frame(text)
    await wire.nothing()
    assert "CP1" in caplog.text
    await session.on_frame(frame(2, "ok", "Heartbeat", {}))
    assert (await wire.next())[:2] == [3, "ok"]


# -- R2: unknown message type, unknown and unsupported actions ----------------------------


async def test_unknown_message_type() -> None:
    session, wire = make(V201)
    await session.on_frame(frame(7, "m1", {}))
    assert (await wire.next())[:3] == [4, "m1", "MessageTypeNotSupported"]
    session16, wire16 = make(V16)
    await session16.on_frame(frame(7, "m1", {}))
    await wire16.nothing()


@pytest.mark.parametrize("version", [V16, V201])
async def test_unknown_action_is_not_implemented_and_unhandled_is_not_supported(
    version: OcppVersion,
) -> None:
    session, wire = make(version, heartbeat_router(version))
    await session.on_frame(frame(2, "m1", "FlyToTheMoon", {}))
    assert (await wire.next())[:3] == [4, "m1", "NotImplemented"]
    # A CSMS→station action sent by the station: known, but nobody serves it.
    await session.on_frame(
        frame(2, "m2", "Reset", {"type": "Soft" if version is V16 else "Immediate"})
    )
    assert (await wire.next())[:3] == [4, "m2", "NotSupported"]
    await session.on_frame(frame(2, "m3", "Authorize", {"idTag": "x"}))
    assert (await wire.next())[:3] == [4, "m3", "NotSupported"]


# -- R3: message ids ----------------------------------------------------------------------


async def test_over_long_message_id_is_refused_and_not_processed() -> None:
    calls: list[str] = []
    long_id = "x" * 37
    session, wire = make(V201, heartbeat_router(V201, calls))
    await session.on_frame(frame(2, long_id, "Heartbeat", {}))
    assert (await wire.next())[:3] == [4, "-1", "RpcFrameworkError"]
    session16, wire16 = make(V16, heartbeat_router(V16, calls))
    await session16.on_frame(frame(2, long_id, "Heartbeat", {}))
    assert (await wire16.next())[:3] == [4, long_id, "FormationViolation"]
    assert calls == []


async def test_id_reused_while_in_progress_is_refused_and_not_processed_twice() -> None:
    release = asyncio.Event()
    runs: list[str] = []
    router = Router(V201)

    async def heartbeat(ctx: CallContext, req: Any) -> Any:
        runs.append(ctx.message_id)
        await release.wait()
        return m201.HeartbeatResponse(current_time=NOW)

    router.register("Heartbeat", heartbeat)
    session, wire = make(V201, router)
    await session.on_frame(frame(2, "dup", "Heartbeat", {}))
    await asyncio.sleep(0)
    await session.on_frame(frame(2, "dup", "Heartbeat", {}))
    assert (await wire.next())[:3] == [4, "dup", "RpcFrameworkError"]
    release.set()
    assert (await wire.next())[:2] == [3, "dup"]
    assert runs == ["dup"]

    session16, wire16 = make(V16, heartbeat_router(V16))
    session16._in_progress["d"] = "Heartbeat"  # as if being handled
    await session16.on_frame(frame(2, "d", "Heartbeat", {}))
    assert (await wire16.next())[:3] == [4, "d", "GenericError"]


async def test_completed_call_repeated_gets_the_cached_reply_without_rerunning() -> None:
    calls: list[str] = []
    session, wire = make(V201, heartbeat_router(V201, calls))
    await session.on_frame(frame(2, "r1", "Heartbeat", {}))
    first = await wire.next()
    await session.on_frame(frame(2, "r1", "Heartbeat", {}))
    assert await wire.next() == first
    assert calls == ["r1"]


async def test_reply_cache_is_bounded() -> None:
    calls: list[str] = []
    session, wire = make(V201, heartbeat_router(V201, calls), reply_cache_size=3)
    for i in range(5):
        await session.on_frame(frame(2, f"id{i}", "Heartbeat", {}))
        await wire.next()
    assert len(session._replies) == 3
    await session.on_frame(frame(2, "id0", "Heartbeat", {}))  # evicted: processed again
    await wire.next()
    assert calls.count("id0") == 2


async def test_errors_are_not_cached_so_a_retry_after_internal_error_is_processed() -> None:
    attempts: list[int] = []
    router = Router(V201)

    async def heartbeat(ctx: CallContext, req: Any) -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("database is down")
        return m201.HeartbeatResponse(current_time=NOW)

    router.register("Heartbeat", heartbeat)
    session, wire = make(V201, router)
    await session.on_frame(frame(2, "x1", "Heartbeat", {}))
    error = await wire.next()
    assert error[:3] == [4, "x1", "InternalError"]
    assert "database" not in error[3] and "Traceback" not in error[3]
    await session.on_frame(frame(2, "x1", "Heartbeat", {}))
    assert (await wire.next())[:2] == [3, "x1"]
    assert len(attempts) == 2


# -- R4: schema violations ----------------------------------------------------------------

MV16 = {"timestamp": "2024-05-01T10:00:00Z", "sampledValue": [{"value": "1"}]}
MV201 = {"timestamp": "2024-05-01T10:00:00Z", "sampledValue": [{"value": 1.0}]}


@pytest.mark.parametrize(
    ("version", "payload", "code"),
    [
        (V16, {"connectorId": "1", "meterValue": []}, "TypeConstraintViolation"),
        (V16, {"connectorId": 1}, "OccurenceConstraintViolation"),
        (
            V16,
            {
                "connectorId": 1,
                "meterValue": [{"timestamp": "x", "sampledValue": [{"value": "1"}]}],
            },
            "PropertyConstraintViolation",
        ),
        (V16, {"connectorId": 1, "meterValue": [MV16], "x": 1}, "FormationViolation"),
        (V201, {"evseId": "1", "meterValue": []}, "TypeConstraintViolation"),
        (V201, {"evseId": 1}, "OccurrenceConstraintViolation"),
        (V201, {"evseId": 1, "meterValue": [MV201], "x": 1}, "FormatViolation"),
    ],
)
async def test_schema_violations_get_the_exact_code(
    version: OcppVersion, payload: dict[str, Any], code: str
) -> None:
    ran: list[int] = []
    router = Router(version)
    models: Any = m16 if version is V16 else m201

    async def meter_values(ctx: CallContext, req: Any) -> Any:
        ran.append(1)
        return models.MeterValuesResponse()

    router.register("MeterValues", meter_values)
    session, wire = make(version, router)
    await session.on_frame(frame(2, "v1", "MeterValues", payload))
    assert (await wire.next())[:3] == [4, "v1", code]
    assert ran == []


async def test_leniency_lets_a_quirky_station_through_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    router = Router(V201)
    seen: list[Any] = []

    async def boot(ctx: CallContext, req: m201.BootNotificationRequest) -> Any:
        seen.append(req)
        return m201.BootNotificationResponse(current_time=NOW, interval=60, status="Accepted")

    router.register("BootNotification", boot)
    payload = {
        "reason": "PowerUp",
        "chargingStation": {"model": "M" * 25, "vendorName": "V"},
        "odd": 1,
    }
    strict, wire = make(V201, router)
    await strict.on_frame(frame(2, "b1", "BootNotification", payload))
    assert (await wire.next())[0] == 4
    lenient, wire2 = make(V201, router, leniency=frozenset({"extra_fields", "long_strings"}))
    with caplog.at_level(logging.WARNING):
        await lenient.on_frame(frame(2, "b2", "BootNotification", payload))
        assert (await wire2.next())[:2] == [3, "b2"]
    assert seen[0].charging_station.model == "M" * 25
    assert "long_strings" in caplog.text and "extra_fields" in caplog.text


# -- R22: registration --------------------------------------------------------------------


@pytest.mark.parametrize("version", [V16, V201])
async def test_non_boot_calls_of_a_pending_station_are_refused(version: OcppVersion) -> None:
    router = heartbeat_router(version)
    models: Any = m16 if version is V16 else m201

    async def boot(ctx: CallContext, req: Any) -> Any:
        ctx.state.registration_status = "Accepted"
        return models.BootNotificationResponse(current_time=NOW, interval=60, status="Accepted")

    router.register("BootNotification", boot)
    session, wire = make(version, router, status="Pending")
    await session.on_frame(frame(2, "h1", "Heartbeat", {}))
    assert (await wire.next())[:3] == [4, "h1", "SecurityError"]
    boot_payload = (
        {"chargePointVendor": "V", "chargePointModel": "M"}
        if version is V16
        else {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}}
    )
    await session.on_frame(frame(2, "b1", "BootNotification", boot_payload))
    assert (await wire.next())[:2] == [3, "b1"]
    await session.on_frame(frame(2, "h2", "Heartbeat", {}))
    assert (await wire.next())[:2] == [3, "h2"]


async def test_a_reconnect_of_an_accepted_station_needs_no_new_boot() -> None:
    session, wire = make(V16, heartbeat_router(V16), status="Accepted")
    await session.on_frame(frame(2, "h1", "Heartbeat", {}))
    assert (await wire.next())[:2] == [3, "h1"]


# -- handler failures and R7 on replies ---------------------------------------------------


async def test_handler_reply_that_breaks_the_schema_becomes_internal_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    router = Router(V16)

    async def authorize(ctx: CallContext, req: Any) -> Any:
        info = m16.IdTagInfo(status="Accepted", parent_id_tag="P" * 30)  # maxLength 20
        return m16.AuthorizeResponse(id_tag_info=info)

    router.register("Authorize", authorize)
    session, wire = make(V16, router)
    with caplog.at_level(logging.ERROR):
        await session.on_frame(frame(2, "a1", "Authorize", {"idTag": "T1"}))
        assert (await wire.next())[:3] == [4, "a1", "InternalError"]
    assert "Authorize" in caplog.text


async def test_borne_errors_become_internal_error_and_are_logged_with_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from borne.core.errors import NotFound

    router = Router(V201)

    async def heartbeat(ctx: CallContext, req: Any) -> Any:
        raise NotFound("secret detail")

    router.register("Heartbeat", heartbeat)
    session, wire = make(V201, router)
    with caplog.at_level(logging.ERROR):
        await session.on_frame(frame(2, "e1", "Heartbeat", {}))
        msg = await wire.next()
    assert msg[:3] == [4, "e1", "InternalError"] and "secret" not in msg[3]
    assert any(r.exc_info for r in caplog.records)


# -- R5 and R7: outbound calls ------------------------------------------------------------


async def test_call_returns_the_result_and_validates_the_payload_first() -> None:
    session, wire = make(V16)
    task = asyncio.create_task(session.call("Reset", {"type": "Soft"}))
    sent = await wire.next()
    assert sent[0] == 2 and sent[2:] == ["Reset", {"type": "Soft"}] and len(sent[1]) <= 36
    await session.on_frame(frame(3, sent[1], {"status": "Accepted"}))
    assert await task == {"status": "Accepted"}
    with pytest.raises(InvalidInput):
        await session.call("Reset", {"type": "Sideways"})
    with pytest.raises(InvalidInput):
        await session.call("TransactionEvent", {})
    await wire.nothing()


async def test_one_outstanding_call_others_queue_in_order() -> None:
    session, wire = make(V16)
    first = asyncio.create_task(session.call("ClearCache", {}))
    second = asyncio.create_task(session.call("Reset", {"type": "Hard"}))
    sent1 = await wire.next()
    await wire.nothing()  # the second waits
    await session.on_frame(frame(3, sent1[1], {"status": "Accepted"}))
    sent2 = await wire.next()
    assert sent2[2] == "Reset"
    await session.on_frame(frame(3, sent2[1], {"status": "Rejected"}))
    assert await first == {"status": "Accepted"}
    assert await second == {"status": "Rejected"}


async def test_queue_limit() -> None:
    session, wire = make(V16, queue_limit=1)
    first = asyncio.create_task(session.call("ClearCache", {}))
    await wire.next()
    second = asyncio.create_task(session.call("ClearCache", {}))
    await asyncio.sleep(0)
    with pytest.raises(CallQueueFull):
        await session.call("ClearCache", {})
    first.cancel()
    second.cancel()
    await asyncio.gather(first, second, return_exceptions=True)


async def test_timeout_and_late_answer_dropped(caplog: pytest.LogCaptureFixture) -> None:
    session, wire = make(V16)
    with pytest.raises(StationCallTimeout):
        await session.call("ClearCache", {}, timeout=0.05)
    late = await wire.next()
    with caplog.at_level(logging.WARNING):
        await session.on_frame(frame(3, late[1], {"status": "Accepted"}))
    assert "late" in caplog.text
    # The next call works normally.
    task = asyncio.create_task(session.call("ClearCache", {}))
    sent = await wire.next()
    await session.on_frame(frame(3, sent[1], {"status": "Rejected"}))
    assert await task == {"status": "Rejected"}


async def test_call_error_answer_raises_station_call_error() -> None:
    session, wire = make(V201)
    task = asyncio.create_task(session.call("ClearCache", {}))
    sent = await wire.next()
    await session.on_frame(frame(4, sent[1], "NotSupported", "nope", {"why": "old firmware"}))
    with pytest.raises(StationCallError) as info:
        await task
    assert info.value.error_code == "NotSupported"
    assert info.value.description == "nope"
    assert info.value.details == {"why": "old firmware"}


async def test_invalid_call_result_raises_station_call_error() -> None:
    session, wire = make(V201)
    task = asyncio.create_task(session.call("ClearCache", {}))
    sent = await wire.next()
    await session.on_frame(frame(3, sent[1], {"status": "Maybe"}))
    with pytest.raises(StationCallError) as info:
        await task
    assert info.value.error_code == "PropertyConstraintViolation"


async def test_handler_that_calls_the_station_does_not_deadlock() -> None:
    router = Router(V16)

    async def boot(ctx: CallContext, req: Any) -> Any:
        answer = await ctx.connection.call("GetConfiguration", {"key": ["HeartbeatInterval"]})
        assert "configurationKey" in answer
        return m16.BootNotificationResponse(current_time=NOW, interval=60, status="Accepted")

    router.register("BootNotification", boot)
    session, wire = make(V16, router, status="Pending")
    await session.on_frame(
        frame(2, "b1", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
    )
    csms_call = await wire.next()
    assert csms_call[2] == "GetConfiguration"
    await session.on_frame(
        frame(
            3,
            csms_call[1],
            {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "60"}]},
        )
    )
    assert (await wire.next())[:2] == [3, "b1"]


async def test_station_call_crossing_a_csms_call_is_served() -> None:
    session, wire = make(V16, heartbeat_router(V16))
    task = asyncio.create_task(session.call("ClearCache", {}))
    csms_call = await wire.next()
    await session.on_frame(frame(2, "h1", "Heartbeat", {}))
    assert (await wire.next())[:2] == [3, "h1"]
    await session.on_frame(frame(3, csms_call[1], {"status": "Accepted"}))
    assert await task == {"status": "Accepted"}


async def test_inbound_calls_are_answered_in_arrival_order() -> None:
    router = Router(V16)
    delays = {"slow": 0.05, "fast": 0.0}

    async def data_transfer(ctx: CallContext, req: m16.DataTransferRequest) -> Any:
        await asyncio.sleep(delays[req.vendor_id])
        return m16.DataTransferResponse(status="Accepted", data=req.vendor_id)

    router.register("DataTransfer", data_transfer)
    session, wire = make(V16, router)
    await session.on_frame(frame(2, "1", "DataTransfer", {"vendorId": "slow"}))
    await session.on_frame(frame(2, "2", "DataTransfer", {"vendorId": "fast"}))
    assert [(await wire.next())[1] for _ in range(2)] == ["1", "2"]


async def test_close_fails_pending_and_queued_calls() -> None:
    session, wire = make(V16)
    first = asyncio.create_task(session.call("ClearCache", {}))
    await wire.next()
    second = asyncio.create_task(session.call("ClearCache", {}))
    await asyncio.sleep(0)
    await session.close(1000, "replaced")
    assert wire.closed == (1000, "replaced")
    for task in (first, second):
        with pytest.raises(StationNotConnected):
            await task
    with pytest.raises(StationNotConnected):
        await session.call("ClearCache", {})


async def test_send_failure_makes_the_call_fail_as_not_connected() -> None:
    async def broken(text: str) -> None:
        raise ConnectionError("gone")

    async def close(code: int, reason: str) -> None:
        return None

    session = OcppSession(
        "CP1",
        V16,
        dispatcher=InboundDispatcher(Router(V16), VALIDATORS[V16]),
        send=broken,
        close=close,
    )
    with pytest.raises(StationNotConnected):
        await session.call("ClearCache", {})


def test_session_is_a_station_connection() -> None:
    from borne.core.registry import LocalRegistry

    session, _ = make(V16)
    registry = LocalRegistry()
    assert registry.register(session) is None
    assert registry.get("CP1") is session and session.ocpp_version == "ocpp1.6"
