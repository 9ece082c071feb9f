"""When a session event is due: pure rules over what one process has seen of a session.

- ``session.soc_threshold``: a ``SoC`` reading at or above a subscription's threshold follows a
  reading below it in the same session (a session that starts above the threshold does not
  notify). Once per session and threshold.
- ``session.charging_finished`` (the EV stopped drawing energy; parking starts), once per
  session, after energy has flowed (the energy register rose at least once), whichever comes
  first:
  - OCPP 2.0.1: the transaction's ``chargingState`` is ``SuspendedEV``, ``EVConnected`` or
    ``Idle`` (``SuspendedEVSE``, the station's own pause, does not count); checked when the
    session's meter values arrive;
  - OCPP 1.6: a ``StatusNotification`` ``SuspendedEV`` on the session's connector;
  - either version: the energy register has not moved for ``idle_after_s`` of meter-value time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

FINISHED_STATES = frozenset({"SuspendedEV", "EVConnected", "Idle"})
CHARGING = "Charging"


def soc_crossed(previous: Decimal | None, current: Decimal, threshold: int) -> bool:
    return previous is not None and previous < threshold <= current


@dataclass
class SessionWatch:
    """What one process remembers of an active session (rebuilt after a restart)."""

    ocpp_version: str | None = None
    soc: Decimal | None = None
    soc_history_checked: bool = False
    last_wh: Decimal | None = None
    last_increase_at: datetime | None = None
    flowing: bool = False
    charging_seen: bool = False
    finished: bool = False

    def energy(self, wh: Decimal, at: datetime, *, idle_after_s: float) -> bool:
        """Take an energy register reading; True when the energy-idle rule says finished."""
        if self.last_wh is None:
            self.last_wh, self.last_increase_at = wh, at
            return False
        if wh > self.last_wh:
            self.last_wh, self.last_increase_at, self.flowing = wh, at, True
            return False
        return (
            self.flowing
            and self.last_increase_at is not None
            and (at - self.last_increase_at).total_seconds() >= idle_after_s
        )

    def charging_state(self, state: str | None) -> bool:
        """Take the 2.0.1 charging state; True when it says charging has finished."""
        if state == CHARGING:
            self.charging_seen = True
            return False
        return state in FINISHED_STATES and (self.flowing or self.charging_seen)
