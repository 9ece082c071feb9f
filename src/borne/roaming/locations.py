"""OCPI Locations (CPO side): Borne's locations, stations, EVSEs and connectors as OCPI objects.

Pure functions: the caller loads the data (``locations_data``) and this module shapes it per
version. Decisions:

* **EVSE ids (eMI3)**: the EVSE's ``ocpi_extra.evse_id`` when the operator set one, else
  ``<country_code>*<party_id>*E<STATION>*<evse_id>`` with the location's CPO codes, where
  ``STATION`` is the station id upper-cased with every character outside ``A-Z0-9`` dropped
  (eMI3's alphabet). When that leaves nothing, or the outlet part (after ``E``) would exceed
  eMI3's 30 characters, no ``evse_id`` is sent (it is optional) and the operator should set one.
* **Status**: per connector, from the last StatusNotification (1.6 and 2.0.1 names, see
  :data:`CONNECTOR_STATUS`); the EVSE takes the most useful of its connectors (one in use makes
  the EVSE CHARGING, else RESERVED, else AVAILABLE, ...). A whole-station (connector 0)
  Unavailable / Faulted makes every EVSE not in use INOPERATIVE / OUTOFORDER. A station that
  is not connected, or never sent a status, is UNKNOWN (the spec's value for offline).
* **Capabilities**: what Borne does for every station (remote start/stop, reservation, unlock)
  plus what the operator declared for the EVSE's hardware (e.g. RFID_READER).
* **tariff_ids**: per audience (a partner sees unscoped tariffs and those scoped to it), the
  tariffs assigned at the most specific level that has any (connector > EVSE > location >
  network default), regular and ad hoc separately, as the resolver chooses; expired ones left
  out, scheduled ones kept (the spec allows successive tariffs of one type).
* **last_updated**: the newest change of the object's parts: descriptors, the station's
  attachment, its statuses and its connection stamps (which change the status shown).
* Only published locations are ever built for partners (callers filter on ``publish``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from borne.locations.service import ConnectorView, EvseView, LocationView, StationAtLocation
from borne.ocpi.envelope import ocpi_datetime
from borne.ocpi.versions import OcpiVersion

#: What Borne implements for every station through the commands module.
BORNE_CAPABILITIES = ("REMOTE_START_STOP_CAPABLE", "RESERVABLE", "UNLOCK_CAPABLE")

#: OCPP 1.6 ChargePointStatus and 2.0.1 ConnectorStatusEnumType -> OCPI Status.
CONNECTOR_STATUS: Mapping[str, str] = {
    "Available": "AVAILABLE",
    # 1.6 "in use" states (a plug is in, a session is being set up, runs or ends) and 2.0.1's
    "Preparing": "CHARGING",
    "Charging": "CHARGING",
    "SuspendedEV": "CHARGING",
    "SuspendedEVSE": "CHARGING",
    "Finishing": "CHARGING",
    "Occupied": "CHARGING",
    "Reserved": "RESERVED",
    "Unavailable": "INOPERATIVE",
    "Faulted": "OUTOFORDER",
}
#: Which connector status an EVSE shows when its connectors differ, best first.
_PRECEDENCE = ("CHARGING", "RESERVED", "AVAILABLE", "BLOCKED", "INOPERATIVE", "OUTOFORDER")
_LEVEL_RANK = {"connector": 0, "evse": 1, "location": 2, "default": 3}
_NOT_EMI3 = re.compile(r"[^A-Z0-9]")
_EMI3_OUTLET_MAX = 30
#: 2.2.1 ParkingRestriction values (2.3.0 adds EMPLOYEES, TAXIS, TENANTS).
_RESTRICTIONS_221 = frozenset({"EV_ONLY", "PLUGGED", "DISABLED", "CUSTOMERS", "MOTORCYCLES"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class StatusReading:
    status: str
    updated_at: datetime


@dataclass(frozen=True)
class StationLive:
    """What a station reports live: connection and last status per (evse_id, connector_id),
    ``(0, 0)`` being the whole station."""

    online: bool
    connection_changed_at: datetime | None = None
    statuses: Mapping[tuple[int, int], StatusReading] = field(default_factory=dict)

    def evse_statuses(self, evse_id: int) -> list[StatusReading]:
        return [r for (e, c), r in sorted(self.statuses.items()) if e == evse_id and c > 0]

    @property
    def station_status(self) -> StatusReading | None:
        return self.statuses.get((0, 0))


OFFLINE = StationLive(online=False)


@dataclass(frozen=True)
class TariffLink:
    """A tariff assignment as the mapper needs it."""

    ocpi_id: str
    level: str  # connector | evse | location | default
    ad_hoc: bool
    partner: str | None = None  # "CC*PPP" or None (anyone)
    end_date_time: datetime | None = None
    location_id: str | None = None
    station_id: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None


@dataclass(frozen=True)
class Audience:
    """Who the object is built for: its party keys ``CC*PPP`` (scoped tariffs) and now."""

    parties: frozenset[str]
    now: datetime


@dataclass(frozen=True)
class Context:
    """Everything beyond the location view that the objects are built from."""

    live: Mapping[str, StationLive]
    tariffs: Sequence[TariffLink]
    audience: Audience


# --------------------------------------------------------------------------- rules


def connector_status(ocpp_status: str | None) -> str:
    """The OCPI Status of one connector's OCPP status (UNKNOWN for none or an unknown one)."""
    if ocpp_status is None:
        return "UNKNOWN"
    return CONNECTOR_STATUS.get(ocpp_status, "UNKNOWN")


