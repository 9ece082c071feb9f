"""The physics of a charging session: energy register, power curve and state of charge."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime


def utc_now() -> str:
    """An OCPP timestamp: UTC, millisecond precision, ``Z`` suffix."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(slots=True)
class Meter:
    """The meter of one connector and the car plugged into it.

    The energy register only ever rises (it survives sessions, like a real meter). Power follows a
    simple constant-current / constant-voltage curve: full power up to 80 % state of charge, then
    a linear taper, with a little noise.
    """

    max_power_w: float
    capacity_wh: float
    rng: random.Random
    register_wh: float = 0.0
    power_w: float = 0.0
    soc: float = 0.0

    def plug_in(self) -> None:
        self.soc = self.rng.uniform(15.0, 55.0)
        self.power_w = 0.0

    def advance(self, seconds: float) -> None:
        """Charge for ``seconds`` of simulated time."""
        taper = 1.0 if self.soc < 80.0 else max(0.05, (100.0 - self.soc) / 20.0)
        self.power_w = self.max_power_w * taper * self.rng.uniform(0.97, 1.0)
        energy = self.power_w * seconds / 3600.0
        self.register_wh += energy
        self.soc = min(100.0, self.soc + energy / self.capacity_wh * 100.0)

    def unplug(self) -> None:
        self.power_w = 0.0


@dataclass(slots=True, eq=False)
class Connector:
    """One connector (1.6) or one EVSE with a single connector (2.0.1)."""

    connector_id: int
    meter: Meter
    status: str = "Available"
    operative: bool = True
    busy: bool = False
    """A session is running or about to start (reserved by a remote start)."""
    transaction_id: int | str | None = None
    id_tag: str | None = None
    seq_no: int = 0
    stop_reason: str | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def request_stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        self.stop.set()

    def reset_session(self) -> None:
        self.transaction_id = None
        self.id_tag = None
        self.seq_no = 0
        self.stop_reason = None
        self.stop = asyncio.Event()
