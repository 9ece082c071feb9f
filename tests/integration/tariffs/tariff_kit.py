"""Builders of the tariff integration tests: stations, locations, tariffs through the API."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

API = "/api/v1"
#: /work/shared/ocpi when the repository is /work/main
OCPI_DIR = Path(__file__).resolve().parents[3] / ".." / "shared" / "ocpi"


def ocpi_example(version: str, name: str) -> dict[str, Any]:
    path = OCPI_DIR / f"examples-{version}" / name
    if not path.is_file():
        pytest.skip(f"OCPI examples not found at {path} (checkout outside the Borne workspace)")
    data: dict[str, Any] = json.loads(path.read_text(), parse_float=Decimal)
    return data


def exact(response: httpx.Response) -> Any:
    """The JSON answer with numbers read as Decimal (the API writes them exactly)."""
    return json.loads(response.text, parse_float=Decimal)


def post_json(body: Any) -> dict[str, Any]:
    """httpx ``content``/``headers`` for a body holding Decimals (written exactly)."""
    from borne.tariffs import dumps_exact

    return {"content": dumps_exact(body), "headers": {"Content-Type": "application/json"}}


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code, body
    error: dict[str, Any] = body["error"]
    return error


def simple_tariff(tariff_id: str = "T1", **fields: Any) -> dict[str, Any]:
    """A 2.3.0 tariff: 0.35/kWh + 1.00 start fee (prices incl. 19 % VAT) + 3.00/h after 60 min."""
    body: dict[str, Any] = {
        "country_code": "DE",
        "party_id": "BRN",
        "id": tariff_id,
        "currency": "EUR",
        "tax_included": "YES",
        "elements": [
            {
                "price_components": [
                    {"type": "FLAT", "price": Decimal("1.00"), "vat": Decimal(19), "step_size": 1},
                    {
                        "type": "ENERGY",
                        "price": Decimal("0.35"),
                        "vat": Decimal(19),
                        "step_size": 1,
                    },
                ]
            },
            {
                "price_components": [
                    {"type": "TIME", "price": Decimal("3.00"), "vat": Decimal(19), "step_size": 60}
                ],
                "restrictions": {"min_duration": 3600},
            },
        ],
    }
    body.update(fields)
    return body


def energy_tariff(tariff_id: str, price: str, **fields: Any) -> dict[str, Any]:
    """A 2.2.1 tariff with one ENERGY price (excl. VAT, 20 % VAT)."""
    body: dict[str, Any] = {
        "country_code": "DE",
        "party_id": "BRN",
        "id": tariff_id,
        "currency": "EUR",
        "elements": [
            {
                "price_components": [
                    {"type": "ENERGY", "price": Decimal(price), "vat": Decimal(20), "step_size": 1}
                ]
            }
        ],
    }
    body.update(fields)
    return body


async def create_station(api: httpx.AsyncClient, station_id: str) -> None:
    r = await api.post(f"{API}/stations", json={"station_id": station_id, "security_profile": 0})
    assert r.status_code == 201, r.text


async def create_location(
    api: httpx.AsyncClient, location_id: str, time_zone: str = "Europe/Berlin", **fields: Any
) -> dict[str, Any]:
    body = {
        "id": location_id,
        "country_code": "DE",
        "party_id": "BRN",
        "address": "Hauptstrasse 1",
        "city": "Berlin",
        "country": "DEU",
        "latitude": "52.520008",
        "longitude": "13.404954",
        "time_zone": time_zone,
        **fields,
    }
    r = await api.post(f"{API}/locations", json=body)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


async def attach(api: httpx.AsyncClient, location_id: str, station_id: str) -> None:
    r = await api.put(f"{API}/locations/{location_id}/stations/{station_id}")
    assert r.status_code == 200, r.text


async def put_evse(
    api: httpx.AsyncClient,
    location_id: str,
    station_id: str,
    evse_id: int,
    *,
    uid: str,
    amperage: int = 32,
    power_type: str = "AC_3_PHASE",
    connectors: tuple[int, ...] = (1,),
) -> dict[str, Any]:
    body = {
        "evse_uid": uid,
        "connectors": [
            {
                "connector_id": c,
                "standard": "IEC_62196_T2",
                "format": "SOCKET",
                "power_type": power_type,
                "max_voltage": 230,
                "max_amperage": amperage,
            }
            for c in connectors
        ],
    }
    r = await api.put(
        f"{API}/locations/{location_id}/stations/{station_id}/evses/{evse_id}", json=body
    )
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


async def create_tariff(api: httpx.AsyncClient, tariff: dict[str, Any], **options: Any) -> int:
    r = await api.post(f"{API}/tariffs", **post_json({"tariff": tariff, **options}))
    assert r.status_code == 201, r.text
    record_id: int = r.json()["id"]
    return record_id


async def assign(api: httpx.AsyncClient, record_id: int, **target: Any) -> None:
    r = await api.put(f"{API}/tariffs/{record_id}/assignments", json=target)
    assert r.status_code == 200, r.text
