"""OCPI-only details of a location and of an EVSE, kept as checked JSON (``ocpi_extra``).

They matter only to roaming partners (opening times, facilities, 2.3.0 AFIR parking data,
directions, help phone, eMI3 EVSE id, extra capabilities), so they live in one JSON column per
row instead of a dozen columns. Every value is checked here before it is stored: the operator
API and the service both go through :func:`check_location_extra` / :func:`check_evse_extra`.
Enumerations are the OCPI 2.3.0 ones (a superset of 2.2.1; the roaming mapper leaves out, for a
2.2.1 partner, what 2.2.1 does not know).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from borne.core.errors import InvalidInput

_HHMM = r"^([0-1][0-9]|2[0-3]):[0-5][0-9]$"
_LAT = r"^-?[0-9]{1,2}\.[0-9]{5,7}$"
_LON = r"^-?[0-9]{1,3}\.[0-9]{5,7}$"
#: eMI3 / IDACS EVSE id: country, operator, "E", outlet id (separators '*' optional).
EMI3_EVSE_ID = r"^[A-Z]{2}\*?[A-Z0-9]{3}\*?E[A-Z0-9*]{1,30}$"

Facility = Literal[
    "HOTEL",
    "RESTAURANT",
    "CAFE",
    "MALL",
    "SUPERMARKET",
    "SPORT",
    "RECREATION_AREA",
    "NATURE",
    "MUSEUM",
    "BIKE_SHARING",
    "BUS_STOP",
    "TAXI_STAND",
    "TRAM_STOP",
    "METRO_STATION",
    "TRAIN_STATION",
    "AIRPORT",
    "PARKING_LOT",
    "CARPOOL_PARKING",
    "FUEL_STATION",
    "WIFI",
]
ParkingType = Literal[
    "ALONG_MOTORWAY",
    "PARKING_GARAGE",
    "PARKING_LOT",
    "ON_DRIVEWAY",
    "ON_STREET",
    "UNDERGROUND_GARAGE",
]
ParkingRestriction = Literal[
    "EV_ONLY", "PLUGGED", "DISABLED", "CUSTOMERS", "MOTORCYCLES", "EMPLOYEES", "TAXIS", "TENANTS"
]
VehicleType = Literal[
    "MOTORCYCLE",
    "PERSONAL_VEHICLE",
    "PERSONAL_VEHICLE_WITH_TRAILER",
    "VAN",
    "SEMI_TRACTOR",
    "RIGID",
    "TRUCK_WITH_TRAILER",
    "BUS",
    "DISABLED",
]
#: Capabilities only the operator can know (hardware at the EVSE); Borne adds the ones it
#: implements itself (remote start/stop, reservation, unlock).
Capability = Literal[
    "CHARGING_PROFILE_CAPABLE",
    "CHARGING_PREFERENCES_CAPABLE",
    "CHIP_CARD_SUPPORT",
    "CONTACTLESS_CARD_SUPPORT",
    "CREDIT_CARD_PAYABLE",
    "DEBIT_CARD_PAYABLE",
    "PED_TERMINAL",
    "RFID_READER",
    "START_SESSION_CONNECTOR_REQUIRED",
    "TOKEN_GROUP_CAPABLE",
]
Positive = Annotated[float, Field(gt=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DisplayText(_Strict):
    language: str = Field(min_length=2, max_length=2, pattern=r"^[a-z]{2}$")
    text: str = Field(min_length=1, max_length=512)


class RegularHours(_Strict):
    weekday: int = Field(ge=1, le=7, description="1 = Monday ... 7 = Sunday")
    period_begin: str = Field(pattern=_HHMM, description="local time, e.g. 08:00")
    period_end: str = Field(pattern=_HHMM, description="local time, later than period_begin")

    @model_validator(mode="after")
    def _ordered(self) -> RegularHours:
        if self.period_end <= self.period_begin:
            raise ValueError("period_end must be later than period_begin")
        return self


class ExceptionalPeriod(_Strict):
    period_begin: AwareDatetime
    period_end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> ExceptionalPeriod:
        if self.period_end <= self.period_begin:
            raise ValueError("period_end must be later than period_begin")
        return self


class Hours(_Strict):
    twentyfourseven: bool
    regular_hours: list[RegularHours] | None = Field(None, max_length=100)
    exceptional_openings: list[ExceptionalPeriod] | None = Field(None, max_length=100)
    exceptional_closings: list[ExceptionalPeriod] | None = Field(None, max_length=100)

    @model_validator(mode="after")
    def _consistent(self) -> Hours:
        if self.twentyfourseven and self.regular_hours:
            raise ValueError("regular_hours only when twentyfourseven is false")
        if not self.twentyfourseven and not self.regular_hours:
            raise ValueError("regular_hours needed when twentyfourseven is false")
        return self


class GeoLocation(_Strict):
    latitude: str = Field(pattern=_LAT)
    longitude: str = Field(pattern=_LON)


class Parking(_Strict):
    """An OCPI 2.3.0 Parking place (AFIR data)."""

    id: str = Field(min_length=1, max_length=36, pattern=r"^[\x21-\x7e]+$")
    physical_reference: str | None = Field(None, min_length=1, max_length=12)
    vehicle_types: list[VehicleType] = Field(min_length=1)
    max_vehicle_weight: Positive | None = None
    max_vehicle_height: Positive | None = None
    max_vehicle_length: Positive | None = None
    max_vehicle_width: Positive | None = None
    parking_space_length: Positive | None = None
    parking_space_width: Positive | None = None
    dangerous_goods_allowed: bool | None = None
    direction: Literal["PARALLEL", "PERPENDICULAR", "ANGLE"] | None = None
    drive_through: bool | None = None
    restricted_to_type: bool
    reservation_required: bool
    time_limit: Positive | None = None
    roofed: bool | None = None
    lighting: bool | None = None
    refrigeration_outlet: bool | None = None
    standards: list[Annotated[str, Field(min_length=1, max_length=36)]] | None = None
    apds_reference: str | None = Field(None, min_length=1, max_length=36)


class EvseParking(_Strict):
    parking_id: str = Field(min_length=1, max_length=36)
    evse_position: Literal["LEFT", "RIGHT", "CENTER"] | None = None


class LocationExtra(_Strict):
    """OCPI details of a location. Without ``opening_times`` it is open 24/7."""

    opening_times: Hours | None = None
    charging_when_closed: bool | None = None
    facilities: list[Facility] | None = Field(None, max_length=20)
    parking_type: ParkingType | None = None
    directions: list[DisplayText] | None = Field(None, max_length=10)
    help_phone: str | None = Field(None, min_length=1, max_length=25, pattern=r"^\+?[0-9 ()-]+$")
    parking_places: list[Parking] | None = Field(None, max_length=500)

    @model_validator(mode="after")
    def _unique_parking(self) -> LocationExtra:
        ids = [p.id.upper() for p in self.parking_places or ()]
        if len(ids) != len(set(ids)):
            raise ValueError("parking_places ids must be unique within the location")
        return self


class EvseExtra(_Strict):
    """OCPI details of an EVSE."""

    evse_id: str | None = Field(
        None,
        max_length=48,
        pattern=EMI3_EVSE_ID,
        description="eMI3 EVSE id, e.g. NL*BRN*E12345*1 (default: derived, see docs)",
    )
    floor_level: str | None = Field(None, min_length=1, max_length=4)
    coordinates: GeoLocation | None = None
    directions: list[DisplayText] | None = Field(None, max_length=10)
    parking_restrictions: list[ParkingRestriction] | None = None
    parking: list[EvseParking] | None = Field(None, max_length=50)
    accepted_service_providers: list[Annotated[str, Field(min_length=1, max_length=50)]] | None = (
        Field(None, max_length=200)
    )
    capabilities: list[Capability] | None = None


def _check(model: type[BaseModel], value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        parsed = model.model_validate(dict(value))
    except ValidationError as exc:
        errors = [
            {
                "field": "ocpi_extra." + ".".join(str(p) for p in e["loc"]),
                "reason": str(e["msg"]),
            }
            for e in exc.errors()
        ]
        raise InvalidInput(
            f"invalid ocpi_extra: {errors[0]['field']}: {errors[0]['reason']}",
            details={"errors": errors},
        ) from None
    dumped: dict[str, Any] = parsed.model_dump(mode="json", exclude_none=True)
    return dumped or None


def check_location_extra(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The checked, JSON-ready form of a location's OCPI details (None: nothing given)."""
    return _check(LocationExtra, value)


def check_evse_extra(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The checked, JSON-ready form of an EVSE's OCPI details (None: nothing given)."""
    return _check(EvseExtra, value)


def as_datetime(value: str) -> datetime:
    """A stored ExceptionalPeriod bound back as a datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
