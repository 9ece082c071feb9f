"""What the gateway asks the business about a connecting station (implemented by ``stations``).

The gateway parses the path and the HTTP Basic credentials, applies the failed-login limits, and
asks the directory whether to admit the station; it never reads the database itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from borne.ocpp.versions import OcppVersion


@dataclass(frozen=True)
class Admission:
    accepted: bool
    # When refused: the HTTP status of the refused upgrade (401 bad credentials, 404 unknown).
    http_status: int = 401
    reason: str = ""
    # Initial StationSessionState: the station's last boot result, "Pending" if it never booted.
    registration_status: str = "Pending"
    leniency: frozenset[str] = field(default_factory=frozenset)


class StationDirectory(Protocol):
    async def admit(
        self, station_id: str, username: str | None, password: str | None, remote: str
    ) -> Admission:
        """Decide on an upgrade request. ``username``/``password`` are None without Basic auth.

        Must compare secrets in constant time and never log them (R24)."""
        ...

    async def record_failed_login(self, station_id: str, remote: str, reason: str) -> None:
        """Store a security event for a refused login (R25)."""
        ...

    async def connected(self, station_id: str, version: OcppVersion, remote: str) -> None: ...

    async def disconnected(self, station_id: str) -> None: ...
