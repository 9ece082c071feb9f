"""R12 end to end: 1.6 transaction ids are unique across connectors, stations and a restart of
Borne on the same database, and are not guessable from one another (spread over the whole
31-bit range, not a counter or a clock; ``secrets`` is pinned by
``test_transactions_v16.py::test_r12_id_collision_draws_again``)."""

from __future__ import annotations

from itertools import pairwise

from helpers import (
    BOOT16,
    create_id_token,
    create_station,
    now_iso,
    raw_connect,
    start_server,
    stop_server,
    unique_id,
)

PER_RUN = 20


async def _start_and_stop(db_url: str, stations: list[str], run: int) -> list[int]:
    server = await start_server(db_url)
    ids: list[int] = []
    try:
        async with server.api() as api:
            for station_id in stations:
                if run == 0:
                    await create_station(api, station_id)
            await create_id_token(api, f"R12-TAG-{run}")
        for n, station_id in enumerate(stations):
            async with raw_connect(server, station_id, "ocpp1.6") as raw:
                assert (await raw.result("BootNotification", BOOT16))["status"] == "Accepted"
                for connector in range(1, PER_RUN // len(stations) + 1):
                    start = await raw.result(
                        "StartTransaction",
                        {
                            "connectorId": connector,
                            "idTag": f"R12-TAG-{run}",
                            "meterStart": 0,
                            "timestamp": now_iso(-60),
                        },
                    )
                    tx_id = start["transactionId"]
                    ids.append(tx_id)
                    await raw.result(
                        "StopTransaction",
                        {"transactionId": tx_id, "meterStop": 10 * n, "timestamp": now_iso()},
                    )
    finally:
        await stop_server(server)
    return ids


async def test_r12_ids_unique_across_connectors_stations_and_restarts(db_url: str) -> None:
    stations = [unique_id("R12"), unique_id("R12")]
    before = await _start_and_stop(db_url, stations, 0)
    after = await _start_and_stop(db_url, stations, 1)  # a new process on the same database
    ids = before + after
    assert len(ids) == 2 * PER_RUN
    assert len(set(ids)) == len(ids)
    assert all(0 < i < 2**31 for i in ids)
    # not a counter, not a clock: far apart, in no order, over the whole 31-bit range
    assert all(abs(a - b) > 1000 for a, b in pairwise(ids))
    assert ids != sorted(ids)
    assert min(ids) < 2**30 < max(ids)
