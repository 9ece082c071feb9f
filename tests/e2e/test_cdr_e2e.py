"""CDRs end to end: a 2.0.1 station charges across a time-of-day tariff boundary and a power
restriction, parks, stops; the CDR's periods and totals are checked against a figure computed
by hand. Location, tariff and assignment go through the operator API, the session through an
``ocpp`` ChargePoint with timestamps the test controls (stations may send past timestamps)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from helpers import (
    BorneServer,
    connect201,
    create_id_token,
    create_station,
    get_json,
    start_server,
    stop_server,
    unique_id,
)
from ocpp.v201 import call as call201

from borne.cdrs.service import running_cost


@pytest.fixture
async def borne_server(db_url: str) -> AsyncIterator[BorneServer]:
    """Borne recomputing the running cost on every meter value, so the test can watch it."""
    borne = await start_server(db_url, live_cost_min_interval_s=0)
    try:
        yield borne
    finally:
        await stop_server(borne)


# Paris is UTC+1 in January: 17:00Z is 18:00 local, where the evening price starts.
DAY = "2025-01-15T"
TARIFF = {
    "country_code": "FR",
    "party_id": "BRN",
    "id": "TOD-POWER-1",
    "currency": "EUR",
    "elements": [
        {  # 0: evening energy, 18:00-22:00 local
            "price_components": [{"type": "ENERGY", "price": 0.50, "vat": 20.0, "step_size": 1}],
            "restrictions": {"start_time": "18:00", "end_time": "22:00"},
        },
        {  # 1: slow charging (< 11 kW) off-peak
            "price_components": [{"type": "ENERGY", "price": 0.30, "vat": 20.0, "step_size": 1}],
            "restrictions": {"max_power": 11.00},
        },
        {  # 2: any other energy
            "price_components": [{"type": "ENERGY", "price": 0.40, "vat": 20.0, "step_size": 1}]
        },
        {  # 3: parking, per minute
            "price_components": [
                {"type": "PARKING_TIME", "price": 3.00, "vat": 20.0, "step_size": 60}
            ]
        },
    ],
    "last_updated": "2025-01-01T00:00:00Z",
}


def meter(at: str, wh: int, watts: int | None, context: str = "Sample.Periodic") -> list[Any]:
    values: list[dict[str, Any]] = [
        {
            "value": wh,
            "measurand": "Energy.Active.Import.Register",
            "context": context,
            "unit_of_measure": {"unit": "Wh"},
        }
    ]
    if watts is not None:
        values.append(
            {
                "value": watts,
                "measurand": "Power.Active.Import",
                "context": context,
                "unit_of_measure": {"unit": "W"},
            }
        )
    return [{"timestamp": DAY + at, "sampled_value": values}]


def event(
    kind: str, seq: int, tx_id: str, at: str, trigger: str, **extra: Any
) -> call201.TransactionEvent:
    info: dict[str, Any] = {"transaction_id": tx_id}
    info.update(extra.pop("info", {}))
    return call201.TransactionEvent(
        event_type=kind,
        timestamp=DAY + at,
        trigger_reason=trigger,
        seq_no=seq,
        transaction_info=info,
        **extra,
    )


async def _setup(server: BorneServer, station_id: str) -> None:
    async with server.api() as api:
        await create_station(api, station_id)
        await create_id_token(api, "CDR-TOKEN")
        loc_id = unique_id("LOC")
        r = await api.post(
            "/locations",
            json={
                "id": loc_id,
                "country_code": "FR",
                "party_id": "BRN",
                "name": "Gare de Lyon",
                "address": "Place Louis-Armand",
                "city": "Paris",
                "postal_code": "75012",
                "country": "FRA",
                "latitude": "48.844722",
                "longitude": "2.373889",
                "time_zone": "Europe/Paris",
            },
        )
        assert r.status_code == 201, r.text
        r = await api.put(f"/locations/{loc_id}/stations/{station_id}")
        assert r.status_code in (200, 201), r.text
        r = await api.post("/tariffs", json={"tariff": TARIFF, "version": "2.2.1"})
        assert r.status_code == 201, r.text
        record_id = r.json()["id"]
        r = await api.put(
            f"/tariffs/{record_id}/assignments", json={"station_id": station_id, "evse_id": 1}
        )
        assert r.status_code in (200, 201), r.text


async def _wait_cdr(server: BorneServer, station_id: str) -> dict[str, Any]:
    async with server.api() as api:
        for _ in range(200):
            page = await get_json(api, "/cdrs", station_id=station_id)
            if page["items"]:
                item: dict[str, Any] = page["items"][0]
                return item
            await asyncio.sleep(0.05)
    raise AssertionError("no CDR issued")


async def _wait_cost(server: BorneServer, pk: int, incl: Decimal) -> None:
    for _ in range(200):
        async with server.runtime.deps.db.unit_of_work() as uow:
            cost = await running_cost(uow.session, pk)
        if cost is not None and cost.total_incl == incl:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"running cost never reached {incl}")


def dims(period: dict[str, Any]) -> dict[str, Decimal]:
    return {d["type"]: Decimal(str(d["volume"])) for d in period["dimensions"]}


async def test_cdr_across_time_of_day_boundary_and_power_restriction(
    borne_server: BorneServer,
) -> None:
    station_id = unique_id("CS-CDR")
    tx_id = "tx-" + unique_id("cdr")
    await _setup(borne_server, station_id)

    async with connect201(borne_server, station_id) as cp:
        await cp.boot()
        await cp.call(
            event(
                "Started",
                0,
                tx_id,
                "16:30:00Z",
                "Authorized",
                evse={"id": 1, "connector_id": 1},
                id_token={"id_token": "CDR-TOKEN", "type": "ISO14443"},
                meter_value=meter("16:30:00Z", 0, None, "Transaction.Begin"),
                info={"charging_state": "Charging"},
            )
        )
        async with borne_server.api() as api:
            [tx] = (await get_json(api, "/transactions", station_id=station_id))["items"]
        # 16:30-16:40Z: 1 kWh at 6 kW (slow, off-peak: element 1, 0.30/kWh)
        await cp.call(
            event(
                "Updated", 1, tx_id, "16:40:00Z", "MeterValuePeriodic",
                meter_value=meter("16:40:00Z", 1000, 6000),
            )
        )  # fmt: skip
        await _wait_cost(borne_server, tx["id"], Decimal("0.36"))  # 0.30 + 20 % VAT
        # 16:40-16:50Z: 2 kWh at 12 kW (fast: element 2, 0.40/kWh); the answer carries the
        # running cost known so far (2.0.1 totalCost, incl. VAT)
        answer = await cp.call(
            event(
                "Updated", 2, tx_id, "16:50:00Z", "MeterValuePeriodic",
                meter_value=meter("16:50:00Z", 3000, 12000),
            )
        )  # fmt: skip
        assert Decimal(str(answer.total_cost)) == Decimal("0.36")
        # 16:50-17:10Z: 4 kWh at 12 kW, across 18:00 local; then the EV stops drawing power
        await cp.call(
            event(
                "Updated", 3, tx_id, "17:10:00Z", "ChargingStateChanged",
                meter_value=meter("17:10:00Z", 7000, 12000),
                info={"charging_state": "SuspendedEV"},
            )
        )  # fmt: skip
        # parked 17:10-17:30Z (no energy), then stopped: the answer waits for the CDR and
        # carries the final cost
        ended = await cp.call(
            event(
                "Ended", 4, tx_id, "17:30:00Z", "EVDeparted",
                meter_value=meter("17:30:00Z", 7000, 0, "Transaction.End"),
                info={"stopped_reason": "EVDisconnected"},
            )
        )  # fmt: skip
        assert Decimal(str(ended.total_cost)) == Decimal("4.68")
        summary = await _wait_cdr(borne_server, station_id)
        # and so does a retried Ended
        again = await cp.call(
            event(
                "Ended", 4, tx_id, "17:30:00Z", "EVDeparted",
                meter_value=meter("17:30:00Z", 7000, 0, "Transaction.End"),
                info={"stopped_reason": "EVDisconnected"},
            )
        )  # fmt: skip
        assert Decimal(str(again.total_cost)) == Decimal("4.68")

    # The hand-computed figure (VAT 20 % everywhere):
    #   16:30-16:40Z  1 kWh, max 6 kW < 11 kW, 17:30 local       element 1: 1 x 0.30 = 0.30
    #   16:40-17:00Z  4 kWh, 12 kW (2 kWh by 16:50 + half of the 4 kWh of 16:50-17:10)
    #                                                             element 2: 4 x 0.40 = 1.60
    #   17:00-17:10Z  2 kWh, 18:00-18:10 local                    element 0: 2 x 0.50 = 1.00
    #   17:10-17:30Z  parked 20 min = 1/3 h (whole minutes: no step) element 3: 1/3 x 3 = 1.00
    #   energy 0.30 + 1.60 + 1.00 = 2.90 excl. -> 3.48 incl.; parking 1.00 -> 1.20
    #   total 3.90 excl. -> 4.68 incl.; 7 kWh; 1 h in all, of which 1/3 h parked.
    # (16:40-16:50 and 16:50-17:10 are one period: both above 11 kW, so no restriction
    #  tells them apart; the engine cuts it at 18:00 local.)
    assert summary["currency"] == "EUR"
    assert Decimal(summary["total_excl"]) == Decimal("3.90")
    assert Decimal(summary["total_incl"]) == Decimal("4.68")
    assert summary["tariff_id"] == "TOD-POWER-1"
    cdr_id = summary["cdr_id"]

    async with borne_server.api() as api:
        r221 = await api.get(f"/cdrs/{cdr_id}", params={"version": "2.2.1"})
        assert r221.status_code == 200, r221.text
        cdr = json.loads(r221.text, parse_float=Decimal)
        r230 = await api.get(f"/cdrs/{cdr_id}")
        cdr230 = json.loads(r230.text, parse_float=Decimal)
        explanation = (await api.get(f"/cdrs/{cdr_id}/explanation")).text
        export = await api.get("/cdrs/export", params={"format": "csv", "station_id": station_id})

    periods = cdr["charging_periods"]
    assert [p["start_date_time"] for p in periods] == [
        DAY + "16:30:00Z",
        DAY + "16:40:00Z",
        DAY + "17:00:00Z",
        DAY + "17:10:00Z",
    ]
    d = [dims(p) for p in periods]
    assert (d[0]["ENERGY"], d[0]["TIME"], d[0]["MAX_POWER"]) == (1, Decimal("0.1667"), 6)
    assert (d[1]["ENERGY"], d[1]["TIME"], d[1]["MAX_POWER"]) == (4, Decimal("0.3333"), 12)
    assert (d[2]["ENERGY"], d[2]["TIME"], d[2]["MAX_POWER"]) == (2, Decimal("0.1667"), 12)
    assert d[3]["PARKING_TIME"] == Decimal("0.3333") and "TIME" not in d[3]
    assert {p.get("tariff_id") for p in periods} == {"TOD-POWER-1"}

    assert cdr["total_cost"] == {"excl_vat": Decimal("3.90"), "incl_vat": Decimal("4.68")}
    assert cdr["total_energy_cost"] == {"excl_vat": Decimal("2.90"), "incl_vat": Decimal("3.48")}
    assert cdr["total_parking_cost"] == {"excl_vat": Decimal("1.00"), "incl_vat": Decimal("1.20")}
    assert (cdr["total_energy"], cdr["total_time"]) == (7, 1)
    assert cdr["total_parking_time"] == Decimal("0.3333")
    assert cdr["cdr_token"]["uid"] == "CDR-TOKEN" and cdr["cdr_token"]["type"] == "RFID"
    assert cdr["cdr_location"]["city"] == "Paris"
    assert cdr["tariffs"][0]["id"] == "TOD-POWER-1"
    assert cdr230["total_cost"] == {
        "before_taxes": Decimal("3.90"),
        "taxes": [{"name": "VAT", "amount": Decimal("0.78")}],
    }
    # the explanation names each period's price and element
    assert "element #1" in explanation and "element #2" in explanation
    assert "element #0" in explanation and "element #3" in explanation
    assert "Total: 3.90 excl. / 4.68 incl. EUR" in explanation
    [row] = list(csv.DictReader(io.StringIO(export.text)))
    assert (row["cdr_id"], row["total_incl"]) == (cdr_id, "4.68")


async def test_credit_and_reissue_through_the_api(borne_server: BorneServer) -> None:
    station_id = unique_id("CS-CRD")
    tx_id = "tx-" + unique_id("crd")
    await _setup(borne_server, station_id)
    async with connect201(borne_server, station_id) as cp:
        await cp.boot()
        await cp.call(
            event(
                "Started", 0, tx_id, "16:30:00Z", "Authorized",
                evse={"id": 1, "connector_id": 1},
                id_token={"id_token": "CDR-TOKEN", "type": "ISO14443"},
                meter_value=meter("16:30:00Z", 0, None, "Transaction.Begin"),
            )
        )  # fmt: skip
        await cp.call(
            event(
                "Ended", 1, tx_id, "16:40:00Z", "EVDeparted",
                meter_value=meter("16:40:00Z", 1000, 6000, "Transaction.End"),
            )
        )  # fmt: skip
    summary = await _wait_cdr(borne_server, station_id)
    assert Decimal(summary["total_excl"]) == Decimal("0.30")
    async with borne_server.api() as api:
        r = await api.post(
            f"/cdrs/{summary['cdr_id']}/credit", json={"reason": "meter fault", "reissue": True}
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["credit"]["cdr_id"] == summary["cdr_id"] + "-C"
        assert Decimal(body["credit"]["total_excl"]) == Decimal("-0.30")
        assert body["correction"]["replaces_cdr_id"] == summary["cdr_id"]
        credit = json.loads((await api.get(f"/cdrs/{summary['cdr_id']}-C")).text)
        assert credit["credit"] is True
        assert credit["credit_reference_id"] == summary["cdr_id"]
        assert credit["total_cost"]["before_taxes"] == -0.30
        again = await api.post(f"/cdrs/{summary['cdr_id']}/credit", json={"reason": "twice"})
        assert again.status_code == 409
        original = json.loads((await api.get(f"/cdrs/{summary['cdr_id']}")).text)
        assert original["total_cost"]["before_taxes"] == 0.30  # never changed
        missing = await api.get("/cdrs/NOPE")
        assert missing.status_code == 404
