"""OCPP 2.0.1 TransactionEvent / MeterValues on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tx_helpers import T0, Csms, iso

from borne.transactions.events import TransactionEnded, TransactionStarted
from borne.transactions.models import MeterValueSample, Transaction, TransactionEventLog

EVSE = {"id": 1, "connectorId": 1}
TOKEN = {"idToken": "TAG1", "type": "ISO14443"}


def energy(value: float, context: str | None = None, unit: str = "Wh") -> dict[str, object]:
    sv: dict[str, object] = {"value": value, "unitOfMeasure": {"unit": unit}}
    if context:
        sv["context"] = context
    return sv


async def test_started_updated_ended_lifecycle(csms: Csms) -> None:
    started = await csms.event201(
        "CS1",
        "tx-1",
        "Started",
        0,
        evse=EVSE,
        idToken=TOKEN,
        info={"chargingState": "EVConnected", "remoteStartId": 7},
        samples=[energy(1.5, "Transaction.Begin", "kWh")],
    )
    assert started == {"idTokenInfo": {"status": "Accepted"}}
    updated = await csms.event201(
        "CS1",
        "tx-1",
        "Updated",
        1,
        ts=T0 + timedelta(minutes=10),
        info={"chargingState": "Charging"},
        samples=[energy(2000)],
    )
    assert updated == {}
    tx = await csms.tx("CS1", "tx-1")
    assert tx.charging_state == "Charging" and tx.state == "active"
    ended = await csms.event201(
        "CS1",
        "tx-1",
        "Ended",
        2,
        ts=T0 + timedelta(hours=1),
        trigger="StopAuthorized",
        idToken=TOKEN,
        info={"stoppedReason": "EVDisconnected", "chargingState": "Idle"},
        samples=[energy(4000.25, "Sample.Periodic"), energy(4.5, "Transaction.End", "kWh")],
    )
    assert ended == {"idTokenInfo": {"status": "Accepted"}}
    tx = await csms.tx("CS1", "tx-1")
    assert (tx.state, tx.stop_reason, tx.remote_start_id) == ("ended", "EVDisconnected", 7)
    assert (tx.evse_id, tx.connector_id, tx.id_token) == (1, 1, "TAG1")
    assert (tx.started_at, tx.stopped_at) == (T0, T0 + timedelta(hours=1))
    # Transaction.Begin/End registers, normalised from kWh
    assert (tx.meter_start_wh, tx.meter_stop_wh) == (Decimal(1500), Decimal(4500))
    assert tx.ended_seq_no == 2 and tx.ocpp16_id is None
    log = await csms.event_log(tx.id)
    assert [(e.seq_no, e.event_type) for e in log] == [(0, "Started"), (1, "Updated"), (2, "Ended")]
    samples = await csms.samples(tx.id)
    assert [s.value for s in samples] == [
        Decimal("1.5"),
        Decimal(2000),
        Decimal("4000.25"),
        Decimal("4.5"),
    ]
    await csms.settle()
    assert sum(isinstance(e, TransactionStarted) for e in csms.events) == 1
    assert sum(isinstance(e, TransactionEnded) for e in csms.events) == 1


async def test_started_event_carries_the_token_of_the_started_message(csms: Csms) -> None:
    started: list[TransactionStarted] = []

    async def collect(ev: TransactionStarted) -> None:
        started.append(ev)

    csms.deps.bus.subscribe(TransactionStarted, collect)
    await csms.event201(
        "CS1", "tx-tok", "Started", 0, evse=EVSE, idToken=TOKEN, samples=[energy(1000)]
    )
    # no token in the Started message: the event has none (a later Updated brings it)
    await csms.event201("CS1", "tx-none", "Started", 0, evse={"id": 2, "connectorId": 1})
    await csms.settle()
    by_id = {e.transaction_id: e for e in started}
    assert set(by_id) == {"tx-tok", "tx-none"}
    tok = by_id["tx-tok"]
    assert (tok.id_token, tok.evse_id, tok.connector_id) == ("TAG1", 1, 1)
    assert by_id["tx-none"].id_token is None


async def test_ended_without_reason_defaults_to_local_and_last_stored_register(csms: Csms) -> None:
    await csms.event201("CS1", "t", "Started", 0, evse=EVSE, samples=[energy(100)])
    for i in range(1, 4):
        await csms.event201(
            "CS1", "t", "Updated", i, ts=T0 + timedelta(minutes=i), samples=[energy(100 + i * 50)]
        )
    await csms.event201("CS1", "t", "Ended", 4, ts=T0 + timedelta(minutes=5))
    tx = await csms.tx("CS1", "t")
    assert (tx.stop_reason, tx.meter_start_wh, tx.meter_stop_wh) == (
        "Local",
        Decimal(100),
        Decimal(250),
    )


async def test_r8_ended_retried_records_one_stop_and_one_set_of_meter_values(csms: Csms) -> None:
    await csms.event201("CS1", "t", "Started", 0, evse=EVSE, samples=[energy(0)])
    for _ in range(3):
        answer = await csms.event201(
            "CS1",
            "t",
            "Ended",
            1,
            ts=T0 + timedelta(hours=1),
            samples=[energy(900, "Transaction.End"), energy(16, "Transaction.End")],
        )
        assert answer == {}
    tx = await csms.tx("CS1", "t")
    assert len(await csms.samples(tx.id)) == 3
    assert len(await csms.event_log(tx.id)) == 2
    await csms.settle()
    assert sum(isinstance(e, TransactionEnded) for e in csms.events) == 1


async def test_r10_token_in_another_active_transaction_is_concurrent(csms: Csms) -> None:
    first = await csms.event201("CS1", "a", "Started", 0, evse=EVSE, idToken=TOKEN)
    again = await csms.event201("CS1", "a", "Started", 0, evse=EVSE, idToken=TOKEN)  # retry
    other = await csms.event201("CS2", "b", "Started", 0, evse=EVSE, idToken=TOKEN)
    assert first == again == {"idTokenInfo": {"status": "Accepted"}}
    assert other == {"idTokenInfo": {"status": "ConcurrentTx"}}
    assert "concurrent_tx" in (await csms.tx("CS2", "b")).flags
    free = {"idToken": "", "type": "NoAuthorization"}
    await csms.event201("CS3", "c", "Started", 0, evse=EVSE, idToken=free)
    answer = await csms.event201("CS4", "d", "Started", 0, evse=EVSE, idToken=free)
    assert answer.get("idTokenInfo", {}).get("status") != "ConcurrentTx"
    assert "concurrent_tx" not in (await csms.tx("CS4", "d")).flags


async def test_token_authorized_in_updated_is_attached(csms: Csms) -> None:
    await csms.event201("CS1", "t", "Started", 0, evse=EVSE)
    answer = await csms.event201(
        "CS1", "t", "Updated", 1, trigger="Authorized", idToken={"idToken": "X", "type": "Local"}
    )
    assert answer == {"idTokenInfo": {"status": "Invalid"}}
    tx = await csms.tx("CS1", "t")
    assert (tx.id_token, tx.id_token_type, tx.auth_status) == ("X", "Local", "Invalid")


async def test_r14_seq_no_restarts_per_transaction_and_duplicates_are_ignored(csms: Csms) -> None:
    for tx_id in ("one", "two"):
        await csms.event201("CS1", tx_id, "Started", 0, evse=EVSE)
        for _ in range(2):  # the same Updated twice
            assert (
                await csms.event201(
                    "CS1",
                    tx_id,
                    "Updated",
                    1,
                    samples=[energy(10)],
                    info={"chargingState": "Charging"},
                )
                == {}
            )
    assert await csms.count(MeterValueSample) == 2
    assert await csms.count(TransactionEventLog) == 4


async def test_r14_updated_first_creates_and_started_later_completes(csms: Csms) -> None:
    await csms.event201(
        "CS1",
        "late",
        "Updated",
        1,
        ts=T0 + timedelta(minutes=1),
        evse=EVSE,
        samples=[energy(150)],
        info={"chargingState": "Charging"},
    )
    tx = await csms.tx("CS1", "late")
    assert tx.state == "active" and tx.flags == ["started_missing"]
    await csms.event201(
        "CS1", "late", "Started", 0, ts=T0, samples=[energy(100, "Transaction.Begin")]
    )
    tx = await csms.tx("CS1", "late")
    assert (tx.started_at, tx.meter_start_wh, tx.flags) == (T0, Decimal(100), ["started_late"])
    assert tx.charging_state == "Charging"


async def test_r14_out_of_order_after_ended_stores_values_but_never_reopens(csms: Csms) -> None:
    await csms.event201("CS1", "t", "Started", 0, evse=EVSE, samples=[energy(0)])
    await csms.event201(
        "CS1",
        "t",
        "Ended",
        3,
        ts=T0 + timedelta(hours=1),
        samples=[energy(500)],
        info={"stoppedReason": "Remote"},
    )
    # A lower seqNo arriving late: its values are stored, the transaction stays ended.
    assert (
        await csms.event201(
            "CS1",
            "t",
            "Updated",
            2,
            ts=T0 + timedelta(minutes=30),
            samples=[energy(250)],
            info={"chargingState": "Charging"},
        )
        == {}
    )
    # An Updated after Ended (higher seqNo): acknowledged and ignored for state.
    assert (
        await csms.event201(
            "CS1",
            "t",
            "Updated",
            4,
            ts=T0 + timedelta(hours=2),
            samples=[energy(600)],
            info={"chargingState": "SuspendedEV"},
        )
        == {}
    )
    tx = await csms.tx("CS1", "t")
    assert (tx.state, tx.meter_stop_wh, tx.stop_reason) == ("ended", Decimal(500), "Remote")
    assert tx.charging_state is None and tx.stopped_at == T0 + timedelta(hours=1)
    samples = await csms.samples(tx.id)
    assert [s.value for s in samples] == [0, 500, 250, 600]
    assert samples[3].flags == ["timestamp_outside_transaction"]
    assert [e.seq_no for e in await csms.event_log(tx.id)] == [0, 2, 3, 4]


async def test_r14_ended_first_creates_an_ended_transaction(csms: Csms) -> None:
    await csms.event201("CS1", "t", "Ended", 5, evse=EVSE, samples=[energy(70)])
    tx = await csms.tx("CS1", "t")
    assert tx.state == "ended" and "started_missing" in tx.flags
    await csms.event201("CS1", "t", "Updated", 4, samples=[energy(60)])
    assert (await csms.tx("CS1", "t")).state == "ended"


async def test_r13_implausible_2_0_1_values_flagged(csms: Csms) -> None:
    future = datetime.now(UTC) + timedelta(days=1)
    await csms.event201("CS1", "t", "Started", 0, evse=EVSE, samples=[energy(1000)])
    await csms.event201(
        "CS1", "t", "Updated", 1, ts=T0 + timedelta(minutes=5), samples=[energy(900)]
    )
    await csms.event201("CS1", "t", "Updated", 2, ts=future, samples=[energy(1100)])
    samples = await csms.samples()
    assert [s.flags for s in samples] == [None, ["meter_backwards"], ["timestamp_in_future"]]
    assert "meter_backwards" in (await csms.tx("CS1", "t")).flags


async def test_meter_values_2_0_1_outside_transactions_and_signed(csms: Csms) -> None:
    signed = {
        "signedMeterData": "AAEC",
        "signingMethod": "ECDSA",
        "encodingMethod": "OCMF",
        "publicKey": "KEY",
    }
    await csms.v201(
        "CS1",
        "MeterValues",
        {
            "evseId": 2,
            "meterValue": [
                {
                    "timestamp": iso(T0),
                    "sampledValue": [
                        {
                            "value": 12.5,
                            "measurand": "Power.Active.Import",
                            "unitOfMeasure": {"unit": "kW", "multiplier": 3},
                        },
                        {"value": 42, "signedMeterValue": signed},
                    ],
                }
            ],
        },
    )
    power, reg = await csms.samples()
    assert (power.transaction_pk, power.evse_id, power.value, power.multiplier) == (
        None,
        2,
        Decimal("12.5"),
        3,
    )
    assert (reg.value, reg.raw_value, reg.signed) == (Decimal(42), "42", signed)


async def test_updated_hot_path_is_two_statements(csms: Csms) -> None:
    from sqlalchemy import event

    await csms.event201("CS1", "t", "Started", 0, evse=EVSE)
    statements: list[str] = []

    def count(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement.lstrip().upper())

    engine = csms.deps.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        await csms.event201("CS1", "t", "Updated", 1, samples=[energy(1), energy(2)])
    finally:
        event.remove(engine, "before_cursor_execute", count)
    writes = [s for s in statements if not s.startswith(("BEGIN", "COMMIT"))]
    assert [w.split("(")[0].strip() for w in writes] == [
        "INSERT INTO TRANSACTION_EVENTS",
        "INSERT INTO METER_VALUES",
    ]
    assert await csms.count(Transaction) == 1
