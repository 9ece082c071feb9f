"""Session limits end to end: real stations (the ``ocpp`` package) send meter values at a fixed
interval; Borne must ask them to stop within one interval of the limit being reached.

The station sends a reading, then listens for the stop request until the next reading is due.
The limit is reached by the first reading at or above it; the stop must arrive before the next
reading (so the overshoot, value at stop - limit, is at most one interval's increment), and no
stop may arrive before the limit is reached. Each test prints the overshoot and latency.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from helpers import (
    BorneServer,
    Station16,
    Station201,
    connect16,
    connect201,
    create_id_token,
    create_station,
    get_json,
    now_iso,
    start_server,
    stop_server,
    unique_id,
)
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

INTERVAL_S = 1.0  # the station's meter-value interval
STEP_WH = 1000  # energy per interval
METER_START_WH = 10_000


@pytest.fixture
async def server(db_url: str) -> Any:
    borne = await start_server(db_url, limits_check_interval_s=0.2)
    try:
        yield borne
    finally:
        await stop_server(borne)


@dataclass
class Run:
    readings_sent: int
    value_at_stop: Decimal  # session energy (Wh) or cost when the stop arrived
    latency_s: float  # from sending the reading that reached the limit to the stop request


async def charge_until_stopped(
    send_reading: Callable[[int], Awaitable[None]],
    stop_request: Callable[[float], Awaitable[dict[str, Any] | None]],
    value_after: Callable[[int], Decimal],
    limit: Decimal,
    *,
    interval_s: float = INTERVAL_S,
    max_readings: int = 12,
) -> Run:
    """Send a reading each interval (reading n: ``n * STEP_WH`` delivered) and wait for the stop
    in between. Fails if a stop arrives before the limit or later than one interval after."""
    for n in range(1, max_readings + 1):
        sent_at = time.monotonic()
        await send_reading(n)
        request = await stop_request(interval_s)
        reached = value_after(n) >= limit
        if request is not None:
            assert reached, f"stopped at {value_after(n)} before reaching {limit}"
            return Run(n, value_after(n), time.monotonic() - sent_at)
        assert not reached, f"no stop within {interval_s}s of reaching {limit}"
    raise AssertionError("never stopped")


def receiver(cp: Station16 | Station201, action: str) -> Callable[[float], Awaitable[Any]]:
    async def wait(timeout: float) -> dict[str, Any] | None:
        try:
            return await cp.received(action, timeout=timeout)
        except TimeoutError:
            return None

    return wait


async def setup(server: BorneServer, api: httpx.AsyncClient) -> tuple[str, str]:
    station, tag = unique_id("LIM"), unique_id("TAG")[:20]
    await create_station(api, station)
    await create_id_token(api, tag)
    return station, tag


async def active_pk(api: httpx.AsyncClient, station: str) -> int:
    page = await get_json(api, "/transactions", station_id=station)
    pk: int = page["items"][0]["id"]
    return pk


def mv16(wh: int) -> list[dict[str, Any]]:
    return [
        {
            "timestamp": now_iso(),
            "sampled_value": [
                {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
            ],
        }
    ]


def mv201(wh: int) -> list[dict[str, Any]]:
    return [
        {
            "timestamp": now_iso(),
            "sampled_value": [{"value": wh, "measurand": "Energy.Active.Import.Register"}],
        }
    ]


async def start16(cp: Station16, tag: str) -> int:
    await cp.boot()
    res = await cp.call(
        call16.StartTransaction(
            connector_id=1, id_tag=tag, meter_start=METER_START_WH, timestamp=now_iso()
        )
    )
    tx_id: int = res.transaction_id
    return tx_id


async def start201(cp: Station201, tag: str, tx_id: str) -> None:
    await cp.boot()
    await cp.call(
        call201.TransactionEvent(
            event_type="Started",
            timestamp=now_iso(),
            trigger_reason="Authorized",
            seq_no=0,
            transaction_info={"transaction_id": tx_id, "charging_state": "Charging"},
            evse={"id": 1, "connector_id": 1},
            id_token={"id_token": tag, "type": "ISO14443"},
            meter_value=mv201(METER_START_WH),
        )
    )


async def end201(cp: Station201, tx_id: str, seq_no: int, wh: int) -> None:
    """What the station does once it has stopped: TransactionEvent(Ended)."""
    await cp.call(
        call201.TransactionEvent(
            event_type="Ended",
            timestamp=now_iso(),
            trigger_reason="RemoteStop",
            seq_no=seq_no,
            transaction_info={"transaction_id": tx_id, "stopped_reason": "Remote"},
            meter_value=mv201(wh),
        )
    )


async def enforcement(api: httpx.AsyncClient, pk: int) -> dict[str, Any]:
    for _ in range(50):
        out = await get_json(api, f"/transactions/{pk}/limits")
        e: dict[str, Any] | None = out["enforcement"]
        if e is not None and e["attempts"] >= 1:  # the station's answer is recorded
            return e
        await asyncio.sleep(0.05)
    raise AssertionError("no enforcement recorded")


async def test_energy_limit_ocpp16(server: BorneServer) -> None:
    limit = Decimal(5500)
    async with server.api() as api:
        station, tag = await setup(server, api)
        async with connect16(server, station) as cp:
            tx_id = await start16(cp, tag)
            pk = await active_pk(api, station)
            r = await api.put(f"/transactions/{pk}/limits", json={"max_energy_wh": str(limit)})
            assert r.status_code == 200, r.text

            async def send(n: int) -> None:
                wh = METER_START_WH + n * STEP_WH
                await cp.call(
                    call16.MeterValues(connector_id=1, transaction_id=tx_id, meter_value=mv16(wh))
                )

            run = await charge_until_stopped(
                send,
                receiver(cp, "RemoteStopTransaction"),
                lambda n: Decimal(n * STEP_WH),
                limit,
            )
            assert cp.calls["RemoteStopTransaction"] == [{"transaction_id": tx_id}]
            final = METER_START_WH + run.readings_sent * STEP_WH
            await cp.call(
                call16.StopTransaction(
                    transaction_id=tx_id, meter_stop=final, timestamp=now_iso(), reason="Remote"
                )
            )
        e = await enforcement(api, pk)
        overshoot = run.value_at_stop - limit
        print(f"\n1.6 energy limit: overshoot {overshoot} Wh, stop {run.latency_s * 1000:.0f} ms")
        assert Decimal(0) <= overshoot <= STEP_WH
        assert e["reason"] == "limit:energy"
        assert Decimal(e["value_at_trigger"]) == run.value_at_stop
        tx = await get_json(api, f"/transactions/{pk}")
        assert (tx["state"], tx["stop_reason"]) == ("ended", "Remote")
        await asyncio.sleep(0.2)
        assert (await enforcement(api, pk))["closed"] is True


async def test_energy_limit_ocpp201(server: BorneServer) -> None:
    limit = Decimal(3200)
    async with server.api() as api:
        station, tag = await setup(server, api)
        r = await api.put(f"/id-tokens/{tag}/limits", json={"max_energy_wh": str(limit)})
        assert r.status_code == 200, r.text
        async with connect201(server, station) as cp:
            await start201(cp, tag, "E2E-TX-1")
            pk = await active_pk(api, station)

            async def send(n: int) -> None:
                await cp.call(
                    call201.TransactionEvent(
                        event_type="Updated",
                        timestamp=now_iso(),
                        trigger_reason="MeterValuePeriodic",
                        seq_no=n,
                        transaction_info={"transaction_id": "E2E-TX-1"},
                        meter_value=mv201(METER_START_WH + n * STEP_WH),
                    )
                )

            run = await charge_until_stopped(
                send,
                receiver(cp, "RequestStopTransaction"),
                lambda n: Decimal(n * STEP_WH),
                limit,
            )
            assert cp.calls["RequestStopTransaction"] == [{"transaction_id": "E2E-TX-1"}]
            n = run.readings_sent
            await end201(cp, "E2E-TX-1", n + 1, METER_START_WH + n * STEP_WH)
        e = await enforcement(api, pk)
        overshoot = run.value_at_stop - limit
        print(f"\n2.0.1 energy limit: overshoot {overshoot} Wh, stop {run.latency_s * 1000:.0f} ms")
        assert Decimal(0) <= overshoot <= STEP_WH
        assert e["reason"] == "limit:energy" and e["last_status"] == "Accepted", e
        limits = await get_json(api, f"/transactions/{pk}/limits")
        assert limits["source"] == "token"


async def test_duration_limit_ocpp16(server: BorneServer) -> None:
    async with server.api() as api:
        station, tag = await setup(server, api)
        async with connect16(server, station) as cp:
            tx_id = await start16(cp, tag)
            pk = await active_pk(api, station)
            started = time.monotonic()
            r = await api.put(f"/transactions/{pk}/limits", json={"max_duration_s": 2})
            assert r.status_code == 200, r.text
            request = await cp.received("RemoteStopTransaction", timeout=5)
            elapsed = time.monotonic() - started
        assert request == {"transaction_id": tx_id}
        # The loop checks every 0.2 s here: the stop comes soon after 2 s, never before.
        assert 1.5 <= elapsed <= 3.0, elapsed
        e = await enforcement(api, pk)
        assert e["reason"] == "limit:duration" and Decimal(e["value_at_trigger"]) >= 2


# --- cost: needs the tariffs API and the CDR domain's live cost ---------------------------------

TARIFF = {
    "country_code": "FR",
    "party_id": "BRN",
    "id": "LIMIT-E2E",
    "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.50, "vat": 20.0, "step_size": 1}]}
    ],
    "last_updated": "2024-01-01T00:00:00Z",
}
PRICE_INCL_PER_KWH = Decimal("0.60")
COST_STEP_WH = 2000  # 1.20 EUR incl. VAT per interval


async def tariff_for(api: httpx.AsyncClient, station: str) -> None:
    r = await api.post("/tariffs", json={"tariff": TARIFF, "ad_hoc": True})
    assert r.status_code == 201, r.text
    tariff_id = r.json()["id"]
    r = await api.put(
        f"/tariffs/{tariff_id}/assignments", json={"station_id": station, "evse_id": 1}
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
async def test_cost_limit(server: BorneServer, version: str) -> None:
    limit = Decimal("2.90")  # EUR incl. VAT: reached at 6 kWh (3.60), the third reading
    # Readings every second, under the CDR domain's coalescing interval (2 s by default): a
    # session with a cost limit is recomputed on every reading, so the bound still holds.
    interval = INTERVAL_S
    async with server.api() as api:
        station, tag = await setup(server, api)
        await tariff_for(api, station)
        if version == "ocpp1.6":
            async with connect16(server, station) as cp16:
                tx_id = await start16(cp16, tag)
                pk = await active_pk(api, station)
                body = {"max_cost": str(limit), "currency": "EUR"}
                assert (await api.put(f"/transactions/{pk}/limits", json=body)).status_code == 200

                async def send16(n: int) -> None:
                    wh = METER_START_WH + n * COST_STEP_WH
                    await cp16.call(
                        call16.MeterValues(
                            connector_id=1, transaction_id=tx_id, meter_value=mv16(wh)
                        )
                    )

                run = await charge_until_stopped(
                    send16,
                    receiver(cp16, "RemoteStopTransaction"),
                    lambda n: PRICE_INCL_PER_KWH * n * COST_STEP_WH / 1000,
                    limit,
                    interval_s=interval,
                )
                final = METER_START_WH + run.readings_sent * COST_STEP_WH
                await cp16.call(
                    call16.StopTransaction(
                        transaction_id=tx_id, meter_stop=final, timestamp=now_iso(), reason="Remote"
                    )
                )
        else:
            async with connect201(server, station) as cp201:
                await start201(cp201, tag, "E2E-COST-1")
                pk = await active_pk(api, station)
                body = {"max_cost": str(limit), "currency": "EUR"}
                assert (await api.put(f"/transactions/{pk}/limits", json=body)).status_code == 200

                async def send201(n: int) -> None:
                    await cp201.call(
                        call201.TransactionEvent(
                            event_type="Updated",
                            timestamp=now_iso(),
                            trigger_reason="MeterValuePeriodic",
                            seq_no=n,
                            transaction_info={"transaction_id": "E2E-COST-1"},
                            meter_value=mv201(METER_START_WH + n * COST_STEP_WH),
                        )
                    )

                run = await charge_until_stopped(
                    send201,
                    receiver(cp201, "RequestStopTransaction"),
                    lambda n: PRICE_INCL_PER_KWH * n * COST_STEP_WH / 1000,
                    limit,
                    interval_s=interval,
                )
                n = run.readings_sent
                await end201(cp201, "E2E-COST-1", n + 1, METER_START_WH + n * COST_STEP_WH)
        e = await enforcement(api, pk)
        overshoot = run.value_at_stop - limit
        print(
            f"\n{version} cost limit: overshoot {overshoot} EUR, stop {run.latency_s * 1000:.0f} ms"
        )
        assert Decimal(0) <= overshoot <= PRICE_INCL_PER_KWH * COST_STEP_WH / 1000
        assert e["reason"] == "limit:cost" and e["currency"] == "EUR"
        assert e["last_status"] == "Accepted", e
        tx = await get_json(api, f"/transactions/{pk}")
        assert (tx["state"], tx["stop_reason"]) == ("ended", "Remote")
