"""OCPP 1.6 StartTransaction / StopTransaction / MeterValues on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
from tx_helpers import T0, Csms, iso

from borne.transactions import service
from borne.transactions.events import TransactionEnded, TransactionStarted
from borne.transactions.models import MeterValueSample, Transaction


def mv(ts: datetime, value: str, **kw: str) -> dict[str, object]:
    return {"timestamp": iso(ts), "sampledValue": [{"value": value, **kw}]}


async def test_start_and_stop_are_stored_and_billed(csms: Csms) -> None:
    started = await csms.start16("CP1", meter=1000)
    assert started["idTagInfo"]["status"] == "Accepted"
    tx_id = started["transactionId"]
    await csms.v16(
        "CP1",
        "MeterValues",
        {
            "connectorId": 1,
            "transactionId": tx_id,
            "meterValue": [mv(T0 + timedelta(minutes=30), "2.5", unit="kWh")],
        },
    )
    stopped = await csms.stop16(
        "CP1",
        tx_id,
        meter=5000,
        idTag="TAG1",
        transactionData=[mv(T0 + timedelta(hours=1), "5000", context="Transaction.End")],
    )
    assert stopped["idTagInfo"]["status"] == "Accepted"

    tx = await csms.tx("CP1", tx_id)
    assert tx.state == "ended" and tx.ocpp16_id == tx_id and tx.ocpp_version == "ocpp1.6"
    assert tx.started_at == T0 and tx.stopped_at == T0 + timedelta(hours=1)
    assert (tx.meter_start_wh, tx.meter_stop_wh) == (Decimal(1000), Decimal(5000))
    assert tx.stop_reason == "Local"  # 1.6 default when the station gives no reason
    samples = await csms.samples(tx.id)
    assert [(s.value, s.raw_value, s.unit) for s in samples] == [
        (Decimal("2.5"), "2.5", "kWh"),
        (Decimal("5000"), "5000", None),
    ]
    assert all(s.measurand == "Energy.Active.Import.Register" for s in samples)
    async with csms.deps.db.unit_of_work() as uow:
        assert await service.energy_delivered(uow, tx.id) == Decimal(4000)
    await csms.settle()
    kinds = {type(e) for e in csms.events}
    assert {TransactionStarted, TransactionEnded} <= kinds


async def test_stop_reason_is_stored(csms: Csms) -> None:
    tx_id = (await csms.start16("CP1"))["transactionId"]
    await csms.stop16("CP1", tx_id, reason="EVDisconnected")
    assert (await csms.tx("CP1", tx_id)).stop_reason == "EVDisconnected"


async def test_r9_start_retried_after_lost_reply_returns_same_id(csms: Csms) -> None:
    first = await csms.start16("CP1", meter=1000)
    again = await csms.start16("CP1", meter=1000)
    assert again == first
    assert len(await csms.transactions()) == 1


async def test_r10_second_start_same_token_busy_connector_is_concurrent(csms: Csms) -> None:
    first = await csms.start16("CP1", connector=1)
    second = await csms.start16("CP1", connector=1, ts=T0 + timedelta(minutes=5))
    assert first["idTagInfo"]["status"] == "Accepted"
    assert second["idTagInfo"]["status"] == "ConcurrentTx"
    assert second["transactionId"] != first["transactionId"]
    # The station started it: it is recorded, flagged, and stays separate.
    tx = await csms.tx("CP1", second["transactionId"])
    assert "concurrent_tx" in tx.flags and "connector_busy" in tx.flags
    assert tx.auth_status == "ConcurrentTx"


async def test_r10_token_active_elsewhere_is_concurrent_until_stopped(csms: Csms) -> None:
    first = await csms.start16("CP1", tag="TAG1")
    elsewhere = await csms.start16("CP2", tag="tag1")  # tokens are case-insensitive
    assert elsewhere["idTagInfo"]["status"] == "ConcurrentTx"
    other_token = await csms.start16("CP3", tag="TAG2")
    assert other_token["idTagInfo"]["status"] == "Accepted"
    await csms.stop16("CP1", first["transactionId"])
    await csms.stop16("CP2", elsewhere["transactionId"])
    later = await csms.start16("CP2", tag="TAG1", ts=T0 + timedelta(hours=2))
    assert later["idTagInfo"]["status"] == "Accepted"


async def test_blocked_and_unknown_tokens_still_record_the_transaction(csms: Csms) -> None:
    await csms.token("BLOCKED", status="Blocked")
    blocked = await csms.start16("CP1", tag="BLOCKED")
    unknown = await csms.start16("CP1", connector=2, tag="NOBODY")
    assert blocked["idTagInfo"]["status"] == "Blocked"
    assert unknown["idTagInfo"]["status"] == "Invalid"
    assert [t.auth_status for t in await csms.transactions()] == ["Blocked", "Invalid"]


async def test_expired_token_and_parent_tag_in_answer(csms: Csms) -> None:
    await csms.token("OLD", expiry=datetime.now(UTC) - timedelta(days=1))
    await csms.token("KID", group="PARENT")
    assert (await csms.start16("CP1", tag="OLD"))["idTagInfo"]["status"] == "Expired"
    kid = await csms.start16("CP1", connector=2, tag="KID")
    assert kid["idTagInfo"] == {"status": "Accepted", "parentIdTag": "PARENT"}


async def test_r8_stop_retried_records_one_stop_and_one_set_of_meter_values(csms: Csms) -> None:
    tx_id = (await csms.start16("CP1"))["transactionId"]
    data = [mv(T0 + timedelta(minutes=m), str(1000 + m * 10)) for m in (10, 20, 30)]
    answers = [
        await csms.stop16("CP1", tx_id, meter=4000, reason="Remote", transactionData=data)
        for _ in range(3)
    ]
    assert answers == [{}, {}, {}]
    assert len(await csms.samples()) == 3
    tx = await csms.tx("CP1", tx_id)
    assert tx.meter_stop_wh == Decimal(4000) and tx.stop_reason == "Remote"
    await csms.settle()
    assert sum(isinstance(e, TransactionEnded) for e in csms.events) == 1


async def test_r11_stop_for_unknown_transaction_is_acked_and_recorded(csms: Csms) -> None:
    tx_id = (await csms.start16("CP1"))["transactionId"]
    unknown = 7 if tx_id != 7 else 8
    for _ in range(2):  # the retry is idempotent too
        answer = await csms.stop16("CP1", unknown, meter=900, transactionData=[mv(T0, "900")])
        assert answer == {}
    active = await csms.tx("CP1", tx_id)
    assert active.state == "active" and active.stopped_at is None
    orphan = await csms.tx("CP1", unknown)
    assert orphan.state == "ended" and "stop_without_start" in orphan.flags
    assert orphan.meter_stop_wh == Decimal(900) and orphan.ocpp16_id is None
    assert len(await csms.samples(orphan.id)) == 1


async def test_r11_stop_with_another_stations_id_stops_nothing_there(csms: Csms) -> None:
    tx_id = (await csms.start16("CP1"))["transactionId"]
    assert await csms.stop16("CP2", tx_id) == {}
    assert (await csms.tx("CP1", tx_id)).state == "active"
    assert "stop_without_start" in (await csms.tx("CP2", tx_id)).flags


async def test_r12_ids_are_random_31_bit_and_unique(csms: Csms) -> None:
    ids = []
    for i in range(40):
        answer = await csms.start16(f"CP{i % 4}", connector=i + 1, tag=f"T{i}")
        ids.append(answer["transactionId"])
    assert len(set(ids)) == 40
    assert all(0 < i < 2**31 for i in ids)
    # not a counter: consecutive ids are far apart
    assert sum(abs(a - b) > 1000 for a, b in pairwise(ids)) >= 35


async def test_r12_id_collision_draws_again(csms: Csms, monkeypatch: pytest.MonkeyPatch) -> None:
    draws = iter([41, 41, 99])
    monkeypatch.setattr(service.secrets, "randbelow", lambda n: next(draws))
    first = await csms.start16("CP1", tag="A")
    second = await csms.start16("CP2", tag="B")
    assert (first["transactionId"], second["transactionId"]) == (42, 100)


async def test_r13_implausible_data_is_acked_stored_and_flagged(csms: Csms) -> None:
    future = datetime.now(UTC) + timedelta(days=2)
    tx_id = (await csms.start16("CP1", meter=5000))["transactionId"]
    await csms.v16(
        "CP1",
        "MeterValues",
        {
            "connectorId": 1,
            "transactionId": tx_id,
            "meterValue": [
                mv(T0 + timedelta(minutes=10), "6000"),
                mv(T0 + timedelta(minutes=20), "5500"),  # backwards
                mv(T0 - timedelta(hours=3), "5000"),  # before the start
                mv(future, "7000"),  # in the future
                mv(T0 + timedelta(minutes=30), "n/a"),  # not a number
            ],
        },
    )
    assert await csms.stop16("CP1", tx_id, meter=4000) == {}  # below meter start
    samples = await csms.samples()
    assert [s.flags for s in samples] == [
        None,
        ["meter_backwards"],
        ["timestamp_outside_transaction"],
        ["timestamp_in_future"],
        ["value_not_a_number"],
    ]
    assert samples[4].value is None and samples[4].raw_value == "n/a"
    tx = await csms.tx("CP1", tx_id)
    assert {"meter_backwards", "timestamp_outside_transaction"} <= set(tx.flags)
    assert tx.meter_stop_wh == Decimal(4000)


async def test_r13_future_start_is_flagged(csms: Csms) -> None:
    ts = datetime.now(UTC) + timedelta(hours=3)
    tx_id = (await csms.start16("CP1", ts=ts))["transactionId"]
    assert (await csms.tx("CP1", tx_id)).flags == ["timestamp_in_future"]


async def test_meter_values_outside_transaction_and_unknown_transaction(csms: Csms) -> None:
    await csms.v16(
        "CP1",
        "MeterValues",
        {
            "connectorId": 0,
            "meterValue": [
                {
                    "timestamp": iso(T0),
                    "sampledValue": [
                        {"value": "230.1", "measurand": "Voltage", "unit": "V", "phase": "L1-N"},
                        {"value": "12345"},
                    ],
                }
            ],
        },
    )
    await csms.v16(
        "CP1",
        "MeterValues",
        {
            "connectorId": 1,
            "transactionId": 31337,
            "meterValue": [mv(T0, "1")],
        },
    )
    samples = await csms.samples(station="CP1")
    assert [(s.transaction_pk, s.measurand, s.phase, s.value) for s in samples[:2]] == [
        (None, "Voltage", "L1-N", Decimal("230.1")),
        (None, "Energy.Active.Import.Register", None, Decimal(12345)),
    ]
    assert samples[2].transaction_pk is None and samples[2].transaction_id == "31337"
    assert samples[2].flags == ["unknown_transaction"]


async def test_signed_data_is_kept_raw(csms: Csms) -> None:
    tx_id = (await csms.start16("CP1"))["transactionId"]
    await csms.v16(
        "CP1",
        "MeterValues",
        {
            "connectorId": 1,
            "transactionId": tx_id,
            "meterValue": [mv(T0, "0A1B2C", format="SignedData", context="Transaction.Begin")],
        },
    )
    (s,) = await csms.samples()
    assert (s.value, s.raw_value, s.format, s.flags) == (None, "0A1B2C", "SignedData", None)


async def test_meter_values_hot_path_is_one_statement(csms: Csms) -> None:
    from sqlalchemy import event

    tx_id = (await csms.start16("CP1"))["transactionId"]
    statements: list[str] = []

    def count(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = csms.deps.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        await csms.v16(
            "CP1",
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": tx_id,
                "meterValue": [mv(T0 + timedelta(minutes=m), str(1000 + m)) for m in range(1, 4)],
            },
        )
    finally:
        event.remove(engine, "before_cursor_execute", count)
    writes = [s for s in statements if not s.lstrip().upper().startswith(("BEGIN", "COMMIT"))]
    assert len(writes) == 1 and writes[0].lstrip().upper().startswith("INSERT INTO METER_VALUES")
    assert await csms.count(MeterValueSample) == 3
    assert await csms.count(Transaction) == 1
