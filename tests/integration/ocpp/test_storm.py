"""A reconnect storm against the OCPP gateway over real sockets on 127.0.0.1 (R20).

The directory admits one station at a time and slowly, like a single database connection that
reads the station and checks its password: without back-pressure every upgrade would queue on it
until the handshake times out. With small admission limits the gateway answers the excess 503
with ``Retry-After``; stations that honour it all end up connected.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from borne.core.registry import LocalRegistry
from borne.ocpp.directory import Admission
from borne.ocpp.gateway import AdmissionBusy, AdmissionGate, OcppGateway
from borne.ocpp.router import Router
from borne.ocpp.throttle import FailureLimiter
from borne.ocpp.validation import PayloadValidator
from borne.ocpp.versions import OcppVersion

V16 = OcppVersion.V16
VALIDATORS = {V16: PayloadValidator(V16)}


class SlowDirectory:
    """Admits everybody, one at a time, each admission taking ``delay_s``."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.lock = asyncio.Lock()
        self.admits = 0
        self.running = 0
        self.max_running = 0

    async def admit(
        self, station_id: str, username: str | None, password: str | None, remote: str
    ) -> Admission:
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            async with self.lock:
                await asyncio.sleep(self.delay_s)
        finally:
            self.running -= 1
        self.admits += 1
        return Admission(True, registration_status="Accepted")

    async def record_failed_login(self, station_id: str, remote: str, reason: str) -> None:
        pass

    async def connected(self, station_id: str, version: OcppVersion, remote: str) -> None:
        pass

    async def disconnected(self, station_id: str) -> None:
        pass


class Storm:
    def __init__(self, gateway: OcppGateway, directory: SlowDirectory, registry: LocalRegistry):
        self.gateway = gateway
        self.directory = directory
        self.registry = registry
        self.statuses: Counter[int] = Counter()
        self.retry_after: list[int] = []
        self.errors: list[str] = []
        self.sockets: list[ClientConnection] = []

    async def station(self, station_id: str, *, retry: bool = True) -> None:
        """Connect, retrying after ``Retry-After`` on 503 like a well-behaved charger."""
        url = f"ws://127.0.0.1:{self.gateway.port}/ocpp/{station_id}"
        for _ in range(30):
            try:
                ws = await connect(
                    url,
                    subprotocols=[Subprotocol("ocpp1.6")],
                    open_timeout=10,
                    ping_interval=None,
                )
            except InvalidStatus as exc:
                status = exc.response.status_code
                self.statuses[status] += 1
                if status != 503:
                    self.errors.append(f"{station_id}: HTTP {status}")
                    return
                delay = int(exc.response.headers["Retry-After"])
                self.retry_after.append(delay)
                if not retry:
                    return
                # Honour Retry-After, scaled down so the test stays short.
                await asyncio.sleep(delay / 10)
            except Exception as exc:
                self.errors.append(f"{station_id}: {exc!r}")
                return
            else:
                self.statuses[101] += 1
                self.sockets.append(ws)
                return
        self.errors.append(f"{station_id}: gave up")


@pytest.fixture
async def storm_env() -> AsyncIterator[Any]:
    made: list[Storm] = []

    async def factory(delay_s: float = 0.005, **kw: Any) -> Storm:
        directory, registry = SlowDirectory(delay_s), LocalRegistry()
        gateway = OcppGateway(
            {V16: Router(V16)},
            directory,
            registry,
            FailureLimiter(3, 60.0),
            port=0,
            validators=VALIDATORS,
            **kw,
        )
        await gateway.start()
        storm = Storm(gateway, directory, registry)
        made.append(storm)
        return storm

    yield factory
    for storm in made:
        await asyncio.gather(*(ws.close() for ws in storm.sockets), return_exceptions=True)
        await storm.gateway.stop()


