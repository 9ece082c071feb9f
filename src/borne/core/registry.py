"""Connection registry: which live connection (and, in a cluster, which node) serves a station."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol


class StationConnection(Protocol):
    """A live connection to one station, as the rest of Borne sees it."""

    @property
    def station_id(self) -> str: ...

    @property
    def ocpp_version(self) -> str:
        """The negotiated subprotocol, ``"ocpp1.6"`` or ``"ocpp2.0.1"``."""
        ...

    async def call(
        self, action: str, payload: Mapping[str, Any], *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Send a CALL and return the CALLRESULT payload (raises on CALLERROR or timeout)."""
        ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


class ConnectionRegistry(Protocol):
    def register(self, conn: StationConnection) -> StationConnection | None:
        """Make ``conn`` the station's current connection; returns the one it replaced."""
        ...

    def unregister(self, conn: StationConnection) -> bool:
        """Forget ``conn`` only if it is still the current one (a replaced socket's cleanup must
        not tear down its successor, R18)."""
        ...

    def get(self, station_id: str) -> StationConnection | None: ...

    def connected(self) -> Iterator[str]: ...

    def __len__(self) -> int: ...


class LocalRegistry:
    """Registry for a single process."""

    def __init__(self) -> None:
        self._conns: dict[str, StationConnection] = {}

    def register(self, conn: StationConnection) -> StationConnection | None:
        old = self._conns.get(conn.station_id)
        self._conns[conn.station_id] = conn
        return old if old is not conn else None

    def unregister(self, conn: StationConnection) -> bool:
        if self._conns.get(conn.station_id) is conn:
            del self._conns[conn.station_id]
            return True
        return False

    def get(self, station_id: str) -> StationConnection | None:
        return self._conns.get(station_id)

    def connected(self) -> Iterator[str]:
        return iter(list(self._conns))

    def __len__(self) -> int:
        return len(self._conns)