def evse_status(
    connector_statuses: Iterable[str | None], station_status: str | None, *, online: bool
) -> str:
    """The OCPI Status of an EVSE from its connectors' and the station's OCPP statuses."""
    if not online:
        return "UNKNOWN"
    mapped = [connector_status(s) for s in connector_statuses]
    known = [s for s in mapped if s in _PRECEDENCE]
    station = connector_status(station_status) if station_status is not None else None
    best = min(known, key=_PRECEDENCE.index) if known else (station or "UNKNOWN")
    if station in ("INOPERATIVE", "OUTOFORDER") and best != "CHARGING":
        return station
    return best


def emi3_evse_id(country_code: str, party_id: str, station_id: str, evse_id: int) -> str | None:
    """``CC*PPP*E<STATION>*<evse>`` (see the module docstring), None when not derivable."""
    station = _NOT_EMI3.sub("", station_id.upper())
    outlet = f"{station}*{evse_id}"
    if not station or len(outlet) > _EMI3_OUTLET_MAX:
        return None
    return f"{country_code.upper()}*{party_id.upper()}*E{outlet}"


def _level_rank(
    link: TariffLink, location_id: str, station_id: str, evse_id: int, connector_id: int
) -> int | None:
    if link.level == "default":
        return _LEVEL_RANK["default"]
    if link.level == "location":
        return _LEVEL_RANK["location"] if link.location_id == location_id else None
    if link.station_id != station_id or link.evse_id != evse_id:
        return None
    if link.level == "evse":
        return _LEVEL_RANK["evse"]
    return _LEVEL_RANK["connector"] if link.connector_id == connector_id else None


def tariff_ids(
    links: Iterable[TariffLink],
    *,
    location_id: str,
    station_id: str,
    evse_id: int,
    connector_id: int,
    audience: Audience,
) -> list[str]:
    """The connector's tariff ids for this audience (rules in the module docstring)."""
    found: list[tuple[bool, int, str]] = []
    for link in links:
        if link.end_date_time is not None and link.end_date_time <= audience.now:
            continue
        if link.partner is not None and link.partner.upper() not in audience.parties:
            continue
        rank = _level_rank(link, location_id, station_id, evse_id, connector_id)
        if rank is not None:
            found.append((link.ad_hoc, rank, link.ocpi_id))
    out: list[str] = []
    for ad_hoc in (False, True):
        group = [f for f in found if f[0] is ad_hoc]
        if group:
            best = min(f[1] for f in group)
            out += sorted({f[2] for f in group if f[1] == best} - set(out))
    return out