async def all_registered(storm: Storm, count: int, wait_s: float = 5.0) -> None:
    async with asyncio.timeout(wait_s):
        while len(storm.registry) < count:  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def test_storm_of_300_is_admitted_with_back_pressure(
    storm_env: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="borne.ocpp.gateway")
    storm: Storm = await storm_env(
        delay_s=0.005, max_concurrent_admissions=4, max_pending_admissions=20
    )
    stations = [f"CP{i:04d}" for i in range(300)]
    async with asyncio.timeout(30):
        await asyncio.gather(*(storm.station(s) for s in stations))
    await all_registered(storm, 300)

    assert storm.errors == []
    assert set(storm.statuses) == {101, 503}
    assert storm.statuses[101] == 300
    assert storm.statuses[503] > 0  # back-pressure did happen
    assert all(1 <= d <= 30 for d in storm.retry_after)
    assert storm.directory.max_running <= 4  # never more admissions at once than allowed
    assert storm.directory.admits == 300  # a refused upgrade costs the directory nothing
    assert len(storm.registry) == 300 == storm.gateway.open_connections
    stats = storm.gateway.admission_stats
    assert stats["refused_busy"] == storm.statuses[503]
    assert stats["in_flight"] == stats["waiting"] == 0
    # Refusals are logged at most once a second, with counts, not once per refusal.
    overload = [r for r in caplog.records if "refused with 503" in r.getMessage()]
    assert 1 <= len(overload) < 10 < storm.statuses[503]


async def test_full_queue_answers_503_before_asking_the_directory(storm_env: Any) -> None:
    storm: Storm = await storm_env(
        delay_s=0.5, max_concurrent_admissions=1, max_pending_admissions=1
    )
    first = [asyncio.create_task(storm.station(f"CP{i}", retry=False)) for i in range(2)]
    while storm.gateway.admission_stats["waiting"] < 1:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    await storm.station("LATE", retry=False)  # one running, one waiting: no room
    assert storm.statuses == Counter({503: 1})
    assert storm.retry_after and storm.retry_after[0] >= 1
    await asyncio.gather(*first)
    assert storm.statuses == Counter({503: 1, 101: 2})
    assert storm.directory.admits == 2


async def test_a_queued_upgrade_gives_up_with_503_before_the_handshake_times_out(
    storm_env: Any,
) -> None:
    storm: Storm = await storm_env(
        delay_s=0.4, max_concurrent_admissions=1, max_pending_admissions=10, open_timeout_s=0.6
    )
    await asyncio.gather(*(storm.station(f"CP{i}", retry=False) for i in range(3)))
    # The first is admitted in 0.4 s; the others wait 0.3 s (half the open timeout) for a turn
    # and get 503 instead of a handshake that times out without an HTTP answer.
    assert storm.errors == []
    assert storm.statuses == Counter({101: 1, 503: 2})


async def test_connection_cap_answers_503(storm_env: Any) -> None:
    storm: Storm = await storm_env(delay_s=0.0, max_connections=5)
    await asyncio.gather(*(storm.station(f"CP{i}", retry=False) for i in range(5)))
    await all_registered(storm, 5)
    await storm.station("CP-EXTRA", retry=False)
    assert storm.statuses == Counter({101: 5, 503: 1})
    await storm.sockets.pop().close()
    async with asyncio.timeout(5):
        while storm.gateway.open_connections > 4:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    await storm.station("CP-EXTRA", retry=False)
    assert storm.statuses[101] == 6


async def test_admission_gate_bounds_and_retry_after() -> None:
    gate = AdmissionGate(1, 1, max_wait_s=0.05)
    async with gate.slot():
        waiter = asyncio.create_task(_hold(gate))
        await asyncio.sleep(0.01)
        assert (gate.in_flight, gate.waiting) == (1, 1)
        with pytest.raises(AdmissionBusy):  # queue full: refused at once
            async with gate.slot():
                pass
        with pytest.raises(AdmissionBusy):  # waited too long
            await waiter
    assert (gate.in_flight, gate.waiting) == (0, 0)
    assert all(1 <= gate.retry_after_s() <= 30 for _ in range(100))


async def _hold(gate: AdmissionGate) -> None:
    async with gate.slot():
        pass
