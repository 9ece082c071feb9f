"""The reference CSMS: written the way the ``ocpp`` package documents it.

``ChargePoint`` subclasses (1.6 and 2.0.1) with ``@on`` handlers, served by ``websockets``, with
the package's default schema validation, answering every message at once and storing nothing.
It is what a Python developer would write first; the benchmark reports Borne as a ratio to it.

Run: ``python -m benchmarks.reference.server --port 9000`` (``--port 0`` picks a free port). It
prints ``LISTENING <host>:<port>`` once ready and, on SIGINT/SIGTERM, ``STATS {json}`` with the
number of messages received per action, then exits.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import signal
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from benchmarks.common import raise_fd_limit

HEARTBEAT_INTERVAL = 300


def now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class Stats:
    """What the server received: CALLs per action, connections."""

    actions: Counter[str] = field(default_factory=Counter)
    connections: int = 0
    open_connections: int = 0
    transaction_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def as_dict(self) -> dict[str, Any]:
        return {
            "actions": dict(sorted(self.actions.items())),
            "messages": sum(n for action, n in self.actions.items() if "." not in action),
            "connections": self.connections,
        }


class ReferenceChargePoint16(ChargePoint16):  # type: ignore[misc]
    def __init__(self, charge_point_id: str, connection: Any, stats: Stats) -> None:
        super().__init__(charge_point_id, connection)
        self.stats = stats

    @on("BootNotification")  # type: ignore[untyped-decorator]
    def on_boot_notification(self, **kwargs: Any) -> Any:
        self.stats.actions["BootNotification"] += 1
        return result16.BootNotification(
            current_time=now(), interval=HEARTBEAT_INTERVAL, status="Accepted"
        )

    @on("Heartbeat")  # type: ignore[untyped-decorator]
    def on_heartbeat(self, **kwargs: Any) -> Any:
        self.stats.actions["Heartbeat"] += 1
        return result16.Heartbeat(current_time=now())

    @on("StatusNotification")  # type: ignore[untyped-decorator]
    def on_status_notification(self, **kwargs: Any) -> Any:
        self.stats.actions["StatusNotification"] += 1
        return result16.StatusNotification()

    @on("Authorize")  # type: ignore[untyped-decorator]
    def on_authorize(self, id_tag: str, **kwargs: Any) -> Any:
        self.stats.actions["Authorize"] += 1
        return result16.Authorize(id_tag_info={"status": "Accepted"})

    @on("StartTransaction")  # type: ignore[untyped-decorator]
    def on_start_transaction(self, **kwargs: Any) -> Any:
        self.stats.actions["StartTransaction"] += 1
        return result16.StartTransaction(
            transaction_id=next(self.stats.transaction_ids), id_tag_info={"status": "Accepted"}
        )

    @on("MeterValues")  # type: ignore[untyped-decorator]
    def on_meter_values(self, **kwargs: Any) -> Any:
        self.stats.actions["MeterValues"] += 1
        return result16.MeterValues()

    @on("StopTransaction")  # type: ignore[untyped-decorator]
    def on_stop_transaction(self, **kwargs: Any) -> Any:
        self.stats.actions["StopTransaction"] += 1
        return result16.StopTransaction(id_tag_info={"status": "Accepted"})

    @on("DataTransfer")  # type: ignore[untyped-decorator]
    def on_data_transfer(self, **kwargs: Any) -> Any:
        self.stats.actions["DataTransfer"] += 1
        return result16.DataTransfer(status="UnknownVendorId")

    @on("DiagnosticsStatusNotification")  # type: ignore[untyped-decorator]
    def on_diagnostics_status_notification(self, **kwargs: Any) -> Any:
        self.stats.actions["DiagnosticsStatusNotification"] += 1
        return result16.DiagnosticsStatusNotification()

    @on("FirmwareStatusNotification")  # type: ignore[untyped-decorator]
    def on_firmware_status_notification(self, **kwargs: Any) -> Any:
        self.stats.actions["FirmwareStatusNotification"] += 1
        return result16.FirmwareStatusNotification()


class ReferenceChargePoint201(ChargePoint201):  # type: ignore[misc]
    def __init__(self, charge_point_id: str, connection: Any, stats: Stats) -> None:
        super().__init__(charge_point_id, connection)
        self.stats = stats

    @on("BootNotification")  # type: ignore[untyped-decorator]
    def on_boot_notification(self, **kwargs: Any) -> Any:
        self.stats.actions["BootNotification"] += 1
        return result201.BootNotification(
            current_time=now(), interval=HEARTBEAT_INTERVAL, status="Accepted"
        )

    @on("Heartbeat")  # type: ignore[untyped-decorator]
    def on_heartbeat(self, **kwargs: Any) -> Any:
        self.stats.actions["Heartbeat"] += 1
        return result201.Heartbeat(current_time=now())

    @on("StatusNotification")  # type: ignore[untyped-decorator]
    def on_status_notification(self, **kwargs: Any) -> Any:
        self.stats.actions["StatusNotification"] += 1
        return result201.StatusNotification()

    @on("Authorize")  # type: ignore[untyped-decorator]
    def on_authorize(self, **kwargs: Any) -> Any:
        self.stats.actions["Authorize"] += 1
        return result201.Authorize(id_token_info={"status": "Accepted"})

    @on("TransactionEvent")  # type: ignore[untyped-decorator]
    def on_transaction_event(self, event_type: str, **kwargs: Any) -> Any:
        self.stats.actions["TransactionEvent"] += 1
        self.stats.actions[f"TransactionEvent.{event_type}"] += 1
        if kwargs.get("id_token") is not None:
            return result201.TransactionEvent(id_token_info={"status": "Accepted"})
        return result201.TransactionEvent()

    @on("MeterValues")  # type: ignore[untyped-decorator]
    def on_meter_values(self, **kwargs: Any) -> Any:
        self.stats.actions["MeterValues"] += 1
        return result201.MeterValues()

    @on("NotifyReport")  # type: ignore[untyped-decorator]
    def on_notify_report(self, **kwargs: Any) -> Any:
        self.stats.actions["NotifyReport"] += 1
        return result201.NotifyReport()

    @on("DataTransfer")  # type: ignore[untyped-decorator]
    def on_data_transfer(self, **kwargs: Any) -> Any:
        self.stats.actions["DataTransfer"] += 1
        return result201.DataTransfer(status="UnknownVendorId")


class ReferenceServer:
    """The server, usable in-process (``async with ReferenceServer() as server``)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.stats = Stats()
        self._server: Server | None = None

    async def on_connect(self, websocket: ServerConnection) -> None:
        if websocket.subprotocol is None:
            await websocket.close(1002, "an OCPP subprotocol is required")
            return
        charge_point_id = (websocket.request.path if websocket.request else "/").strip("/")
        charge_point_id = charge_point_id.rsplit("/", 1)[-1]
        cls = ReferenceChargePoint16 if websocket.subprotocol == "ocpp1.6" else None
        cp = (cls or ReferenceChargePoint201)(charge_point_id, websocket, self.stats)
        self.stats.connections += 1
        self.stats.open_connections += 1
        try:
            await cp.start()
        except ConnectionClosed:
            pass
        finally:
            self.stats.open_connections -= 1

    async def start(self) -> int:
        self._server = await serve(
            self.on_connect,
            self.host,
            self.port,
            subprotocols=[Subprotocol("ocpp1.6"), Subprotocol("ocpp2.0.1")],
        )
        self.port = int(next(iter(self._server.sockets)).getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    async def __aenter__(self) -> ReferenceServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def main(host: str, port: int) -> None:
    server = ReferenceServer(host, port)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"LISTENING {server.host}:{server.port}", flush=True)
    await stop.wait()
    await server.stop()
    print("STATS " + json.dumps(server.stats.as_dict()), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    raise_fd_limit()
    asyncio.run(main(args.host, args.port))
