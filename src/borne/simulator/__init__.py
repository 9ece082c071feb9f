"""Station simulator: realistic OCPP 1.6J / 2.0.1 charging stations over WebSocket.

An independent client built on the ``ocpp`` package (it imports nothing else of Borne), usable
against any CSMS::

    cfg = SimulationConfig(url="ws://127.0.0.1:9000/ocpp", stations=10, ocpp_version="2.0.1")
    report = await run_simulation(cfg)
    print(report.summary())
"""

from borne.simulator.config import (
    SUPPORTED_VERSIONS,
    OcppVersion,
    SimulationConfig,
    SimulationReport,
    StationReport,
)
from borne.simulator.runner import build_station, build_stations, run_simulation, simulate
from borne.simulator.station import SimStation

__all__ = [
    "SUPPORTED_VERSIONS",
    "OcppVersion",
    "SimStation",
    "SimulationConfig",
    "SimulationReport",
    "StationReport",
    "build_station",
    "build_stations",
    "run_simulation",
    "simulate",
]
