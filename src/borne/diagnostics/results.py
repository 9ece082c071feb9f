"""What the diagnostics commands give back, whatever OCPP version the station speaks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from borne.commands.results import CommandResult, VariableRef

LogType = Literal["DiagnosticsLog", "SecurityLog"]
LogAction = Literal["GetDiagnostics", "GetLog"]
MonitorType = Literal[
    "UpperThreshold", "LowerThreshold", "Delta", "Periodic", "PeriodicClockAligned"
]
MonitoringBase = Literal["All", "FactoryDefault", "HardWiredOnly"]
MonitoringCriterion = Literal["ThresholdMonitoring", "DeltaMonitoring", "PeriodicMonitoring"]


@dataclass(frozen=True)
class LogParameters:
    location: str
    request_id: int | None  # None for GetDiagnostics
    log_type: LogType
    oldest: datetime | None
    latest: datetime | None
    retries: int | None
    retry_interval: int | None


@dataclass(frozen=True, kw_only=True)
class LogResult(CommandResult):
    # The name of the file the station will upload (GetDiagnostics: absent when it has none).
    filename: str | None = None


@dataclass(frozen=True)
class MonitorSet:
    ref: VariableRef
    type: MonitorType
    value: float
    severity: int
    id: int | None = None  # an existing monitor to replace
    transaction: bool = False


@dataclass(frozen=True)
class MonitorOutcome:
    ref: VariableRef
    status: str
    type: str
    severity: int
    id: int | None  # the station's id of the monitor (set when Accepted)
    reason: str | None = None
    reason_info: str | None = None


@dataclass(frozen=True, kw_only=True)
class SetMonitorsResult(CommandResult):
    results: list[MonitorOutcome] = field(default_factory=list)


@dataclass(frozen=True)
class ClearOutcome:
    id: int
    status: str
    reason: str | None = None
    reason_info: str | None = None


@dataclass(frozen=True, kw_only=True)
class ClearMonitorsResult(CommandResult):
    results: list[ClearOutcome] = field(default_factory=list)
