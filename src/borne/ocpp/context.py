"""What an inbound-call handler knows about the call and the station that sent it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from borne.core.registry import StationConnection
from borne.ocpp.versions import OcppVersion


@dataclass
class StationSessionState:
    """Per-connection state that the protocol layer needs (R22).

    ``registration_status`` is loaded when the station connects (its last boot result) and
    updated by the BootNotification handler; non-boot calls are refused while it is not
    ``"Accepted"``.
    """

    registration_status: str = "Pending"
    leniency: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class CallContext:
    station_id: str
    version: OcppVersion
    message_id: str
    received_at: datetime
    connection: StationConnection
    state: StationSessionState
