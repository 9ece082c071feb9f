"""The transactions operator API over ASGI: list, detail with energy, meter values, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from api_helpers import error_of, locs

from borne.core.deps import Deps
from borne.core.group_commit import Batch
from borne.transactions import service
from borne.transactions.samples import SampleIn

URL = "/api/v1/transactions"
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


async def start(deps: Deps, station: str, *, connector: int = 1, meter: int = 1000) -> int:
    """A 1.6 StartTransaction through the service; returns the station's transaction id."""
    begin = service.StartIn(
        station_id=station,
        ocpp_version="ocpp1.6",
        connector_id=connector,
        evse_id=connector,
        id_token="TAG1",
        meter_start_wh=Decimal(meter),
        timestamp=START,
    )

    async def work(batch: Batch) -> service.StartResult:
        return await service.start_transaction(batch, begin, now=datetime.now(UTC))

    return (await deps.committer.submit(work)).ocpp16_id


async def meter_values(deps: Deps, station: str, tx_id: int, readings: list[int]) -> None:
    """Energy readings one minute apart (given out of order is fine), each with a current."""
    samples: list[SampleIn] = []
    for minute in readings:
        at = START + timedelta(minutes=minute)
        value = Decimal(1000 + minute * 100)
        samples.append(SampleIn(timestamp=at, raw_value=str(value), value=value))
        samples.append(
            SampleIn(
                timestamp=at,
                raw_value="16.5",
                value=Decimal("16.5"),
                measurand="Current.Import",
                unit="A",
            )
        )
    owner = service.Owner(station, 1, 1, str(tx_id))

    async def work(batch: Batch) -> service.MeterValuesResult:
        return await service.record_meter_values(
            batch, owner, samples, now=datetime.now(UTC), cached=None
        )

    await deps.committer.submit(work)


async def stop(deps: Deps, station: str, tx_id: int, *, meter: str) -> None:
    end = service.StopIn(
        station_id=station,
        ocpp_version="ocpp1.6",
        transaction_id=str(tx_id),
        id_token="TAG1",
        meter_stop_wh=Decimal(meter),
        timestamp=START + timedelta(hours=1),
        reason="Local",
    )

    async def work(batch: Batch) -> service.StopResult:
        return await service.stop_transaction(batch, end, now=datetime.now(UTC))

    await deps.committer.submit(work)


async def pk_of(api: httpx.AsyncClient, station: str, tx_id: int) -> int:
    items = (await api.get(URL, params={"station_id": station, "limit": 500})).json()["items"]
    return int(next(t["id"] for t in items if t["transaction_id"] == str(tx_id)))


async def test_list_newest_first_filtered_and_paged(api: httpx.AsyncClient, deps: Deps) -> None:
    ids = [
        await start(deps, "CP-1", connector=1),
        await start(deps, "CP-1", connector=2),
        await start(deps, "CP-2", connector=1),
    ]
    await stop(deps, "CP-1", ids[0], meter="1500")

    everything = (await api.get(URL)).json()
    paged = (await api.get(URL, params={"limit": 2, "offset": 1})).json()
    cp1 = (await api.get(URL, params={"station_id": "CP-1"})).json()
    active_cp1 = (await api.get(URL, params={"station_id": "CP-1", "active": "true"})).json()
    nobody = (await api.get(URL, params={"station_id": "CP-404"})).json()

    assert [t["transaction_id"] for t in everything["items"]] == [str(i) for i in ids[::-1]]
    assert (everything["total"], everything["offset"], everything["limit"]) == (3, 0, 50)
    assert [t["transaction_id"] for t in paged["items"]] == [str(ids[1]), str(ids[0])]
    assert paged["total"] == 3
    assert cp1["total"] == 2
    assert [t["transaction_id"] for t in active_cp1["items"]] == [str(ids[1])]
    assert (nobody["items"], nobody["total"]) == ([], 0)
    first = everything["items"][-1]
    assert (first["state"], first["meter_start_wh"], first["meter_stop_wh"]) == (
        "ended",
        "1000",
        "1500",
    )
    assert first["stop_reason"] == "Local" and first["ocpp_version"] == "ocpp1.6"


