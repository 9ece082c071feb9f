"""Shared set-up of the end-to-end OCPI tests: a published location with one station, its EVSE
and connector descriptors and a tariff (all through the operator API), and a partner whose
token A an ``EmspPeer`` registers with. Kept small and stable: other OCPI e2e tests import it.

Borne's own OCPI party is the settings' default ``NL``/``BRN``; the location is created under
it so what partners pull is consistent with the Sessions and CDRs Borne writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from helpers import BorneServer, create_station, unique_id

from ocpi_peer import EmspPeer

CPO_COUNTRY = "NL"
CPO_PARTY = "BRN"

#: 0.25 EUR/kWh excl. VAT, VAT 20 %, billed per Wh (step 1): n kWh cost 0.25 n / 0.30 n.
ENERGY_TARIFF: dict[str, Any] = {
    "country_code": CPO_COUNTRY,
    "party_id": CPO_PARTY,
    "id": "E2E-ENERGY-025",
    "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 20.0, "step_size": 1}]}
    ],
    "last_updated": "2025-01-01T00:00:00Z",
}


@dataclass(frozen=True)
class Site:
    """What :func:`create_site` made: ids as partners see them."""

    location_id: str
    station_id: str
    evse_uid: str
    evse_id: int  # the station's EVSE number (OCPP)
    connector_id: int
    tariff_id: str  # the OCPI tariff id
    tariff_record_id: int  # the operator API's id of the tariff


async def create_site(
    api: httpx.AsyncClient,
    *,
    station_id: str | None = None,
    tariff: dict[str, Any] | None = None,
) -> Site:
    """A station (registration accepted) at a new published location in Amsterdam, EVSE 1 with
    one Type 2 socket (connector 1, AC 3 phase 230 V / 32 A), and ``tariff`` (default
    :data:`ENERGY_TARIFF`, its id made unique) assigned to that EVSE."""
    station_id = station_id or unique_id("OCPI-CS")
    await create_station(api, station_id)
    location_id = unique_id("LOC")
    r = await api.post(
        "/locations",
        json={
            "id": location_id,
            "country_code": CPO_COUNTRY,
            "party_id": CPO_PARTY,
            "name": "Stationsplein",
            "address": "Stationsplein 1",
            "city": "Amsterdam",
            "postal_code": "1012AB",
            "country": "NLD",
            "latitude": "52.378900",
            "longitude": "4.900300",
            "time_zone": "Europe/Amsterdam",
        },
    )
    assert r.status_code == 201, r.text
    r = await api.put(f"/locations/{location_id}/stations/{station_id}")
    assert r.status_code in (200, 201), r.text
    evse_uid = unique_id("EVSE")
    r = await api.put(
        f"/locations/{location_id}/stations/{station_id}/evses/1",
        json={
            "evse_uid": evse_uid,
            "connectors": [
                {
                    "connector_id": 1,
                    "standard": "IEC_62196_T2",
                    "format": "SOCKET",
                    "power_type": "AC_3_PHASE",
                    "max_voltage": 230,
                    "max_amperage": 32,
                }
            ],
        },
    )
    assert r.status_code in (200, 201), r.text
    body = dict(tariff or ENERGY_TARIFF)
    body["id"] = unique_id(str(body["id"]))[:36]
    r = await api.post("/tariffs", json={"tariff": body, "version": "2.2.1"})
    assert r.status_code == 201, r.text
    record_id: int = r.json()["id"]
    r = await api.put(
        f"/tariffs/{record_id}/assignments", json={"station_id": station_id, "evse_id": 1}
    )
    assert r.status_code in (200, 201), r.text
    return Site(location_id, station_id, evse_uid, 1, 1, str(body["id"]), record_id)


async def create_partner(api: httpx.AsyncClient, name: str = "Peer eMSP") -> tuple[int, str]:
    """A new partner through the operator API: (partner id, its token A)."""
    r = await api.post("/partners", json={"name": name})
    assert r.status_code == 201, r.text
    created = r.json()
    return int(created["partner"]["id"]), str(created["token"])


async def connect_peer(borne: BorneServer, peer: EmspPeer, version: str | None = None) -> int:
    """The peer registers with Borne (Borne made the partner and its token A); the partner id.
    ``version``: the one to use (default: the newest both speak)."""
    async with borne.api() as api:
        partner_id, token_a = await create_partner(api, peer.name)
    await peer.register_with(borne.ocpi_versions_url, token_a, version)
    return partner_id


async def register_borne_with(
    borne: BorneServer, peer: EmspPeer, name: str = "Peer eMSP"
) -> dict[str, Any]:
    """The other direction: the peer issues a token A and the operator asks Borne to register
    with it; the partner as the operator API shows it afterwards."""
    async with borne.api() as api:
        partner_id, _ = await create_partner(api, name)
        r = await api.post(
            f"/partners/{partner_id}/register",
            json={"versions_url": peer.versions_url, "token": peer.issue_token_a()},
        )
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
    return out
