"""The load generator: N raw WebSocket stations, in a process of their own.

Deliberately cheap so the server stays the bottleneck: frames are formatted from fixed templates
(no JSON encoding, no schema validation, no ``ocpp`` package), answers are recognised by their
first bytes. Run by ``benchmarks.run``; by hand::

    python -m benchmarks.loadgen --url ws://127.0.0.1:9000 --version 1.6 --stations 50 \
        --scenario throughput --duration 10 --server-pid 1234

It prints one JSON object on stdout (keys in benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from benchmarks.common import percentile, raise_fd_limit

SCENARIOS = ("throughput", "latency", "idle", "storm")
SUBPROTOCOL = {"1.6": "ocpp1.6", "2.0.1": "ocpp2.0.1"}


@dataclass
class Options:
    url: str
    version: str = "1.6"
    stations: int = 50
    scenario: str = "throughput"
    duration: float = 10.0
    warmup: float = 1.0
    rate: float | None = None
    id_prefix: str = "BENCH-"
    id_tag: str = "BENCHTAG01"
    password: str | None = None
    server_pid: int | None = None
    connect_concurrency: int = 100
    timeout: float = 30.0


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)
    boot_times: list[float] = field(default_factory=list)
    completed: int = 0
    late: int = 0
    connected: int = 0
    booted: int = 0
    server_calls: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)

    def error(self, kind: str, detail: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if len(self.error_samples) < 10:
            self.error_samples.append(f"{kind}: {detail}"[:300])


class Clock:
    """An OCPP timestamp refreshed every 100 ms, so frames need no date formatting."""

    def __init__(self) -> None:
        self.now = self._format()

    @staticmethod
    def _format() -> str:
        return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    async def tick(self) -> None:
        while True:
            await asyncio.sleep(0.1)
            self.now = self._format()


class CallError(Exception):
    pass


class RssSampler:
    """Resident memory of the server process and its children (psutil), sampled in the back."""

    def __init__(self, pid: int | None) -> None:
        self.proc: Any = None
        if pid is not None:
            import psutil

            self.proc = psutil.Process(pid)
        self.start = self.peak = self.last = 0

    def sample(self) -> int:
        if self.proc is None:
            return 0
        try:
            procs = [self.proc, *self.proc.children(recursive=True)]
            rss = 0
            for p in procs:
                with contextlib.suppress(Exception):
                    rss += p.memory_info().rss
        except Exception:
            return self.last
        self.last = rss
        self.peak = max(self.peak, rss)
        return rss

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(0.5)


class Station:
    """One raw station: connection, message ids, and the frames of its version."""

    def __init__(self, opts: Options, index: int, clock: Clock, results: Results) -> None:
        self.opts = opts
        self.station_id = f"{opts.id_prefix}{index:05d}"
        self.clock = clock
        self.results = results
        self.ws: ClientConnection | None = None
        self.mid = 0
        self.seq_no = 0
        self.wh = 1000 + index
        self.tx = ""

    async def connect(self) -> None:
        headers = {}
        if self.opts.password is not None:
            raw = f"{self.station_id}:{self.opts.password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        self.ws = await connect(
            f"{self.opts.url.rstrip('/')}/{self.station_id}",
            subprotocols=[Subprotocol(SUBPROTOCOL[self.opts.version])],
            additional_headers=headers,
            compression=None,
            ping_interval=None,
            open_timeout=self.opts.timeout,
            max_queue=None,
        )
        self.results.connected += 1

    async def call(self, action: str, payload: str) -> str:
        """Send one CALL (payload already JSON) and return the CALLRESULT frame."""
        assert self.ws is not None
        self.mid += 1
        mid = str(self.mid)
        await self.ws.send(f'[2,"{mid}","{action}",{payload}]')
        return await self.answer(mid)

    async def answer(self, mid: str) -> str:
        assert self.ws is not None
        token = f'"{mid}"'
        while True:
            frame = await asyncio.wait_for(self.ws.recv(), self.opts.timeout)
            if isinstance(frame, bytes):
                frame = frame.decode()
            kind = frame[1] if frame[1] != " " else frame.lstrip("[ ")[0]
            if kind == "3" and frame.find(token, 0, len(mid) + 12) > 0:
                return frame
            if kind == "4" and frame.find(token, 0, len(mid) + 12) > 0:
                raise CallError(frame[:200])
            if kind == "2":  # the server asks something: we support nothing
                self.results.server_calls += 1
                call_id = orjson.loads(frame)[1]
                await self.ws.send(
                    orjson.dumps([4, call_id, "NotImplemented", "load generator", {}]).decode()
                )

    # -------------------------------------------------------------- frames
    async def boot(self) -> None:
        if self.opts.version == "1.6":
            payload = (
                '{"chargePointVendor":"Borne","chargePointModel":"LoadGen",'
                f'"chargePointSerialNumber":"{self.station_id}"}}'
            )
        else:
            payload = (
                '{"reason":"PowerUp","chargingStation":{"model":"LoadGen","vendorName":"Borne",'
                f'"serialNumber":"{self.station_id}"}}}}'
            )
        frame = await self.call("BootNotification", payload)
        status = orjson.loads(frame)[2].get("status")
        if status != "Accepted":
            raise CallError(f"BootNotification {status}")
        self.results.booted += 1

    async def start_transaction(self) -> None:
        now = self.clock.now
        if self.opts.version == "1.6":
            frame = await self.call(
                "StartTransaction",
                f'{{"connectorId":1,"idTag":"{self.opts.id_tag}","meterStart":{self.wh},'
                f'"timestamp":"{now}"}}',
            )
            self.tx = str(int(orjson.loads(frame)[2]["transactionId"]))
        else:
            self.tx = f"{self.station_id}-{random.getrandbits(32):08x}"
            await self.call(
                "TransactionEvent",
                f'{{"eventType":"Started","timestamp":"{now}","triggerReason":"Authorized",'
                f'"seqNo":0,"transactionInfo":{{"transactionId":"{self.tx}",'
                f'"chargingState":"Charging"}},"idToken":{{"idToken":"{self.opts.id_tag}",'
                f'"type":"ISO14443"}},"evse":{{"id":1,"connectorId":1}},"meterValue":'
                f'[{{"timestamp":"{now}","sampledValue":[{{"value":{self.wh},'
                f'"context":"Transaction.Begin","measurand":"Energy.Active.Import.Register",'
                f'"unitOfMeasure":{{"unit":"Wh"}}}}]}}]}}',
            )
            self.seq_no = 1

    def meter_frame(self) -> tuple[str, str]:
        """(action, payload) of the next meter value, with a rising register."""
        self.wh += 37
        now = self.clock.now
        if self.opts.version == "1.6":
            return "MeterValues", (
                f'{{"connectorId":1,"transactionId":{self.tx},"meterValue":[{{"timestamp":'
                f'"{now}","sampledValue":[{{"value":"{self.wh}","context":"Sample.Periodic",'
                f'"measurand":"Energy.Active.Import.Register","unit":"Wh"}}]}}]}}'
            )
        seq_no = self.seq_no
        self.seq_no += 1
        return "TransactionEvent", (
            f'{{"eventType":"Updated","timestamp":"{now}","triggerReason":"MeterValuePeriodic",'
            f'"seqNo":{seq_no},"transactionInfo":{{"transactionId":"{self.tx}",'
            f'"chargingState":"Charging"}},"meterValue":[{{"timestamp":"{now}","sampledValue":'
            f'[{{"value":{self.wh},"context":"Sample.Periodic",'
            f'"measurand":"Energy.Active.Import.Register","unitOfMeasure":{{"unit":"Wh"}}}}]}}]}}'
        )

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 5)


async def prepare(st: Station, results: Results, sem: asyncio.Semaphore, tx: bool) -> bool:
    """Connect, boot and (for the transaction scenarios) start a transaction."""
    async with sem:
        try:
            await st.connect()
            await st.boot()
            if tx:
                await st.start_transaction()
        except CallError as exc:
            results.error("boot", str(exc))
            return False
        except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed) as exc:
            results.error("connect", repr(exc))
            return False
        return True


async def closed_loop(st: Station, results: Results, begin: float, end: float) -> None:
    """As fast as answered, one CALL outstanding: count round trips that end in [begin, end]."""
    perf = time.perf_counter
    lat = results.latencies
    while True:
        action, payload = st.meter_frame()
        t0 = perf()
        if t0 >= end:
            return
        try:
            await st.call(action, payload)
        except CallError as exc:
            results.error("call_error", str(exc))
            continue
        t1 = perf()
        if begin <= t1 <= end:
            lat.append(t1 - t0)
            results.completed += 1


async def open_loop(
    st: Station, results: Results, begin: float, end: float, interval: float
) -> None:
    """At a fixed rate: latency counts from the scheduled send time (no coordinated omission)."""
    perf = time.perf_counter
    due = begin + random.uniform(0.0, interval)
    while due < end:
        now = perf()
        if now < due:
            await asyncio.sleep(due - now)
        elif now - due > 0.001:
            results.late += 1
        action, payload = st.meter_frame()
        try:
            await st.call(action, payload)
        except CallError as exc:
            results.error("call_error", str(exc))
        else:
            results.latencies.append(perf() - due)
            results.completed += 1
        due += interval


async def run(opts: Options) -> dict[str, Any]:
    raise_fd_limit()
    clock = Clock()
    ticker = asyncio.create_task(clock.tick())
    rss = RssSampler(opts.server_pid)
    rss.start = rss.sample()
    sampler = asyncio.create_task(rss.run())
    results = Results()
    stations = [Station(opts, i + 1, clock, results) for i in range(opts.stations)]
    out: dict[str, Any] = {
        "scenario": opts.scenario,
        "version": opts.version,
        "stations": opts.stations,
        "url": opts.url,
    }
    perf = time.perf_counter
    try:
        if opts.scenario == "storm":
            await storm(opts, stations, results, out)
        else:
            sem = asyncio.Semaphore(opts.connect_concurrency)
            tx = opts.scenario != "idle"
            t_connect = perf()
            ready = await asyncio.gather(*(prepare(s, results, sem, tx) for s in stations))
            out["connect_s"] = round(perf() - t_connect, 3)
            live = [s for s, ok in zip(stations, ready, strict=True) if ok]
            if opts.scenario == "idle":
                await asyncio.sleep(min(2.0, opts.duration))
                settled = rss.sample()
                await asyncio.sleep(max(0.0, opts.duration - 2.0))
                per = (settled - rss.start) / max(1, len(live)) / 1024 if rss.proc else None
                out["rss_per_station_kib"] = None if per is None else round(per, 2)
                out["measured_s"] = opts.duration
            elif live:
                begin = perf() + opts.warmup
                end = begin + opts.duration
                if opts.scenario == "throughput":
                    jobs = [closed_loop(s, results, begin, end) for s in live]
                else:
                    rate = opts.rate or 100.0
                    out["target_rate_msg_s"] = rate
                    jobs = [open_loop(s, results, begin, end, len(live) / rate) for s in live]
                outcomes = await asyncio.gather(*jobs, return_exceptions=True)
                for o in outcomes:
                    if isinstance(o, BaseException):
                        kind = "timeout" if isinstance(o, TimeoutError) else "closed"
                        results.error(kind, repr(o))
                out["measured_s"] = opts.duration
        rss.sample()
    finally:
        await asyncio.gather(*(s.close() for s in stations))
        ticker.cancel()
        sampler.cancel()
    return out | summarize(opts, results, rss)


async def storm(
    opts: Options, stations: list[Station], results: Results, out: dict[str, Any]
) -> None:
    """Every station connects and boots at once; time until the last is accepted."""
    t0 = time.perf_counter()
    retries = [0]

    async def one(st: Station) -> None:
        try:
            while True:  # a station refused with 503 comes back after Retry-After, as chargers do
                try:
                    await st.connect()
                except InvalidStatus as exc:
                    if exc.response.status_code != 503 or time.perf_counter() - t0 > 120:
                        raise
                    retries[0] += 1
                    retry_after = exc.response.headers.get("Retry-After", "1")
                    await asyncio.sleep(
                        min(30.0, float(retry_after) if retry_after.isdigit() else 1.0)
                    )
                else:
                    break
            await st.boot()
        except CallError as exc:
            results.error("boot", str(exc))
        except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed) as exc:
            results.error("connect", repr(exc))
        else:
            results.boot_times.append(time.perf_counter() - t0)

    await asyncio.gather(*(one(s) for s in stations))
    times = sorted(results.boot_times)
    out["time_to_all_accepted_s"] = round(times[-1], 3) if len(times) == len(stations) else None
    out["boot_time_s"] = {
        "p50": round(percentile(times, 50), 3),
        "p99": round(percentile(times, 99), 3),
        "max": round(times[-1], 3) if times else 0.0,
    }
    out["failures"] = len(stations) - len(times)
    out["retries_503"] = retries[0]
    out["measured_s"] = round(time.perf_counter() - t0, 3)


def summarize(opts: Options, results: Results, rss: RssSampler) -> dict[str, Any]:
    lat = sorted(results.latencies)
    measured = opts.duration if opts.scenario in ("throughput", "latency") else 0.0
    mib = 1024 * 1024
    return {
        "connected": results.connected,
        "booted": results.booted,
        "messages": results.completed,
        "throughput_msg_s": round(results.completed / measured, 1) if measured else 0.0,
        "latency_ms": {
            "p50": round(percentile(lat, 50) * 1000, 3),
            "p95": round(percentile(lat, 95) * 1000, 3),
            "p99": round(percentile(lat, 99) * 1000, 3),
            "max": round(lat[-1] * 1000, 3) if lat else 0.0,
            "mean": round(sum(lat) / len(lat) * 1000, 3) if lat else 0.0,
        },
        "late_sends": results.late,
        "server_calls": results.server_calls,
        "errors": sum(results.errors.values()),
        "errors_by_kind": results.errors,
        "error_samples": results.error_samples,
        "server_rss_mib": {
            "start": round(rss.start / mib, 1),
            "peak": round(rss.peak / mib, 1),
            "end": round(rss.last / mib, 1),
        },
    }


def parse_args(argv: list[str] | None = None) -> Options:
    p = argparse.ArgumentParser(prog="python -m benchmarks.loadgen", description=__doc__)
    p.add_argument("--url", required=True, help="base URL; the station id is appended")
    p.add_argument("--version", choices=sorted(SUBPROTOCOL), default="1.6")
    p.add_argument("--stations", type=int, default=50)
    p.add_argument("--scenario", choices=SCENARIOS, default="throughput")
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--rate", type=float, default=None, help="latency scenario: msg/s in total")
    p.add_argument("--id-prefix", default="BENCH-")
    p.add_argument("--id-tag", default="BENCHTAG01")
    p.add_argument("--password", default=None)
    p.add_argument("--server-pid", type=int, default=None)
    p.add_argument("--connect-concurrency", type=int, default=100)
    p.add_argument("--timeout", type=float, default=30.0)
    a = p.parse_args(argv)
    return Options(
        url=a.url,
        version=a.version,
        stations=a.stations,
        scenario=a.scenario,
        duration=a.duration,
        warmup=a.warmup,
        rate=a.rate,
        id_prefix=a.id_prefix,
        id_tag=a.id_tag,
        password=a.password,
        server_pid=a.server_pid,
        connect_concurrency=a.connect_concurrency,
        timeout=a.timeout,
    )


def main(argv: list[str] | None = None) -> None:
    opts = parse_args(argv)
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    result = runner(run(opts))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
