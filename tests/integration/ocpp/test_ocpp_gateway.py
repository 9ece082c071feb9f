"""The OCPP gateway over real sockets on 127.0.0.1 (R6, R18, R19, R21, R23, R25)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from borne.core.errors import StationNotConnected
from borne.core.registry import LocalRegistry
from borne.ocpp.context import CallContext
from borne.ocpp.directory import Admission
from borne.ocpp.gateway import OcppGateway
from borne.ocpp.router import Router
from borne.ocpp.session import OcppSession
from borne.ocpp.throttle import FailureLimiter
from borne.ocpp.v16 import models as m16
from borne.ocpp.v201 import models as m201
from borne.ocpp.validation import PayloadValidator
from borne.ocpp.versions import OcppVersion

V16, V201 = OcppVersion.V16, OcppVersion.V201
NOW = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
VALIDATORS = {v: PayloadValidator(v) for v in OcppVersion}
PASSWORDS = {"CP1": "secret-password-1", "CP2": "secret-password-2", "a b": "secret-password-3"}


class Directory:
    """Stations with passwords; the Basic username must be the station id."""

    def __init__(self) -> None:
        self.admits: list[tuple[str, str | None]] = []
        self.failed: list[tuple[str, str, str]] = []
        self.events: list[tuple[str, str]] = []

    async def admit(
        self, station_id: str, username: str | None, password: str | None, remote: str
    ) -> Admission:
        self.admits.append((station_id, username))
        if station_id not in PASSWORDS:
            return Admission(False, 404, "unknown station")
        if username != station_id or password != PASSWORDS[station_id]:
            return Admission(False, 401, "bad credentials")
        return Admission(True, registration_status="Accepted")

    async def record_failed_login(self, station_id: str, remote: str, reason: str) -> None:
        self.failed.append((station_id, remote, reason))

    async def connected(self, station_id: str, version: OcppVersion, remote: str) -> None:
        self.events.append(("connected", station_id))

    async def disconnected(self, station_id: str) -> None:
        self.events.append(("disconnected", station_id))


def routers() -> dict[OcppVersion, Router]:
    r16, r201 = Router(V16), Router(V201)

    async def hb16(ctx: CallContext, req: Any) -> Any:
        return m16.HeartbeatResponse(current_time=NOW)

    async def hb201(ctx: CallContext, req: Any) -> Any:
        return m201.HeartbeatResponse(current_time=NOW)

    async def boot16(ctx: CallContext, req: Any) -> Any:
        return m16.BootNotificationResponse(current_time=NOW, interval=60, status="Accepted")

    async def boot201(ctx: CallContext, req: Any) -> Any:
        return m201.BootNotificationResponse(current_time=NOW, interval=60, status="Accepted")

    async def data_transfer(ctx: CallContext, req: m16.DataTransferRequest) -> Any:
        size = int(req.data or "0")
        return m16.DataTransferResponse(status="Accepted", data="x" * size)

    r16.register("Heartbeat", hb16)
    r16.register("BootNotification", boot16)
    r16.register("DataTransfer", data_transfer)
    r201.register("Heartbeat", hb201)
    r201.register("BootNotification", boot201)
    return {V16: r16, V201: r201}


class Env:
    def __init__(self, gateway: OcppGateway, directory: Directory, registry: LocalRegistry):
        self.gateway = gateway
        self.directory = directory
        self.registry = registry

    def url(self, station: str) -> str:
        return f"ws://127.0.0.1:{self.gateway.port}/ocpp/{station}"

    def connect(
        self,
        station: str,
        *,
        user: str | None = None,
        password: str | None = None,
        subprotocols: list[str] | None = None,
        **kw: Any,
    ) -> Any:
        headers = {}
        user = station if user is None else user
        if password is not None:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        return connect(
            self.url(station),
            subprotocols=[Subprotocol(p) for p in subprotocols or ["ocpp1.6"]],
            additional_headers=headers,
            open_timeout=5,
            **kw,
        )

    async def session(self, station: str, wait_s: float = 3.0) -> OcppSession:
        async with asyncio.timeout(wait_s):
            while True:
                conn = self.registry.get(station)
                if isinstance(conn, OcppSession):
                    return conn
                await asyncio.sleep(0.01)


GatewayFactory = Callable[..., Awaitable[Env]]


@pytest.fixture
async def make_env() -> AsyncIterator[GatewayFactory]:
    gateways: list[OcppGateway] = []

    async def factory(**kw: Any) -> Env:
        directory, registry = Directory(), LocalRegistry()
        limiter = kw.pop("limiter", FailureLimiter(3, 60.0))
        gateway = OcppGateway(
            routers(), directory, registry, limiter, port=0, validators=VALIDATORS, **kw
        )
        await gateway.start()
        gateways.append(gateway)
        return Env(gateway, directory, registry)

    yield factory
    for gateway in gateways:
        await gateway.stop()


async def gone(env: Env, station: str, wait_s: float = 5.0) -> None:
    """Wait until the station has no connection any more."""
    async with asyncio.timeout(wait_s):
        while env.registry.get(station) is not None:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def roundtrip(ws: ClientConnection, message_id: str = "h1") -> list[Any]:
    await ws.send(orjson.dumps([2, message_id, "Heartbeat", {}]).decode())
    return list(orjson.loads(await asyncio.wait_for(ws.recv(), 3)))


# -- R6: subprotocols and identity --------------------------------------------------------


async def test_negotiates_the_best_common_version(make_env: GatewayFactory) -> None:
    env = await make_env()
    async with env.connect(
        "CP1", password=PASSWORDS["CP1"], subprotocols=["ocpp1.6", "ocpp2.0.1"]
    ) as ws:
        assert ws.subprotocol == "ocpp2.0.1"
        assert (await roundtrip(ws))[:2] == [3, "h1"]
    async with env.connect("CP1", password=PASSWORDS["CP1"], subprotocols=["ocpp1.6"]) as ws:
        assert ws.subprotocol == "ocpp1.6"
        assert (await env.session("CP1")).ocpp_version == "ocpp1.6"


async def test_no_common_version_is_refused(make_env: GatewayFactory) -> None:
    env = await make_env()
    with pytest.raises(InvalidStatus) as info:
        async with env.connect("CP1", password=PASSWORDS["CP1"], subprotocols=["ocpp1.5"]):
            pass
    assert info.value.response.status_code == 400
    assert env.directory.admits == []


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("C" * 49, 400),
        ("CP%3A1", 400),  # ':' after decoding
        ("a%2Fb", 400),  # '/' after decoding
        ("a/b", 404),
        ("", 404),
        ("%FF", 400),  # not UTF-8
    ],
)
async def test_bad_identities_are_refused_before_auth(
    make_env: GatewayFactory, path: str, status: int
) -> None:
    env = await make_env()
    with pytest.raises(InvalidStatus) as info:
        async with env.connect(path, password="whatever"):
            pass
    assert info.value.response.status_code == status
    assert env.directory.admits == []


async def test_percent_encoding_is_the_same_identity(make_env: GatewayFactory) -> None:
    env = await make_env()
    # CP%31 is CP1: authenticated as CP1, registered as CP1.
    async with env.connect("CP%31", user="CP1", password=PASSWORDS["CP1"]) as ws:
        assert (await roundtrip(ws))[0] == 3
        assert env.directory.admits == [("CP1", "CP1")]
        assert (await env.session("CP1")).station_id == "CP1"
    # CP2's password cannot open CP1 through an encoded path.
    with pytest.raises(InvalidStatus):
        async with env.connect("CP%31", user="CP2", password=PASSWORDS["CP2"]):
            pass
    # An encoded space is decoded once.
    async with env.connect("a%20b", user="a b", password=PASSWORDS["a b"]):
        assert (await env.session("a b")).station_id == "a b"


# -- R23 / R25: authentication and failed-login limits ------------------------------------


async def test_missing_or_wrong_credentials_are_refused_with_401(make_env: GatewayFactory) -> None:
    env = await make_env()
    attempts: list[dict[str, Any]] = [
        {},
        {"password": "wrong"},
        {"user": "CP2", "password": PASSWORDS["CP2"]},
    ]
    for kw in attempts:
        with pytest.raises(InvalidStatus) as info:
            async with env.connect("CP1", **kw):
                pass
        assert info.value.response.status_code == 401
        assert info.value.response.headers["WWW-Authenticate"].startswith("Basic")
    assert len(env.registry) == 0 and env.directory.events == []
    assert [f[0] for f in env.directory.failed] == ["CP1", "CP1", "CP1"]


async def test_malformed_authorization_header_is_refused(make_env: GatewayFactory) -> None:
    env = await make_env()
    with pytest.raises(InvalidStatus) as info:
        async with connect(
            env.url("CP1"),
            subprotocols=[Subprotocol("ocpp1.6")],
            additional_headers={"Authorization": "Basic !!!"},
        ):
            pass
    assert info.value.response.status_code == 401
    assert env.directory.admits == []


async def test_repeated_failures_are_rate_limited_without_asking_the_directory(
    make_env: GatewayFactory,
) -> None:
    env = await make_env(limiter=FailureLimiter(3, 60.0))
    for _ in range(3):
        with pytest.raises(InvalidStatus):
            async with env.connect("CP1", password="guess"):
                pass
    admits = len(env.directory.admits)
    with pytest.raises(InvalidStatus) as info:
        async with env.connect("CP1", password=PASSWORDS["CP1"]):
            pass
    assert info.value.response.status_code == 429
    assert len(env.directory.admits) == admits
    assert len(env.directory.failed) == 4
    assert "too many" in env.directory.failed[-1][2]
    # The same address guessing another station is blocked too.
    with pytest.raises(InvalidStatus) as info:
        async with env.connect("CP2", password=PASSWORDS["CP2"]):
            pass
    assert info.value.response.status_code == 429


# -- R18: a second connection replaces the first ------------------------------------------


async def test_authenticated_newcomer_replaces_the_old_connection(make_env: GatewayFactory) -> None:
    env = await make_env()
    old = await env.connect("CP1", password=PASSWORDS["CP1"])
    old_session = await env.session("CP1")
    pending = asyncio.create_task(old_session.call("ClearCache", {}))
    await asyncio.wait_for(old.recv(), 3)  # the CSMS call reached the old socket
    async with env.connect("CP1", password=PASSWORDS["CP1"]) as new:
        with pytest.raises(StationNotConnected):
            await pending
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(old.recv(), 5)
        assert old.close_code == 1000
        await asyncio.sleep(0.05)  # let the old connection's cleanup run
        current = await env.session("CP1")
        assert current is not old_session
        assert (await roundtrip(new))[:2] == [3, "h1"]
        assert env.directory.events == [("connected", "CP1"), ("connected", "CP1")]
    await asyncio.sleep(0.05)
    assert env.registry.get("CP1") is None
    assert env.directory.events[-1] == ("disconnected", "CP1")


async def test_wrongly_authenticated_newcomer_displaces_nobody(make_env: GatewayFactory) -> None:
    env = await make_env()
    async with env.connect("CP1", password=PASSWORDS["CP1"]) as ws:
        session = await env.session("CP1")
        with pytest.raises(InvalidStatus):
            async with env.connect("CP1", password="wrong"):
                pass
        assert env.registry.get("CP1") is session
        assert (await roundtrip(ws))[0] == 3


# -- R19: half-open sockets ---------------------------------------------------------------


async def test_half_open_socket_is_dropped_and_station_reconnects(make_env: GatewayFactory) -> None:
    env = await make_env(ping_interval_s=0.1, ping_timeout_s=0.2, close_timeout_s=0.2)
    silent = await env.connect("CP1", password=PASSWORDS["CP1"], ping_interval=None)
    await env.session("CP1")
    silent.transport.pause_reading()  # stops answering pings, like a dead peer
    await gone(env, "CP1")
    assert ("disconnected", "CP1") in env.directory.events
    async with env.connect("CP1", password=PASSWORDS["CP1"]) as ws:
        assert (await roundtrip(ws))[0] == 3
    silent.transport.abort()


# -- R21: frame size and stations that never read -----------------------------------------


async def test_oversized_frame_is_refused_with_1009(make_env: GatewayFactory) -> None:
    env = await make_env(max_frame_bytes=1024)
    async with env.connect("CP1", password=PASSWORDS["CP1"], max_size=None) as ws:
        big = orjson.dumps(
            [2, "big", "DataTransfer", {"vendorId": "v", "data": "x" * 5000}]
        ).decode()
        await ws.send(big)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 3)
        assert ws.close_code == 1009
    async with env.connect("CP1", password=PASSWORDS["CP1"]) as ws:
        assert (await roundtrip(ws))[0] == 3


async def test_a_station_that_never_reads_is_dropped(make_env: GatewayFactory) -> None:
    env = await make_env(write_limit_bytes=16_384, send_timeout_s=0.3, max_frame_bytes=1 << 20)
    ws = await env.connect("CP1", password=PASSWORDS["CP1"], max_size=None)
    await env.session("CP1")
    ws.transport.pause_reading()
    try:
        async with asyncio.timeout(10):
            i = 0
            while env.registry.get("CP1") is not None:
                await ws.send(
                    orjson.dumps(
                        [2, f"d{i}", "DataTransfer", {"vendorId": "v", "data": "60000"}]
                    ).decode()
                )
                i += 1
                await asyncio.sleep(0)
    except (ConnectionClosed, OSError):
        pass
    await gone(env, "CP1")
    ws.transport.abort()
    # Others are unaffected.
    async with env.connect("CP2", password=PASSWORDS["CP2"]) as other:
        assert (await roundtrip(other))[0] == 3


# -- independent clients: the ocpp package's charge points --------------------------------


class Station16(ChargePoint16):  # type: ignore[misc]
    @on("ClearCache")  # type: ignore[untyped-decorator]
    async def on_clear_cache(self) -> Any:
        return result16.ClearCache(status="Accepted")


async def test_ocpp16_charge_point_boots_and_answers_a_csms_call(make_env: GatewayFactory) -> None:
    env = await make_env()
    async with env.connect("CP1", password=PASSWORDS["CP1"]) as ws:
        cp = Station16("CP1", ws)
        runner = asyncio.create_task(cp.start())
        try:
            boot = await cp.call(
                call16.BootNotification(charge_point_vendor="V", charge_point_model="M")
            )
            assert boot.status == "Accepted"
            session = await env.session("CP1")
            assert await session.call("ClearCache", {}) == {"status": "Accepted"}
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)


async def test_ocpp201_charge_point_boots(make_env: GatewayFactory) -> None:
    env = await make_env()
    async with env.connect("CP2", password=PASSWORDS["CP2"], subprotocols=["ocpp2.0.1"]) as ws:
        cp = ChargePoint201("CP2", ws)
        runner = asyncio.create_task(cp.start())
        try:
            boot = await cp.call(
                call201.BootNotification(
                    charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
                )
            )
            assert boot.status == "Accepted"
            beat = await cp.call(call201.Heartbeat())
            assert beat.current_time.startswith("2024-05-01T10:00:00")
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