# --------------------------------------------------------------------------- timestamps


def _max(stamps: Iterable[datetime | None]) -> datetime:
    return max((s for s in stamps if s is not None), default=_EPOCH)


def evse_last_updated(evse: EvseView, live: StationLive) -> datetime:
    station = live.station_status
    return _max(
        [
            evse.updated_at,
            *(c.updated_at for c in evse.connectors),
            *(r.updated_at for r in live.evse_statuses(evse.evse_id)),
            station.updated_at if station is not None else None,
            live.connection_changed_at,
        ]
    )


def location_last_updated(view: LocationView, live: Mapping[str, StationLive]) -> datetime:
    """Max of the location's and its parts' changes; equal to ``locations_data``'s SQL."""
    stamps: list[datetime | None] = [view.updated_at]
    for station in view.stations:
        state = live.get(station.station_id, OFFLINE)
        stamps.append(station.attached_at)
        stamps.append(state.connection_changed_at)
        stamps += [r.updated_at for r in state.statuses.values()]
        for evse in station.evses:
            stamps.append(evse.updated_at)
            stamps += [c.updated_at for c in evse.connectors]
    return _max(stamps)


# --------------------------------------------------------------------------- objects


def _clip(value: str | None, limit: int) -> str | None:
    return None if value is None else value[:limit]


