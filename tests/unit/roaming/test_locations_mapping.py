"""The OCPI Locations mapper: objects per version checked against the official OpenAPI
schemas, OCPP -> OCPI status, eMI3 EVSE ids, tariff ids per audience, last_updated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from borne.locations.extras import check_evse_extra, check_location_extra
from borne.locations.service import ConnectorView, EvseView, LocationView, StationAtLocation
from borne.roaming.locations import (
    Audience,
    Context,
    StationLive,
    StatusReading,
    TariffLink,
    connector_status,
    emi3_evse_id,
    evse_status,
    find_evse,
    location_last_updated,
    location_object,
    tariff_ids,
)

OPENAPI = Path(__file__).resolve().parents[3] / ".." / "shared" / "ocpi" / "openapi"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)


# --------------------------------------------------------------------------- schema loader


@cache
def _load(uri: str) -> Resource[Any]:
    path = Path(uri.removeprefix("file://"))
    return Resource.from_contents(
        yaml.safe_load(path.read_text(encoding="utf-8")), default_specification=DRAFT202012
    )


def schema_validator(version: str, name: str) -> Draft202012Validator:
    """A validator of ``components/schemas/<name>`` of the locations module's OpenAPI file,
    ``$ref``s to sibling files resolved from disk. Skips visibly without the OCPI folder."""
    path = (OPENAPI / version / "modules" / "locations" / "schema.yaml").resolve()
    if not path.is_file():
        pytest.skip(f"OCPI OpenAPI files not found at {path}")
    registry: Registry[Any] = Registry(retrieve=_load)  # type: ignore[call-arg]
    uri = path.as_uri()
    return Draft202012Validator({"$ref": f"{uri}#/components/schemas/{name}"}, registry=registry)


def assert_valid(version: str, name: str, instance: dict[str, Any]) -> None:
    errors = sorted(schema_validator(version, name).iter_errors(instance), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


# --------------------------------------------------------------------------- fixtures


def connector(station: str, evse: int, cid: int, **kw: Any) -> ConnectorView:
    fields: dict[str, Any] = {
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_3_PHASE",
        "max_voltage": 230,
        "max_amperage": 32,
        "max_electric_power": 22000,
        "updated_at": T0,
        **kw,
    }
    return ConnectorView(
        station_id=station, evse_id=evse, connector_id=cid, evse_uid=f"{station}-{evse}", **fields
    )


def evse(station: str, evse_id: int, *connectors: ConnectorView, **kw: Any) -> EvseView:
    return EvseView(
        station_id=station,
        evse_id=evse_id,
        evse_uid=kw.pop("uid", f"{station}-{evse_id}"),
        physical_reference=kw.pop("physical_reference", "A1"),
        connectors=connectors or (connector(station, evse_id, 1),),
        updated_at=kw.pop("updated_at", T0),
        ocpi_extra=check_evse_extra(kw.pop("extra", None)),
    )


def location(*stations: StationAtLocation, extra: dict[str, Any] | None = None) -> LocationView:
    return LocationView(
        id="LOC-1",
        country_code="NL",
        party_id="BRN",
        name="Station Square",
        address="Stationsplein 1",
        city="Utrecht",
        postal_code="3511ED",
        state=None,
        country="NLD",
        latitude="52.089444",
        longitude="5.110278",
        time_zone="Europe/Amsterdam",
        publish=True,
        created_at=T0,
        updated_at=T0,
        stations=stations,
        ocpi_extra=check_location_extra(extra),
    )


def station(station_id: str, *evses: EvseView) -> StationAtLocation:
    return StationAtLocation(station_id, T0, evses)


def live(online: bool = True, **statuses: str) -> StationLive:
    """statuses as ``e1c1="Available"`` (``e0c0`` for the whole station)."""
    readings = {
        (int(k[1 : k.index("c")]), int(k[k.index("c") + 1 :])): StatusReading(v, T0)
        for k, v in statuses.items()
    }
    return StationLive(online=online, connection_changed_at=T0, statuses=readings)


def context(
    live_by_station: dict[str, StationLive] | None = None,
    tariffs: list[TariffLink] | None = None,
    parties: frozenset[str] = frozenset({"DE*EMS"}),
) -> Context:
    return Context(live_by_station or {}, tariffs or [], Audience(parties, NOW))


LOCATION_EXTRA: dict[str, Any] = {
    "opening_times": {
        "twentyfourseven": False,
        "regular_hours": [
            {"weekday": d, "period_begin": "07:00", "period_end": "22:00"} for d in (1, 2, 3, 4, 5)
        ],
        "exceptional_closings": [
            {"period_begin": "2025-12-25T00:00:00+01:00", "period_end": "2025-12-26T00:00:00+01:00"}
        ],
    },
    "charging_when_closed": True,
    "facilities": ["TRAIN_STATION", "CAFE"],
    "parking_type": "PARKING_GARAGE",
    "directions": [{"language": "nl", "text": "Niveau -1"}],
    "help_phone": "+31 30 123 4567",
    "parking_places": [
        {
            "id": "P1",
            "vehicle_types": ["PERSONAL_VEHICLE", "DISABLED"],
            "restricted_to_type": False,
            "reservation_required": False,
            "parking_space_length": 500,
            "roofed": True,
        }
    ],
}
EVSE_EXTRA: dict[str, Any] = {
    "floor_level": "-1",
    "parking_restrictions": ["EV_ONLY", "TENANTS"],
    "parking": [{"parking_id": "P1", "evse_position": "LEFT"}, {"parking_id": "GONE"}],
    "accepted_service_providers": ["Some eMSP"],
    "capabilities": ["RFID_READER", "CREDIT_CARD_PAYABLE"],
}


def full_location() -> LocationView:
    return location(
        station(
            "CP-1",
            evse("CP-1", 1, extra=EVSE_EXTRA),
            evse(
                "CP-1",
                2,
                connector(
                    "CP-1",
                    2,
                    1,
                    standard="IEC_62196_T2_COMBO",
                    power_type="DC",
                    format="CABLE",
                    max_voltage=920,
                    max_amperage=400,
                    max_electric_power=150000,
                ),
                connector(
                    "CP-1",
                    2,
                    2,
                    standard="CHADEMO",
                    power_type="DC",
                    format="CABLE",
                    max_voltage=500,
                    max_amperage=125,
                    max_electric_power=None,
                ),
            ),
        ),
        station("cp_2.b", evse("cp_2.b", 1)),
        extra=LOCATION_EXTRA,
    )


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("version", ["2.2.1", "2.3.0"])
def test_full_location_matches_the_openapi_schema(version: str) -> None:
    ctx = context({"CP-1": live(e1c1="Charging", e2c1="Available", e2c2="Available")})
    built = location_object(full_location(), version, ctx)
    assert_valid(version, "Location", built)
    for e in built["evses"]:
        assert_valid(version, "EVSE", e)
        for c in e["connectors"]:
            assert_valid(version, "Connector", c)
    assert built["publish"] is True
    assert built["coordinates"] == {"latitude": "52.089444", "longitude": "5.110278"}
    assert built["time_zone"] == "Europe/Amsterdam"
    assert built["facilities"] == ["TRAIN_STATION", "CAFE"]
    hours = built["opening_times"]
    assert hours["twentyfourseven"] is False and len(hours["regular_hours"]) == 5
    assert hours["exceptional_closings"] == [
        {"period_begin": "2025-12-24T23:00:00Z", "period_end": "2025-12-25T23:00:00Z"}
    ]
    first = built["evses"][0]
    assert first["evse_id"] == "NL*BRN*ECP1*1"
    assert first["status"] == "CHARGING"
    assert first["capabilities"] == [
        "CREDIT_CARD_PAYABLE",
        "REMOTE_START_STOP_CAPABLE",
        "RESERVABLE",
        "RFID_READER",
        "UNLOCK_CAPABLE",
    ]
    dc = built["evses"][1]["connectors"]
    assert [c["id"] for c in dc] == ["1", "2"]
    assert dc[0]["max_electric_power"] == 150000 and "max_electric_power" not in dc[1]
    # a station never heard from: UNKNOWN
    assert built["evses"][2]["status"] == "UNKNOWN"
    assert built["evses"][2]["evse_id"] == "NL*BRN*ECP2B*1"
    if version == "2.2.1":
        assert "parking_places" not in built and "help_phone" not in built
        assert first["parking_restrictions"] == ["EV_ONLY"]  # TENANTS is 2.3.0 only
        assert "parking" not in first and "accepted_service_providers" not in first
    else:
        assert built["parking_places"][0]["id"] == "P1"
        assert built["help_phone"] == "+31 30 123 4567"
        assert first["parking_restrictions"] == ["EV_ONLY", "TENANTS"]
        assert first["parking"] == [{"parking_id": "P1", "evse_position": "LEFT"}]
        assert first["accepted_service_providers"] == ["Some eMSP"]


@pytest.mark.parametrize("version", ["2.2.1", "2.3.0"])
def test_minimal_location_defaults_to_open_all_the_time(version: str) -> None:
    built = location_object(location(), version, context())
    assert_valid(version, "Location", built)
    assert built["opening_times"] == {"twentyfourseven": True}
    assert built["evses"] == []
    assert built["last_updated"] == "2025-03-01T12:00:00Z"


def test_long_address_is_cut_to_the_2_2_1_limit_only() -> None:
    view = location()
    long = LocationView(**{**view.__dict__, "address": "x" * 100, "state": "y" * 40})
    assert len(location_object(long, "2.2.1", context())["address"]) == 45
    assert len(location_object(long, "2.2.1", context())["state"]) == 20
    assert len(location_object(long, "2.3.0", context())["address"]) == 100


@pytest.mark.parametrize(
    ("ocpp", "ocpi"),
    [
        ("Available", "AVAILABLE"),
        ("Preparing", "CHARGING"),
        ("Charging", "CHARGING"),
        ("SuspendedEV", "CHARGING"),
        ("SuspendedEVSE", "CHARGING"),
        ("Finishing", "CHARGING"),
        ("Occupied", "CHARGING"),
        ("Reserved", "RESERVED"),
        ("Unavailable", "INOPERATIVE"),
        ("Faulted", "OUTOFORDER"),
        ("Bogus", "UNKNOWN"),
        (None, "UNKNOWN"),
    ],
)
def test_connector_status_of_ocpp_1_6_and_2_0_1(ocpp: str | None, ocpi: str) -> None:
    assert connector_status(ocpp) == ocpi


def test_evse_status_aggregates_connectors_station_and_connection() -> None:
    assert evse_status(["Available", "Occupied"], None, online=True) == "CHARGING"
    assert evse_status(["Faulted", "Available"], None, online=True) == "AVAILABLE"
    assert evse_status(["Reserved", "Available"], None, online=True) == "RESERVED"
    assert evse_status(["Faulted", "Unavailable"], None, online=True) == "INOPERATIVE"
    assert evse_status([], "Available", online=True) == "AVAILABLE"
    assert evse_status([], None, online=True) == "UNKNOWN"
    # the whole station down: every EVSE not in use follows it
    assert evse_status(["Available"], "Unavailable", online=True) == "INOPERATIVE"
    assert evse_status(["Available"], "Faulted", online=True) == "OUTOFORDER"
    assert evse_status(["Charging"], "Unavailable", online=True) == "CHARGING"
    # offline: nothing is known
    assert evse_status(["Available"], None, online=False) == "UNKNOWN"


def test_offline_station_shows_unknown_in_the_location() -> None:
    view = location(station("CP-1", evse("CP-1", 1)))
    built = location_object(view, "2.2.1", context({"CP-1": live(False, e1c1="Available")}))
    assert built["evses"][0]["status"] == "UNKNOWN"


def test_emi3_ids() -> None:
    assert emi3_evse_id("nl", "brn", "CP-001", 2) == "NL*BRN*ECP001*2"
    assert emi3_evse_id("NL", "BRN", "cp_2.b/7", 1) == "NL*BRN*ECP2B7*1"
    assert emi3_evse_id("NL", "BRN", "---", 1) is None
    assert emi3_evse_id("NL", "BRN", "A" * 29, 1) is None  # outlet part over 30 characters
    # the operator's own id wins
    view = location(station("CP-1", evse("CP-1", 1, extra={"evse_id": "NL*BRN*E12345"})))
    assert location_object(view, "2.3.0", context())["evses"][0]["evse_id"] == "NL*BRN*E12345"


def test_tariff_ids_follow_the_resolver_levels_and_the_audience() -> None:
    links = [
        TariffLink("DEFAULT", "default", ad_hoc=True),
        TariffLink("LOC", "location", ad_hoc=False, location_id="LOC-1"),
        TariffLink("EVSE", "evse", ad_hoc=False, station_id="CP-1", evse_id=1),
        TariffLink("CONN-PRIVATE", "connector", False, "DE*EMS", None, None, "CP-1", 1, 1),
        TariffLink("CONN-OTHER", "connector", False, "FR*XYZ", None, None, "CP-1", 1, 1),
        TariffLink("OLD", "connector", False, None, T0, None, "CP-1", 1, 1),
        TariffLink("ADHOC-LOC", "location", ad_hoc=True, location_id="LOC-1"),
    ]

    def ids(parties: set[str], station_id: str = "CP-1", evse_id: int = 1) -> list[str]:
        return tariff_ids(
            links,
            location_id="LOC-1",
            station_id=station_id,
            evse_id=evse_id,
            connector_id=1,
            audience=Audience(frozenset(parties), NOW),
        )

    assert ids({"DE*EMS"}) == ["CONN-PRIVATE", "ADHOC-LOC"]
    assert ids({"NL*ABC"}) == ["EVSE", "ADHOC-LOC"]  # others' scoped and expired left out
    assert ids({"NL*ABC"}, evse_id=2) == ["LOC", "ADHOC-LOC"]
    view = location(station("CP-2", evse("CP-2", 1)))
    built = location_object(view, "2.2.1", Context({}, [links[0]], Audience(frozenset(), NOW)))
    assert built["evses"][0]["connectors"][0]["tariff_ids"] == ["DEFAULT"]


def test_last_updated_is_the_newest_part() -> None:
    later = T0 + timedelta(minutes=5)
    latest = T0 + timedelta(minutes=9)
    view = location(
        station("CP-1", evse("CP-1", 1, connector("CP-1", 1, 1, updated_at=later))),
        station("CP-2", evse("CP-2", 1)),
    )
    lives = {
        "CP-1": live(),
        "CP-2": StationLive(True, T0, {(1, 1): StatusReading("Available", latest)}),
    }
    assert location_last_updated(view, lives) == latest
    built = location_object(view, "2.3.0", context(lives))
    assert built["last_updated"] == "2025-03-01T12:09:00Z"
    assert built["evses"][0]["last_updated"] == "2025-03-01T12:05:00Z"
    assert built["evses"][0]["connectors"][0]["last_updated"] == "2025-03-01T12:05:00Z"


def test_find_evse_is_case_insensitive() -> None:
    view = location(station("CP-1", evse("CP-1", 1, uid="Abc-1")))
    found = find_evse(view, "ABC-1")
    assert found is not None and found.evse_uid == "Abc-1"
