"""OCPI commands: the request bodies a partner sends, the synchronous CommandResponse, and how a
station's answer (either OCPP version) becomes an OCPI CommandResultType."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from borne.commands.results import IdTokenKind
from borne.core.errors import (
    BorneError,
    CallQueueFull,
    InvalidInput,
    StationCallError,
    StationCallTimeout,
    StationNotConnected,
)
from borne.ocpi.envelope import OcpiModel

CommandType = Literal[
    "START_SESSION", "STOP_SESSION", "RESERVE_NOW", "CANCEL_RESERVATION", "UNLOCK_CONNECTOR"
]
COMMAND_TYPES: tuple[CommandType, ...] = (
    "START_SESSION",
    "STOP_SESSION",
    "RESERVE_NOW",
    "CANCEL_RESERVATION",
    "UNLOCK_CONNECTOR",
)
# OCPI token type → OCPP 2.0.1 IdTokenEnumType (1.6 has no type).
TOKEN_KINDS: dict[str, IdTokenKind] = {
    "RFID": "ISO14443",
    "EMAID": "eMAID",
    "APP_USER": "Central",
    "AD_HOC_USER": "Central",
    "OTHER": "Central",
}


# --------------------------------------------------------------------------- request bodies


class CommandToken(OcpiModel):
    country_code: str = Field(min_length=2, max_length=2)
    party_id: str = Field(min_length=3, max_length=3)
    uid: str = Field(min_length=1, max_length=36)
    type: str
    contract_id: str = Field(min_length=1, max_length=36)


class CommandBody(OcpiModel):
    response_url: str = Field(min_length=1, max_length=2048)


class StartSession(CommandBody):
    token: CommandToken
    location_id: str = Field(min_length=1, max_length=36)
    evse_uid: str | None = Field(default=None, max_length=36)
    connector_id: str | None = Field(default=None, max_length=36)
    authorization_reference: str | None = Field(default=None, max_length=36)


class StopSession(CommandBody):
    session_id: str = Field(min_length=1, max_length=36)


class ReserveNow(CommandBody):
    token: CommandToken
    expiry_date: datetime
    reservation_id: str = Field(min_length=1, max_length=36)
    location_id: str = Field(min_length=1, max_length=36)
    evse_uid: str | None = Field(default=None, max_length=36)
    authorization_reference: str | None = Field(default=None, max_length=36)


class CancelReservation(CommandBody):
    reservation_id: str = Field(min_length=1, max_length=36)


class UnlockConnector(CommandBody):
    location_id: str = Field(min_length=1, max_length=36)
    evse_uid: str = Field(min_length=1, max_length=36)
    connector_id: str = Field(min_length=1, max_length=36)


BODIES: dict[CommandType, type[CommandBody]] = {
    "START_SESSION": StartSession,
    "STOP_SESSION": StopSession,
    "RESERVE_NOW": ReserveNow,
    "CANCEL_RESERVATION": CancelReservation,
    "UNLOCK_CONNECTOR": UnlockConnector,
}


# --------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class CommandAnswer:
    """The synchronous CommandResponse."""

    result: Literal["ACCEPTED", "REJECTED", "NOT_SUPPORTED", "UNKNOWN_SESSION"]
    timeout: int
    message: str | None = None
    command_id: int | None = None

    def as_ocpi(self) -> dict[str, Any]:
        out: dict[str, Any] = {"result": self.result, "timeout": self.timeout}
        if self.message:
            out["message"] = [{"language": "en", "text": self.message[:512]}]
        return out


def map_station_answer(command: CommandType, status: str) -> str:
    """The OCPI CommandResultType for the station's status word (both OCPP versions)."""
    if command == "RESERVE_NOW":
        return {
            "Accepted": "ACCEPTED",
            "Occupied": "EVSE_OCCUPIED",
            "Faulted": "EVSE_INOPERATIVE",
            "Unavailable": "EVSE_INOPERATIVE",
        }.get(status, "REJECTED")
    if command == "CANCEL_RESERVATION":
        return "ACCEPTED" if status == "Accepted" else "UNKNOWN_RESERVATION"
    if command == "UNLOCK_CONNECTOR":
        return {
            "Unlocked": "ACCEPTED",
            "UnlockFailed": "FAILED",
            "NotSupported": "NOT_SUPPORTED",
        }.get(status, "REJECTED")
    return "ACCEPTED" if status == "Accepted" else "REJECTED"


def map_station_error(error: BaseException) -> tuple[str, str]:
    """(CommandResultType, detail) when the call did not get a status back."""
    if isinstance(error, StationCallTimeout):
        return "TIMEOUT", "the station did not answer in time"
    if isinstance(error, StationNotConnected):
        return "FAILED", "the station is not connected"
    if isinstance(error, StationCallError):
        if error.error_code == "NotImplemented":
            return "NOT_SUPPORTED", f"the station does not implement it ({error.description})"
        return "FAILED", f"the station answered {error.error_code}"
    if isinstance(error, InvalidInput):
        return "FAILED", f"the station's OCPP version cannot carry it: {error.message}"
    if isinstance(error, CallQueueFull):
        return "FAILED", "the station is busy with other calls"
    if isinstance(error, BorneError):
        return "FAILED", error.message
    return "FAILED", "internal error"