def _hours(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    if not raw:
        return {"twentyfourseven": True}
    out: dict[str, Any] = {"twentyfourseven": bool(raw.get("twentyfourseven", True))}
    if raw.get("regular_hours"):
        out["regular_hours"] = [dict(h) for h in raw["regular_hours"]]
    for key in ("exceptional_openings", "exceptional_closings"):
        if raw.get(key):
            out[key] = [
                {
                    "period_begin": ocpi_datetime(_as_datetime(p["period_begin"])),
                    "period_end": ocpi_datetime(_as_datetime(p["period_end"])),
                }
                for p in raw[key]
            ]
    return out


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def connector_object(
    connector: ConnectorView, location_id: str, context: Context
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(connector.connector_id),
        "standard": connector.standard,
        "format": connector.format,
        "power_type": connector.power_type,
        "max_voltage": connector.max_voltage,
        "max_amperage": connector.max_amperage,
    }
    if connector.max_electric_power is not None:
        out["max_electric_power"] = connector.max_electric_power
    out["tariff_ids"] = tariff_ids(
        context.tariffs,
        location_id=location_id,
        station_id=connector.station_id,
        evse_id=connector.evse_id,
        connector_id=connector.connector_id,
        audience=context.audience,
    )
    out["last_updated"] = ocpi_datetime(connector.updated_at)
    return out


def evse_object(
    evse: EvseView,
    location: LocationView,
    version: OcpiVersion | str,
    context: Context,
    *,
    parking_ids: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    live = context.live.get(evse.station_id, OFFLINE)
    extra = dict(evse.ocpi_extra or {})
    station = live.station_status
    status = evse_status(
        [r.status for r in live.evse_statuses(evse.evse_id)],
        station.status if station is not None else None,
        online=live.online,
    )
    out: dict[str, Any] = {"uid": evse.evse_uid}
    evse_id = extra.get("evse_id") or emi3_evse_id(
        location.country_code, location.party_id, evse.station_id, evse.evse_id
    )
    if evse_id:
        out["evse_id"] = evse_id
    out["status"] = status
    out["capabilities"] = sorted({*BORNE_CAPABILITIES, *extra.get("capabilities", ())})
    out["connectors"] = [connector_object(c, location.id, context) for c in evse.connectors]
    for key in ("floor_level", "coordinates", "directions"):
        if extra.get(key):
            out[key] = extra[key]
    if evse.physical_reference:
        out["physical_reference"] = evse.physical_reference
    restrictions = list(extra.get("parking_restrictions") or ())
    if str(version) == OcpiVersion.V221:
        restrictions = [r for r in restrictions if r in _RESTRICTIONS_221]
    if restrictions:
        out["parking_restrictions"] = restrictions
    if str(version) != OcpiVersion.V221:
        # 2.3.0 only; a reference to a parking place the location no longer has is dropped.
        parking = [p for p in extra.get("parking") or () if p["parking_id"] in parking_ids]
        if parking:
            out["parking"] = parking
        if extra.get("accepted_service_providers"):
            out["accepted_service_providers"] = list(extra["accepted_service_providers"])
    out["last_updated"] = ocpi_datetime(evse_last_updated(evse, live))
    return out


def _evses(location: LocationView) -> Iterable[tuple[StationAtLocation, EvseView]]:
    for station in location.stations:
        for evse in station.evses:
            if evse.connectors:  # OCPI: an EVSE has at least one connector
                yield station, evse


def location_object(
    location: LocationView, version: OcpiVersion | str, context: Context
) -> dict[str, Any]:
    """The OCPI Location of ``version`` (2.2.1 or 2.3.0) for ``context.audience``."""
    v221 = str(version) == OcpiVersion.V221
    extra = dict(location.ocpi_extra or {})
    parking_places = [] if v221 else list(extra.get("parking_places") or ())
    parking_ids = frozenset(p["id"] for p in parking_places)
    out: dict[str, Any] = {
        "country_code": location.country_code,
        "party_id": location.party_id,
        "id": location.id,
        "publish": True,
    }
    if location.name:
        out["name"] = location.name
    # 2.2.1 caps address at 45 and state at 20 characters; 2.3.0 at 255 and 45 (its note).
    out["address"] = _clip(location.address, 45 if v221 else 255)
    out["city"] = location.city
    if location.postal_code:
        out["postal_code"] = location.postal_code
    if location.state:
        out["state"] = _clip(location.state, 20 if v221 else 45)
    out["country"] = location.country
    out["coordinates"] = {"latitude": location.latitude, "longitude": location.longitude}
    if extra.get("parking_type"):
        out["parking_type"] = extra["parking_type"]
    out["evses"] = [
        evse_object(e, location, version, context, parking_ids=parking_ids)
        for _, e in _evses(location)
    ]
    if parking_places:
        out["parking_places"] = parking_places
    if extra.get("directions"):
        out["directions"] = extra["directions"]
    if extra.get("facilities"):
        out["facilities"] = list(extra["facilities"])
    out["time_zone"] = location.time_zone
    out["opening_times"] = _hours(extra.get("opening_times"))
    if extra.get("charging_when_closed") is not None:
        out["charging_when_closed"] = bool(extra["charging_when_closed"])
    if not v221 and extra.get("help_phone"):
        out["help_phone"] = extra["help_phone"]
    out["last_updated"] = ocpi_datetime(location_last_updated(location, context.live))
    return out


def find_evse(location: LocationView, evse_uid: str) -> EvseView | None:
    """The EVSE with this uid at the location (uids compare case-insensitively: CiString)."""
    wanted = evse_uid.upper()
    for _, evse in _evses(location):
        if evse.evse_uid.upper() == wanted:
            return evse
    return None


def find_connector(evse: EvseView, connector_id: str) -> ConnectorView | None:
    for connector in evse.connectors:
        if str(connector.connector_id) == connector_id.strip():
            return connector
    return None


def removed_evse_patch(now: datetime) -> dict[str, Any]:
    """The PATCH that tells a partner an EVSE is gone (OCPI never deletes EVSEs)."""
    return {"status": "REMOVED", "last_updated": ocpi_datetime(now)}
