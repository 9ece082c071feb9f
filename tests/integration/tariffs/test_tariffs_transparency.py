"""GET /stations/{id}/prices: structured prices and a one-line text, per connector, now."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from tariff_kit import (
    API,
    assign,
    attach,
    create_location,
    create_station,
    create_tariff,
    energy_tariff,
    error_of,
    exact,
    put_evse,
    simple_tariff,
)

from borne.core.deps import Deps
from borne.stations.models import ConnectorStatus

D = Decimal


async def prices(api: httpx.AsyncClient, station_id: str, **params: Any) -> dict[str, Any]:
    r = await api.get(f"{API}/stations/{station_id}/prices", params=params)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = exact(r)
    return out


async def test_simple_tariff_structured_and_text(api: httpx.AsyncClient) -> None:
    await create_station(api, "CP-1")
    await create_location(api, "LOC-1")
    await attach(api, "LOC-1", "CP-1")
    await put_evse(api, "LOC-1", "CP-1", 1, uid="DE*BRN*E1", connectors=(1, 2))
    record = await create_tariff(api, simple_tariff())
    await assign(api, record, location_id="LOC-1")

    out = await prices(api, "CP-1", at="2024-06-03T08:00:00Z")

    assert [(c["evse_id"], c["connector_id"]) for c in out["connectors"]] == [(1, 1), (1, 2)]
    c = out["connectors"][0]
    assert c["text"] == "€0.35/kWh + €0.05/min after 60 min, €1.00 start fee, incl. 19% VAT"
    assert c["tariff"]["id"] == record and c["tariff"]["level"] == "location"
    assert c["currency"] == "EUR" and c["tax_included"] == "YES"
    assert c["time_zone"] == "Europe/Berlin" and c["local_time"].startswith("2024-06-03T10:00")
    assert c["price_per_kwh"]["incl"] == D("0.35") and c["price_per_kwh"]["vat"] == D(19)
    assert c["price_per_kwh"]["excl"] == D("0.2941176471")  # 0.35 / 1.19
    # charging time is free now and 3.00/h (0.05/min) after 60 minutes
    assert c["price_per_minute"]["element_index"] is None
    later = c["charging_time"][1]
    assert (later["after_minutes"], later["incl"], later["per_minute_incl"]) == (
        60,
        D(3),
        D("0.05"),
    )
    assert c["start_fee"]["incl"] == D(1)
    assert c["vat_rates"] == [D(19)]
    assert c["evse_uid"] == "DE*BRN*E1" and c["standard"] == "IEC_62196_T2"
    assert c["max_power_kw"] == D("22.08")  # 230 V x 32 A x 3 phases


async def test_time_of_day_tariff_follows_local_time(api: httpx.AsyncClient, deps: Deps) -> None:
    await create_station(api, "CP-2")
    await create_location(api, "LOC-2", time_zone="Europe/Berlin")
    await attach(api, "LOC-2", "CP-2")
    tariff = energy_tariff("TOD", "0.20")
    tariff["elements"].insert(
        0,
        {
            "price_components": [
                {"type": "ENERGY", "price": D("0.40"), "vat": D(20), "step_size": 1}
            ],
            "restrictions": {"start_time": "08:00", "end_time": "20:00"},
        },
    )
    tariff["elements"].append(
        {"price_components": [{"type": "PARKING_TIME", "price": D("6.00"), "step_size": 60}]}
    )
    record = await create_tariff(api, tariff)
    await assign(api, record, station_id="CP-2", evse_id=1)
    # no descriptor: the connector is known from its reported status
    async with deps.db.unit_of_work() as uow:
        now = deps.clock.now()
        uow.session.add(
            ConnectorStatus(
                station_id="CP-2",
                evse_id=1,
                connector_id=1,
                status="Available",
                timestamp=now,
                updated_at=now,
            )
        )
        await uow.commit()

    day = (await prices(api, "CP-2", at="2024-01-15T12:00:00Z"))["connectors"][0]  # 13:00 local
    assert day["status"] == "Available" and day["evse_uid"] is None
    assert day["price_per_kwh"]["excl"] == D("0.4") and day["price_per_kwh"]["incl"] == D("0.48")
    assert day["price_per_kwh"]["rule"] == "08:00-20:00"
    assert day["text"] == "€0.48/kWh, parking €0.10/min, incl. VAT (0-20%)"
    assert day["vat_rates"] == [D(0), D(20)]

    # 18:30 UTC = 19:30 Berlin: the night price starts 30 minutes into the session
    evening = (await prices(api, "CP-2", at="2024-01-15T18:30:00Z"))["connectors"][0]
    assert [(e["after_minutes"], e["incl"]) for e in evening["energy"]] == [
        (0, D("0.48")),
        (30, D("0.24")),
    ]
    assert evening["text"].startswith("€0.48/kWh, €0.24/kWh after 30 min")
    night = (await prices(api, "CP-2", at="2024-01-15T22:00:00Z"))["connectors"][0]
    assert night["price_per_kwh"]["incl"] == D("0.24")
    assert night["text"].startswith("€0.24/kWh")


async def test_token_group_tariff_and_unknowns(api: httpx.AsyncClient) -> None:
    await create_station(api, "CP-3")
    await create_location(api, "LOC-3")
    await attach(api, "LOC-3", "CP-3")
    await put_evse(api, "LOC-3", "CP-3", 1, uid="E3")
    public = await create_tariff(api, energy_tariff("PUB", "0.50"))
    fleet = await create_tariff(api, energy_tariff("FLEET", "0.25"), token_group="FLEET-1")
    for record in (public, fleet):
        await assign(api, record, location_id="LOC-3")
    r = await api.post(f"{API}/id-tokens", json={"id_token": "CARD-1", "group_id_token": "fleet-1"})
    assert r.status_code == 201, r.text

    anyone = (await prices(api, "CP-3"))["connectors"][0]
    assert anyone["tariff"]["ocpi_id"] == "PUB" and anyone["text"] == "€0.60/kWh, incl. 20% VAT"
    member = await prices(api, "CP-3", id_token="card-1")
    assert member["token_group"] == "fleet-1"
    assert member["connectors"][0]["tariff"]["ocpi_id"] == "FLEET"
    assert member["connectors"][0]["text"] == "€0.30/kWh, incl. 20% VAT"

    error_of(
        await api.get(f"{API}/stations/CP-3/prices", params={"id_token": "NOPE"}), 404, "not_found"
    )
    error_of(await api.get(f"{API}/stations/NOPE/prices"), 404, "not_found")
    error_of(
        await api.get(f"{API}/stations/CP-3/prices", params={"at": "yesterday"}),
        422,
        "validation_error",
    )
    r = await api.get(f"{API}/stations/CP-3/prices", params={"partner": "bad"})
    error_of(r, 422, "invalid_input")


async def test_connector_without_tariff(api: httpx.AsyncClient) -> None:
    await create_station(api, "CP-4")
    await create_location(api, "LOC-4")
    await attach(api, "LOC-4", "CP-4")
    await put_evse(api, "LOC-4", "CP-4", 1, uid="E4")
    c = (await prices(api, "CP-4"))["connectors"][0]
    assert c["tariff"] is None and c["price_per_kwh"] is None
    assert c["text"] == "No tariff applies: price unknown"


async def test_price_change_after_a_kwh_threshold(api: httpx.AsyncClient) -> None:
    await create_station(api, "CP-5")
    await create_location(api, "LOC-5")
    await attach(api, "LOC-5", "CP-5")
    await put_evse(api, "LOC-5", "CP-5", 1, uid="E5")
    tariff = energy_tariff("KWH", "0.25")
    tariff["elements"].insert(
        0,
        {
            "price_components": [
                {"type": "ENERGY", "price": D("0.30"), "vat": D(20), "step_size": 1}
            ],
            "restrictions": {"max_kwh": D(20)},
        },
    )
    record = await create_tariff(api, tariff)
    await assign(api, record, location_id="LOC-5")

    c = (await prices(api, "CP-5", at="2024-06-03T08:00:00Z"))["connectors"][0]
    assert c["text"] == "€0.36/kWh, €0.30/kWh after 20 kWh, incl. 20% VAT"
    assert [(e["after_minutes"], e["after_kwh"], e["excl"]) for e in c["energy"]] == [
        (0, None, D("0.3")),
        (0, D(20), D("0.25")),
    ]
    assert c["price_per_kwh"]["after_kwh"] is None and c["price_per_kwh"]["excl"] == D("0.3")
