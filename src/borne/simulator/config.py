"""Configuration and report of a simulation run (plain dataclasses, no CLI framework)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

OcppVersion = Literal["1.6", "2.0.1"]
SUPPORTED_VERSIONS: tuple[str, ...] = ("1.6", "2.0.1")


@dataclass(slots=True)
class SimulationConfig:
    """What to simulate: how many stations, which protocol, and how they behave.

    Durations are in seconds of wall-clock time. ``time_scale`` only speeds up the physics (energy,
    state of charge): with ``time_scale=60`` one real second charges like one minute.
    """

    url: str = "ws://127.0.0.1:9000/ocpp"
    stations: int = 1
    ocpp_version: OcppVersion = "1.6"
    id_prefix: str = "SIM-"
    first_index: int = 1
    password: str | None = None
    id_tag: str = "SIMTAG0001"
    """Driver tag; ``{index}`` is replaced by the station's number (``"T-{index:04d}"``), so
    several stations do not charge with one tag at once (a CSMS answers ConcurrentTx)."""
    connectors: int = 1
    meter_interval: float = 10.0
    heartbeat_interval: float | None = None
    """Overrides the interval of the boot response when set."""
    sessions: int | None = 1
    """Charging sessions per station (on connector 1); ``None`` = continuous, ``0`` = none."""
    session_duration: float = 60.0
    pause_between_sessions: float = 5.0
    duration: float | None = None
    """Total run time; ``None`` = until every station finished its sessions (or is stopped)."""
    boot_retry_interval: float = 10.0
    """Retry delay after a Pending/Rejected boot when the CSMS gives ``interval`` 0."""
    connect_attempts: int = 3
    """Consecutive failed connection attempts after which a station gives up."""
    reconnect_delay: float = 2.0
    reconnect_on_reset: bool = True
    response_timeout: float = 30.0
    connect_stagger: float = 0.0
    """Delay between the starts of two consecutive stations."""
    stop_grace: float = 10.0
    """Time stations get to end their sessions cleanly when the run stops."""
    time_scale: float = 1.0
    max_power_w: float = 11_000.0
    battery_capacity_wh: float = 60_000.0
    vendor: str = "Borne"
    model: str = "SimStation"
    firmware_version: str = "sim-1.0"
    seed: int | None = None

    def tag_for(self, index: int) -> str:
        """The id tag station ``index`` (0-based) charges with; numbered like its station id."""
        if "{" not in self.id_tag:
            return self.id_tag
        return self.id_tag.format(index=self.first_index + index)

    def __post_init__(self) -> None:
        if self.ocpp_version not in SUPPORTED_VERSIONS:
            raise ValueError(f"unsupported OCPP version {self.ocpp_version!r}")
        if self.stations < 1:
            raise ValueError("stations must be at least 1")
        if self.connectors < 1:
            raise ValueError("connectors must be at least 1")
        if self.meter_interval <= 0 or self.session_duration < 0:
            raise ValueError("meter_interval must be > 0 and session_duration >= 0")

    @classmethod
    def fast(cls, **overrides: Any) -> SimulationConfig:
        """Settings for tests: sub-second intervals, accelerated physics, short grace periods."""
        values: dict[str, Any] = {
            "meter_interval": 0.1,
            "heartbeat_interval": 1.0,
            "session_duration": 0.5,
            "pause_between_sessions": 0.1,
            "boot_retry_interval": 0.2,
            "reconnect_delay": 0.2,
            "response_timeout": 5.0,
            "stop_grace": 3.0,
            "time_scale": 120.0,
        }
        values.update(overrides)
        return cls(**values)

    def station_id(self, index: int) -> str:
        return f"{self.id_prefix}{self.first_index + index:04d}"

    def replace(self, **changes: Any) -> SimulationConfig:
        return dataclasses.replace(self, **changes)


@dataclass(slots=True)
class StationReport:
    """What one simulated station did."""

    station_id: str
    connected: bool = False
    boot_status: str | None = None
    connections: int = 0
    messages_sent: int = 0
    messages_received: int = 0
    calls_sent: Counter[str] = field(default_factory=Counter)
    """CALLs the station initiated, by action."""
    calls_received: Counter[str] = field(default_factory=Counter)
    """CALLs the CSMS initiated, by action."""
    sessions_started: int = 0
    sessions_completed: int = 0
    meter_values_sent: int = 0
    energy_wh: float = 0.0
    errors: list[str] = field(default_factory=list)


@dataclass(slots=True)
class SimulationReport:
    """Totals over every station, plus the per-station details."""

    ocpp_version: str
    stations: list[StationReport]
    elapsed_s: float

    @property
    def messages_sent(self) -> int:
        return sum(s.messages_sent for s in self.stations)

    @property
    def messages_received(self) -> int:
        return sum(s.messages_received for s in self.stations)

    @property
    def sessions_completed(self) -> int:
        return sum(s.sessions_completed for s in self.stations)

    @property
    def meter_values_sent(self) -> int:
        return sum(s.meter_values_sent for s in self.stations)

    @property
    def errors(self) -> list[str]:
        return [f"{s.station_id}: {e}" for s in self.stations for e in s.errors]

    @property
    def calls_sent(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for s in self.stations:
            total.update(s.calls_sent)
        return total

    @property
    def calls_received(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for s in self.stations:
            total.update(s.calls_received)
        return total

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary, what the CLI prints."""
        return {
            "ocpp_version": self.ocpp_version,
            "stations": len(self.stations),
            "connected": sum(1 for s in self.stations if s.connected),
            "booted": sum(1 for s in self.stations if s.boot_status == "Accepted"),
            "elapsed_s": round(self.elapsed_s, 3),
            "messages_sent": self.messages_sent,
            "messages_received": self.messages_received,
            "sessions_completed": self.sessions_completed,
            "meter_values_sent": self.meter_values_sent,
            "energy_kwh": round(sum(s.energy_wh for s in self.stations) / 1000, 3),
            "calls_sent": dict(sorted(self.calls_sent.items())),
            "calls_received": dict(sorted(self.calls_received.items())),
            "errors": len(self.errors),
            "error_samples": self.errors[:20],
        }
