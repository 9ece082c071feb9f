"""Typed CSMS→station calls for services: find the station's connection, call, parse the answer."""

from __future__ import annotations

from typing import Any

from borne.core.errors import InvalidInput, StationNotConnected
from borne.core.registry import ConnectionRegistry, StationConnection
from borne.ocpp.model_base import OcppModel
from borne.ocpp.versions import OcppVersion, models_of


def _index() -> dict[type[OcppModel], tuple[OcppVersion, str]]:
    index: dict[type[OcppModel], tuple[OcppVersion, str]] = {}
    for version in OcppVersion:
        for action, cls in models_of(version).REQUESTS.items():
            index[cls] = (version, action)
    return index


class OcppOutbound:
    """``await outbound.call("CP1", v16.ResetRequest(type="Soft"))`` → ``v16.ResetResponse``.

    Raises ``StationNotConnected``, ``InvalidInput`` (wrong version for the connection, or a
    payload the schema refuses, R7), ``StationCallTimeout``, ``StationCallError`` (CALLERROR
    from the station) and ``CallQueueFull``.
    """

    def __init__(self, registry: ConnectionRegistry) -> None:
        self._registry = registry
        self._index = _index()

    def version_of(self, station_id: str) -> OcppVersion | None:
        conn = self._registry.get(station_id)
        return None if conn is None else OcppVersion(conn.ocpp_version)

    async def call(
        self, station_id: str, request: OcppModel, *, timeout: float | None = None
    ) -> OcppModel:
        try:
            version, action = self._index[type(request)]
        except KeyError:
            raise InvalidInput(f"{type(request).__name__} is not an OCPP request") from None
        conn = self._connection(station_id)
        if conn.ocpp_version != version:
            raise InvalidInput(
                f"{action} for {version} cannot go to {station_id}, connected with "
                f"{conn.ocpp_version}"
            )
        result = await conn.call(action, request.to_payload(), timeout=timeout)
        response_model: type[OcppModel] = models_of(version).RESPONSES[action]
        return response_model.model_validate(result)

    async def call_raw(
        self,
        station_id: str,
        action: str,
        payload: dict[str, Any],
        *,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        conn = self._connection(station_id)
        if action not in models_of(OcppVersion(conn.ocpp_version)).REQUESTS:
            raise InvalidInput(f"{action} is not an action of {conn.ocpp_version}")
        return await conn.call(action, payload, timeout=timeout)

    def _connection(self, station_id: str) -> StationConnection:
        conn = self._registry.get(station_id)
        if conn is None:
            raise StationNotConnected(f"station {station_id} is not connected")
        return conn
