"""Errors raised by OCPI routers/services; the server turns them into envelopes."""

from __future__ import annotations

from borne.ocpi import status


class OcpiError(Exception):
    """An OCPI failure answered as an envelope with ``status_code`` and ``http_status``."""

    def __init__(self, status_code: int, message: str, *, http_status: int = 200) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.http_status = http_status


class InvalidParameters(OcpiError):
    def __init__(self, message: str = "Invalid or missing parameters") -> None:
        super().__init__(status.INVALID_PARAMETERS, message)


class UnknownLocation(OcpiError):
    """2003. HTTP 404 where a GET addresses the missing location; ``http_status=200`` where an
    existing resource (e.g. a command endpoint) merely names one (no HTTP error then)."""

    def __init__(self, message: str = "Unknown location", *, http_status: int = 404) -> None:
        super().__init__(status.UNKNOWN_LOCATION, message, http_status=http_status)


class UnknownToken(OcpiError):
    def __init__(self, message: str = "Unknown token") -> None:
        super().__init__(status.UNKNOWN_TOKEN, message, http_status=404)


class NotFoundError(OcpiError):
    def __init__(self, message: str = "Not found") -> None:
        super().__init__(status.CLIENT_ERROR, message, http_status=404)


class Unauthorized(OcpiError):
    def __init__(self, message: str = "Unauthorized") -> None:
        super().__init__(status.CLIENT_ERROR, message, http_status=401)
