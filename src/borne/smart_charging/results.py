"""What the smart-charging commands give back, whatever the station's OCPP version."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from borne.commands.results import CommandResult, ReportResult
from borne.smart_charging.validation import Period


@dataclass(frozen=True, kw_only=True)
class SetProfileResult(CommandResult):
    # The profile as sent, in the station's version's wire form (what Borne stores).
    profile: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class CompositeScheduleResult(CommandResult):
    evse_id: int | None = None
    schedule_start: datetime | None = None
    duration: int | None = None
    charging_rate_unit: str | None = None
    periods: list[Period] = field(default_factory=list)


__all__ = ["CompositeScheduleResult", "ReportResult", "SetProfileResult"]
