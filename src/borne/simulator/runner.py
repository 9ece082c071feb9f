"""Run a fleet of simulated stations: what ``borne simulate`` calls."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from typing import Any

from borne.simulator.config import SimulationConfig, SimulationReport
from borne.simulator.station import SimStation
from borne.simulator.v16 import Station16
from borne.simulator.v201 import Station201


def build_station(cfg: SimulationConfig, index: int) -> SimStation:
    """The ``index``-th station (0-based) of ``cfg``, not yet connected."""
    if cfg.ocpp_version == "1.6":
        return Station16(cfg, index)
    return Station201(cfg, index)


def build_stations(cfg: SimulationConfig) -> list[SimStation]:
    """Every station of ``cfg``, not yet connected (``await station.run()`` starts one)."""
    return [build_station(cfg, i) for i in range(cfg.stations)]


async def run_simulation(
    cfg: SimulationConfig,
    *,
    stop: asyncio.Event | None = None,
    stations: list[SimStation] | None = None,
) -> SimulationReport:
    """Run the simulation and return what happened.

    It ends after ``cfg.duration`` seconds, when ``stop`` is set, or, with neither, once every
    station has run its sessions. Stations then end their sessions cleanly (StopTransaction /
    TransactionEvent Ended) and disconnect. Cancelling the call cancels every station at once.
    """
    fleet = stations if stations is not None else build_stations(cfg)
    linger = cfg.duration is not None or stop is not None
    started = time.monotonic()

    async def start(i: int, station: SimStation) -> None:
        if cfg.connect_stagger > 0:
            await asyncio.sleep(i * cfg.connect_stagger)
        await station.run(linger=linger)

    tasks = [asyncio.create_task(start(i, s)) for i, s in enumerate(fleet)]
    everything = asyncio.gather(*tasks)
    waiters: set[asyncio.Future[Any]] = {everything}
    stopper: asyncio.Task[bool] | None = None
    if stop is not None:
        stopper = asyncio.create_task(stop.wait())
        waiters.add(stopper)
    try:
        await asyncio.wait(waiters, timeout=cfg.duration, return_when=asyncio.FIRST_COMPLETED)
        if not everything.done():
            for station in fleet:
                station.request_stop()
            await asyncio.wait({everything}, timeout=cfg.stop_grace + cfg.response_timeout)
    finally:
        if stopper is not None:
            stopper.cancel()
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
    return SimulationReport(
        ocpp_version=cfg.ocpp_version,
        stations=[s.report for s in fleet],
        elapsed_s=time.monotonic() - started,
    )


def simulate(cfg: SimulationConfig) -> SimulationReport:
    """Blocking entry point for the CLI; SIGINT/SIGTERM end the run cleanly."""

    async def main() -> SimulationReport:
        fleet = build_stations(cfg)
        loop = asyncio.get_running_loop()

        def stop_all() -> None:
            for station in fleet:
                station.request_stop()

        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop_all)
        return await run_simulation(cfg, stations=fleet)

    return asyncio.run(main())
