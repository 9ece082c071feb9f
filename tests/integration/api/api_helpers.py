"""Helpers of the operator API tests: the API key, a stand-in live connection, error checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

KEY = "test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
PASSWORD = "s3cret-Station-Passw0rd"


class LiveConnection:
    """A connected station as the registry sees it; the read API never calls it."""

    def __init__(self, station_id: str, ocpp_version: str) -> None:
        self.station_id = station_id
        self.ocpp_version = ocpp_version

    async def call(
        self,
        action: str,
        payload: Mapping[str, Any],
        *,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        raise AssertionError("the operator API must not call the station here")

    async def close(self, code: int = 1000, reason: str = "") -> None:
        return None


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The error body of ``response``, checked to have the API's shape, status and code."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, body
    error: dict[str, Any] = body["error"]
    return error


def locs(response: httpx.Response) -> list[list[str | int]]:
    """The locations of the failing fields of a 422 ``validation_error``."""
    error = error_of(response, 422, "validation_error")
    return [e["loc"] for e in error["details"]["errors"]]
