"""The station simulator against the reference CSMS, and against a CSMS that commands it.

The reference server (benchmarks/reference/server.py) runs as its own process and reports what
it received when stopped; the commanding CSMS is a few ``ocpp``-package handlers in this file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint as CentralSystem16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as CentralSystem201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from borne.simulator import SimulationConfig, run_simulation

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 15


@dataclass
class ReferenceProcess:
    proc: subprocess.Popen[str]
    url: str

    def stop(self) -> dict[str, Any]:
        """Stop the server and return its ``STATS`` (messages received per action)."""
        self.proc.send_signal(signal.SIGINT)
        out, _ = self.proc.communicate(timeout=10)
        for line in out.splitlines():
            if line.startswith("STATS "):
                stats: dict[str, Any] = json.loads(line[6:])
                return stats
        raise AssertionError(f"no STATS line in the reference server's output: {out!r}")


@pytest.fixture
def reference() -> Iterator[ReferenceProcess]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.reference.server", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("LISTENING "), f"reference server did not start: {line!r}"
    server = ReferenceProcess(proc, f"ws://{line.split()[1]}")
    yield server
    if proc.poll() is None:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_simulated_sessions_reach_the_reference_server(
    reference: ReferenceProcess, version: str
) -> None:
    cfg = SimulationConfig.fast(url=reference.url, stations=2, ocpp_version=version, sessions=1)

    report = await asyncio.wait_for(run_simulation(cfg), TIMEOUT)
    stats = reference.stop()

    assert report.errors == []
    assert report.summary()["booted"] == 2
    assert report.sessions_completed == 2
    assert report.meter_values_sent >= 4
    assert report.summary()["energy_kwh"] > 0
    received = stats["actions"]
    assert received["BootNotification"] == 2
    assert received["Authorize"] == 2
    if version == "1.6":
        assert received["StartTransaction"] == 2
        assert received["MeterValues"] == report.meter_values_sent
        assert received["StopTransaction"] == 2
        assert received["StatusNotification"] == report.calls_sent["StatusNotification"]
    else:
        assert received["TransactionEvent.Started"] == 2
        assert received["TransactionEvent.Updated"] == report.meter_values_sent
        assert received["TransactionEvent.Ended"] == 2
    assert stats["messages"] == report.messages_sent


# --------------------------------------------------------------- a CSMS that gives orders


@dataclass
class CsmsState:
    """What the test CSMS saw, shared by every connection of the station."""

    connected: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    received: Counter[str] = field(default_factory=Counter)
    events: dict[str, asyncio.Queue[dict[str, Any]]] = field(default_factory=dict)

    def record(self, action: str, payload: dict[str, Any]) -> None:
        self.received[action] += 1
        self.events.setdefault(action, asyncio.Queue()).put_nowait(payload)

    async def next(self, action: str) -> dict[str, Any]:
        queue = self.events.setdefault(action, asyncio.Queue())
        return await asyncio.wait_for(queue.get(), TIMEOUT)

    def drain(self, action: str) -> None:
        queue = self.events.setdefault(action, asyncio.Queue())
        while not queue.empty():
            queue.get_nowait()


NOW = "2025-01-01T00:00:00Z"


class Csms16(CentralSystem16):  # type: ignore[misc]
    def __init__(self, station_id: str, connection: Any, state: CsmsState) -> None:
        super().__init__(station_id, connection)
        self.state = state

    @on("BootNotification")  # type: ignore[untyped-decorator]
    def boot(self, **kw: Any) -> Any:
        self.state.record("BootNotification", kw)
        return result16.BootNotification(current_time=NOW, interval=300, status="Accepted")

    @on("StatusNotification")  # type: ignore[untyped-decorator]
    def status(self, **kw: Any) -> Any:
        self.state.record("StatusNotification", kw)
        return result16.StatusNotification()

    @on("Heartbeat")  # type: ignore[untyped-decorator]
    def heartbeat(self, **kw: Any) -> Any:
        self.state.record("Heartbeat", kw)
        return result16.Heartbeat(current_time=NOW)

    @on("Authorize")  # type: ignore[untyped-decorator]
    def authorize(self, **kw: Any) -> Any:
        self.state.record("Authorize", kw)
        return result16.Authorize(id_tag_info={"status": "Accepted"})

    @on("StartTransaction")  # type: ignore[untyped-decorator]
    def start_transaction(self, **kw: Any) -> Any:
        self.state.record("StartTransaction", kw)
        return result16.StartTransaction(transaction_id=42, id_tag_info={"status": "Accepted"})

    @on("MeterValues")  # type: ignore[untyped-decorator]
    def meter_values(self, **kw: Any) -> Any:
        self.state.record("MeterValues", kw)
        return result16.MeterValues()

    @on("StopTransaction")  # type: ignore[untyped-decorator]
    def stop_transaction(self, **kw: Any) -> Any:
        self.state.record("StopTransaction", kw)
        return result16.StopTransaction()


class Csms201(CentralSystem201):  # type: ignore[misc]
    def __init__(self, station_id: str, connection: Any, state: CsmsState) -> None:
        super().__init__(station_id, connection)
        self.state = state

    @on("BootNotification")  # type: ignore[untyped-decorator]
    def boot(self, **kw: Any) -> Any:
        self.state.record("BootNotification", kw)
        return result201.BootNotification(current_time=NOW, interval=300, status="Accepted")

    @on("StatusNotification")  # type: ignore[untyped-decorator]
    def status(self, **kw: Any) -> Any:
        self.state.record("StatusNotification", kw)
        return result201.StatusNotification()

    @on("Heartbeat")  # type: ignore[untyped-decorator]
    def heartbeat(self, **kw: Any) -> Any:
        self.state.record("Heartbeat", kw)
        return result201.Heartbeat(current_time=NOW)

    @on("TransactionEvent")  # type: ignore[untyped-decorator]
    def transaction_event(self, **kw: Any) -> Any:
        self.state.record(f"TransactionEvent.{kw['event_type']}", kw)
        return result201.TransactionEvent()

    @on("NotifyReport")  # type: ignore[untyped-decorator]
    def notify_report(self, **kw: Any) -> Any:
        self.state.record("NotifyReport", kw)
        return result201.NotifyReport()


@pytest.fixture
async def csms() -> AsyncIterator[tuple[str, CsmsState]]:
    state = CsmsState()

    async def handler(ws: ServerConnection) -> None:
        station_id = (ws.request.path if ws.request else "/").rsplit("/", 1)[-1]
        cls = Csms16 if ws.subprotocol == "ocpp1.6" else Csms201
        cp = cls(station_id, ws, state)
        state.connected.put_nowait(cp)
        with contextlib.suppress(ConnectionClosed):
            await cp.start()

    protocols = [Subprotocol("ocpp1.6"), Subprotocol("ocpp2.0.1")]
    server = await serve(handler, "127.0.0.1", 0, subprotocols=protocols)
    port = next(iter(server.sockets)).getsockname()[1]
    yield f"ws://127.0.0.1:{port}/ocpp", state
    server.close()
    await server.wait_closed()


def station_config(url: str, version: str) -> SimulationConfig:
    # no spontaneous sessions or heartbeats: everything the station does here was asked for
    return SimulationConfig.fast(
        url=url, ocpp_version=version, sessions=0, heartbeat_interval=300, session_duration=60
    )


async def test_simulated_16_station_answers_csms_commands(csms: tuple[str, CsmsState]) -> None:
    url, state = csms
    stop = asyncio.Event()
    simulation = asyncio.create_task(run_simulation(station_config(url, "1.6"), stop=stop))
    cp = await asyncio.wait_for(state.connected.get(), TIMEOUT)
    assert cp.id == "SIM-0001"
    await state.next("BootNotification")
    statuses = [(await state.next("StatusNotification"))["connector_id"] for _ in range(2)]
    assert statuses == [0, 1]

    conf = await cp.call(call16.GetConfiguration(key=["HeartbeatInterval", "NoSuchKey"]))
    assert conf.configuration_key == [
        {"key": "HeartbeatInterval", "readonly": False, "value": "300"}
    ]
    assert conf.unknown_key == ["NoSuchKey"]
    everything = await cp.call(call16.GetConfiguration())
    keys = {k["key"]: k for k in everything.configuration_key}
    assert keys["NumberOfConnectors"] == {
        "key": "NumberOfConnectors",
        "readonly": True,
        "value": "1",
    }
    assert "AuthorizationKey" not in keys
    change = call16.ChangeConfiguration
    assert (await cp.call(change(key="NumberOfConnectors", value="4"))).status == "Rejected"
    assert (await cp.call(change(key="Nope", value="1"))).status == "NotSupported"
    assert (await cp.call(change(key="MeterValueSampleInterval", value="x"))).status == "Rejected"
    assert (await cp.call(change(key="HeartbeatInterval", value="120"))).status == "Accepted"

    start = await cp.call(call16.RemoteStartTransaction(id_tag="REMOTE01", connector_id=1))
    assert start.status == "Accepted"
    started = await state.next("StartTransaction")
    assert (started["connector_id"], started["id_tag"]) == (1, "REMOTE01")
    first = await state.next("MeterValues")
    second = await state.next("MeterValues")
    assert first["transaction_id"] == 42
    energy = [
        float(
            next(
                v["value"]
                for v in m["meter_value"][0]["sampled_value"]
                if v["measurand"].startswith("Energy")
            )
        )
        for m in (first, second)
    ]
    assert energy[1] > energy[0]
    busy = await cp.call(call16.RemoteStartTransaction(id_tag="REMOTE02", connector_id=1))
    assert busy.status == "Rejected"
    assert (await cp.call(call16.RemoteStopTransaction(transaction_id=7))).status == "Rejected"
    assert (await cp.call(call16.RemoteStopTransaction(transaction_id=42))).status == "Accepted"
    stopped = await state.next("StopTransaction")
    assert stopped["reason"] == "Remote"
    assert stopped["transaction_id"] == 42
    assert stopped["meter_stop"] >= started["meter_start"]

    state.drain("Heartbeat")
    trigger = await cp.call(call16.TriggerMessage(requested_message="Heartbeat"))
    assert trigger.status == "Accepted"
    await state.next("Heartbeat")
    bad = await cp.call(
        call16.TriggerMessage(requested_message="StatusNotification", connector_id=9)
    )
    assert bad.status == "Rejected"
    assert (await cp.call(call16.ClearCache())).status == "Accepted"
    assert (await cp.call(call16.DataTransfer(vendor_id="acme"))).status == "UnknownVendorId"
    assert (await cp.call(call16.UnlockConnector(connector_id=1))).status == "Unlocked"
    availability = await cp.call(call16.ChangeAvailability(connector_id=1, type="Inoperative"))
    assert availability.status == "Accepted"
    while (await state.next("StatusNotification"))["status"] != "Unavailable":
        pass

    assert (await cp.call(call16.Reset(type="Soft"))).status == "Accepted"
    await asyncio.wait_for(state.connected.get(), TIMEOUT)  # reconnects...
    await state.next("BootNotification")  # ...and boots again

    stop.set()
    report = await asyncio.wait_for(simulation, TIMEOUT)
    assert report.errors == []
    station = report.stations[0]
    assert station.connections == 2
    assert station.sessions_completed == 1
    assert station.calls_received["RemoteStartTransaction"] == 2
    assert station.calls_received["Reset"] == 1


async def test_simulated_201_station_answers_csms_commands(csms: tuple[str, CsmsState]) -> None:
    url, state = csms
    stop = asyncio.Event()
    simulation = asyncio.create_task(run_simulation(station_config(url, "2.0.1"), stop=stop))
    cp = await asyncio.wait_for(state.connected.get(), TIMEOUT)
    boot = await state.next("BootNotification")
    assert boot["reason"] == "PowerUp"
    status = await state.next("StatusNotification")
    assert (status["evse_id"], status["connector_status"]) == (1, "Available")

    got = await cp.call(
        call201.GetVariables(
            get_variable_data=[
                {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
                {"component": {"name": "Nope"}, "variable": {"name": "X"}},
                {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}},
            ]
        )
    )
    results = [(r["attribute_status"], r.get("attribute_value")) for r in got.get_variable_result]
    assert results == [("Accepted", "300"), ("UnknownComponent", None), ("Rejected", None)]
    set_result = await cp.call(
        call201.SetVariables(
            set_variable_data=[
                {
                    "attribute_value": "5",
                    "component": {"name": "SampledDataCtrlr"},
                    "variable": {"name": "TxUpdatedInterval"},
                },
                {
                    "attribute_value": "other",
                    "component": {"name": "SecurityCtrlr"},
                    "variable": {"name": "Identity"},
                },
            ]
        )
    )
    assert [r["attribute_status"] for r in set_result.set_variable_result] == [
        "Accepted",
        "Rejected",
    ]

    report_request = call201.GetBaseReport(request_id=7, report_base="FullInventory")
    assert (await cp.call(report_request)).status == "Accepted"
    rows = []
    while True:
        part = await state.next("NotifyReport")
        assert part["request_id"] == 7
        rows += part["report_data"]
        if not part.get("tbc"):
            break
    names = {(r["component"]["name"], r["variable"]["name"]) for r in rows}
    assert ("SampledDataCtrlr", "TxUpdatedInterval") in names
    interval = next(r for r in rows if r["variable"]["name"] == "TxUpdatedInterval")
    assert interval["variable_attribute"][0]["value"] == "5"

    # SetVariables made the station sample every 5 s: make it fast again for the session
    fast = {
        "attribute_value": "1",
        "component": {"name": "SampledDataCtrlr"},
        "variable": {"name": "TxUpdatedInterval"},
    }
    await cp.call(call201.SetVariables(set_variable_data=[fast]))
    start = await cp.call(
        call201.RequestStartTransaction(
            id_token={"id_token": "REMOTE01", "type": "ISO14443"}, remote_start_id=99, evse_id=1
        )
    )
    assert start.status == "Accepted"
    started = await state.next("TransactionEvent.Started")
    assert started["trigger_reason"] == "RemoteStart"
    assert started["transaction_info"]["remote_start_id"] == 99
    assert started["id_token"]["id_token"] == "REMOTE01"
    tx = started["transaction_info"]["transaction_id"]
    updated = await state.next("TransactionEvent.Updated")
    assert updated["seq_no"] == 1
    assert updated["meter_value"][0]["sampled_value"][0]["measurand"].startswith("Energy")
    unlock = await cp.call(call201.UnlockConnector(evse_id=1, connector_id=1))
    assert unlock.status == "OngoingAuthorizedTransaction"
    stop_request = call201.RequestStopTransaction(transaction_id=tx)
    assert (await cp.call(stop_request)).status == "Accepted"
    ended = await state.next("TransactionEvent.Ended")
    assert ended["transaction_info"]["stopped_reason"] == "Remote"
    assert ended["trigger_reason"] == "RemoteStop"

    state.drain("Heartbeat")
    trigger = await cp.call(call201.TriggerMessage(requested_message="Heartbeat"))
    assert trigger.status == "Accepted"
    await state.next("Heartbeat")
    again = await cp.call(call201.TriggerMessage(requested_message="BootNotification"))
    assert again.status == "Rejected"  # already accepted (F06.FR.17)
    assert (await cp.call(call201.ClearCache())).status == "Accepted"

    assert (await cp.call(call201.Reset(type="Immediate"))).status == "Accepted"
    await asyncio.wait_for(state.connected.get(), TIMEOUT)
    assert (await state.next("BootNotification"))["reason"] == "RemoteReset"

    stop.set()
    report = await asyncio.wait_for(simulation, TIMEOUT)
    assert report.errors == []
    assert report.stations[0].sessions_completed == 1
    assert report.stations[0].calls_received["GetBaseReport"] == 1