async def test_detail_has_energy_summary_and_meter_values(
    api: httpx.AsyncClient, deps: Deps
) -> None:
    tx_id = await start(deps, "CP-1", meter=1000)
    await meter_values(deps, "CP-1", tx_id, [3, 1, 2])
    pk = await pk_of(api, "CP-1", tx_id)

    active = (await api.get(f"{URL}/{pk}")).json()
    short = (await api.get(f"{URL}/{pk}", params={"meter_values_limit": 2})).json()
    await stop(deps, "CP-1", tx_id, meter="1250.5")
    ended = (await api.get(f"{URL}/{pk}", params={"meter_values_limit": 0})).json()

    assert active["id"] == pk and active["state"] == "active"
    assert active["energy_wh"] == "300"  # latest register (1300 Wh at minute 3) - meter start
    assert active["duration_s"] >= 2 * 3600 - 5
    summary = active["meter_summary"]
    assert summary["samples"] == 6
    assert summary["measurands"] == [
        {"measurand": "Current.Import", "samples": 3},
        {"measurand": "Energy.Active.Import.Register", "samples": 3},
    ]
    assert datetime.fromisoformat(summary["first_at"]) == START + timedelta(minutes=1)
    assert datetime.fromisoformat(summary["last_at"]) == START + timedelta(minutes=3)
    values = active["meter_values"]
    assert len(values) == 6 and active["meter_values_truncated"] is False
    assert [v["timestamp"] for v in values] == sorted(v["timestamp"] for v in values)
    energy = [v for v in values if v["measurand"] == "Energy.Active.Import.Register"]
    assert [v["value"] for v in energy] == ["1100", "1200", "1300"]
    assert [v["raw_value"] for v in values if v["unit"] == "A"] == ["16.5"] * 3
    assert len(short["meter_values"]) == 2 and short["meter_values_truncated"] is True

    assert ended["state"] == "ended" and ended["energy_wh"] == "250.5"
    assert ended["meter_stop_wh"] == "1250.5" and ended["duration_s"] == 3600
    assert ended["meter_values"] == [] and ended["meter_values_truncated"] is True


async def test_detail_without_meter_values(api: httpx.AsyncClient, deps: Deps) -> None:
    tx_id = await start(deps, "CP-1")
    pk = await pk_of(api, "CP-1", tx_id)

    detail = (await api.get(f"{URL}/{pk}")).json()

    assert detail["energy_wh"] is None and detail["meter_values"] == []
    assert detail["meter_summary"] == {
        "samples": 0,
        "first_at": None,
        "last_at": None,
        "measurands": [],
    }
    assert detail["meter_values_truncated"] is False


async def test_meter_values_are_paged_and_filtered(api: httpx.AsyncClient, deps: Deps) -> None:
    tx_id = await start(deps, "CP-1")
    await meter_values(deps, "CP-1", tx_id, [1, 2, 3, 4])
    pk = await pk_of(api, "CP-1", tx_id)
    values_url = f"{URL}/{pk}/meter-values"

    first = (await api.get(values_url, params={"limit": 3})).json()
    last = (await api.get(values_url, params={"limit": 3, "offset": 6})).json()
    energy = await api.get(
        values_url, params={"measurand": "Energy.Active.Import.Register", "offset": 1}
    )

    assert (first["total"], first["offset"], first["limit"], len(first["items"])) == (8, 0, 3, 3)
    assert len(last["items"]) == 2
    assert energy.status_code == 200
    assert [v["value"] for v in energy.json()["items"]] == ["1200", "1300", "1400"]
    assert energy.json()["total"] == 4


async def test_unknown_transaction_is_404(api: httpx.AsyncClient) -> None:
    for response in [await api.get(f"{URL}/424242"), await api.get(f"{URL}/424242/meter-values")]:
        error_of(response, 404, "not_found")


@pytest.mark.parametrize("path", ["abc", "0", "-1", "1.5", str(2**63), str(2**70)])
@pytest.mark.parametrize("suffix", ["", "/meter-values"])
async def test_malformed_transaction_id_is_422(
    api: httpx.AsyncClient, path: str, suffix: str
) -> None:
    response = await api.get(f"{URL}/{path}{suffix}")

    assert locs(response) == [["path", "transaction_pk"]]


@pytest.mark.parametrize(
    "params",
    [
        {"active": "maybe"},
        {"limit": 0},
        {"limit": 501},
        {"offset": -1},
        {"station_id": "a:b"},
        {"station_id": "x" * 49},
    ],
)
async def test_bad_list_parameters_are_422(
    api: httpx.AsyncClient, params: dict[str, str | int]
) -> None:
    response = await api.get(URL, params=params)

    assert [loc[0] for loc in locs(response)] == ["query"]


async def test_bad_meter_value_parameters_are_422(api: httpx.AsyncClient, deps: Deps) -> None:
    tx_id = await start(deps, "CP-1")
    pk = await pk_of(api, "CP-1", tx_id)

    too_many = await api.get(f"{URL}/{pk}/meter-values", params={"limit": 1001})
    detail = await api.get(f"{URL}/{pk}", params={"meter_values_limit": -1})

    assert locs(too_many) == [["query", "limit"]]
    assert locs(detail) == [["query", "meter_values_limit"]]
