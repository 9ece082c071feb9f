"""The error tree every layer raises; the API and the OCPP router turn them into answers."""

from __future__ import annotations

from typing import Any


class BorneError(Exception):
    """Base of Borne's own errors. ``code`` is stable and machine-readable."""

    code = "error"
    http_status = 400

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class NotFound(BorneError):
    code = "not_found"
    http_status = 404


class Conflict(BorneError):
    code = "conflict"
    http_status = 409


class InvalidInput(BorneError):
    code = "invalid_input"
    http_status = 422


class StationNotConnected(BorneError):
    code = "station_not_connected"
    http_status = 409


class StationCallTimeout(BorneError):
    code = "station_timeout"
    http_status = 504


class StationCallError(BorneError):
    """The station answered a CSMS call with a CALLERROR."""

    code = "station_call_error"
    http_status = 502

    def __init__(
        self, error_code: str, description: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"station answered {error_code}: {description}", details=details)
        self.error_code = error_code
        self.description = description


class CallQueueFull(BorneError):
    code = "station_busy"
    http_status = 503
