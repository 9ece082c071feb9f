"""What the gateway asks the business about a connecting station (implemented by ``stations``).

The gateway parses the path and the HTTP Basic credentials, applies the failed-login limits, and
asks the directory whether to admit the station; it never reads the database itself. Over TLS
it also passes what the handshake established (``TlsPeer``): a client certificate that reaches
the directory was verified by OpenSSL against the client CA and its CN is the station id (the
gateway refuses any other CN itself, R26).
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


@dataclass(frozen=True, slots=True)
class TlsPeer:
    """The connection is TLS; ``has_certificate``: the station presented a client certificate
    (verified against the client CA), ``client_cn`` its subject CN (None unless exactly one)."""

    client_cn: str | None = None
    has_certificate: bool = False


class StationDirectory(Protocol):
    async def admit(
        self,
        station_id: str,
        username: str | None,
        password: str | None,
        remote: str,
        *,
        tls: TlsPeer | None = None,
    ) -> Admission:
        """Decide on an upgrade request. ``username``/``password`` are None without Basic auth.

        ``tls`` is given only for TLS connections (a directory that cannot take it fails such
        upgrades instead of admitting them as if they were plain); None means plain ``ws://``.
        Must compare secrets in constant time and never log them (R24), and refuse a station
        configured for a higher security profile than the connection offers (R26)."""
        ...

    async def record_failed_login(self, station_id: str, remote: str, reason: str) -> None:
        """Store a security event for a refused login (R25)."""
        ...

    async def connected(self, station_id: str, version: OcppVersion, remote: str) -> None: ...

    async def disconnected(self, station_id: str) -> None: ...
