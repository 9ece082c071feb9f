"""R15 (a long offline queue, billed by timestamps) and R17 (a failed commit, retried once)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from tx_helpers import T0, Csms, iso

from borne.core.deps import Deps
from borne.transactions import service
from borne.transactions.models import MeterValueSample, Transaction, TransactionEventLog

N = 10_000


def _one_at_a_time(csms: Csms, monkeypatch: pytest.MonkeyPatch) -> None:
    """A station sends its queue one message at a time (one outstanding CALL): no neighbours to
    wait for, so the committer's batching pause is only latency here. Durability is unchanged:
    every message is still committed before it is answered."""
    csms.validate = False
    monkeypatch.setattr(csms.deps.committer, "_max_wait", 0.0)


async def _assert_billed_by_timestamps(
    csms: Csms, tx: Transaction, start_wh: int, extra_samples: int
) -> None:
    assert tx.state == "ended" and tx.flags == []
    assert (tx.started_at, tx.stopped_at) == (T0, T0 + timedelta(seconds=N + 1))
    assert (tx.meter_start_wh, tx.meter_stop_wh) == (Decimal(start_wh), Decimal(start_wh + N + 1))
    samples = await csms.samples(tx.id)
    assert len(samples) == N + extra_samples
    periodic = [s for s in samples if s.context == "Sample.Periodic"]
    assert len(periodic) == N
    # stored in the order sent, each with its own timestamp, none flagged
    assert [s.timestamp for s in periodic] == [T0 + timedelta(seconds=i) for i in range(1, N + 1)]
    assert [s.value for s in periodic] == [Decimal(start_wh + i) for i in range(1, N + 1)]
    assert all(s.flags is None for s in samples)
    async with csms.deps.db.unit_of_work() as uow:
        assert await service.energy_delivered(uow, tx.id) == Decimal(N + 1)


@pytest.mark.slow
async def test_r15_v16_queued_messages_processed_in_order_and_billed(
    csms: Csms, monkeypatch: pytest.MonkeyPatch
) -> None:
    _one_at_a_time(csms, monkeypatch)
    began = time.perf_counter()
    tx_id = (await csms.start16("CP1", meter=1000, ts=T0))["transactionId"]
    for i in range(1, N + 1):
        await csms.v16(
            "CP1",
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": tx_id,
                "meterValue": [
                    {
                        "timestamp": iso(T0 + timedelta(seconds=i)),
                        "sampledValue": [{"value": str(1000 + i), "context": "Sample.Periodic"}],
                    }
                ],
            },
        )
    await csms.stop16("CP1", tx_id, meter=1000 + N + 1, ts=T0 + timedelta(seconds=N + 1))
    elapsed = time.perf_counter() - began
    await _assert_billed_by_timestamps(csms, await csms.tx("CP1", tx_id), 1000, 0)
    assert elapsed < 120


@pytest.mark.slow
async def test_r15_v201_queued_events_processed_in_order_and_billed(
    csms: Csms, monkeypatch: pytest.MonkeyPatch
) -> None:
    _one_at_a_time(csms, monkeypatch)
    evse = {"id": 1, "connectorId": 1}
    await csms.event201(
        "CS1",
        "offline-1",
        "Started",
        0,
        ts=T0,
        evse=evse,
        offline=True,
        samples=[{"value": 500, "context": "Transaction.Begin"}],
    )
    for i in range(1, N + 1):
        await csms.event201(
            "CS1",
            "offline-1",
            "Updated",
            i,
            ts=T0 + timedelta(seconds=i),
            offline=True,
            samples=[{"value": 500 + i, "context": "Sample.Periodic"}],
        )
    await csms.event201(
        "CS1",
        "offline-1",
        "Ended",
        N + 1,
        ts=T0 + timedelta(seconds=N + 1),
        offline=True,
        samples=[{"value": 500 + N + 1, "context": "Transaction.End"}],
    )
    tx = await csms.tx("CS1", "offline-1")
    assert tx.offline
    assert await csms.count(TransactionEventLog) == N + 2
    await _assert_billed_by_timestamps(csms, tx, 500, 2)


class _CommitFailsOnce:
    """A session factory whose first session fails at COMMIT, as if the database went away."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self.failures = 0

    def __call__(self) -> Any:
        session = self._factory()
        if self.failures == 0:
            self.failures += 1

            async def commit() -> None:
                raise OperationalError("COMMIT", {}, ConnectionError("database is down"))

            session.commit = commit
        return session


def _break_next_commit(deps: Deps, monkeypatch: pytest.MonkeyPatch) -> _CommitFailsOnce:
    broken = _CommitFailsOnce(deps.committer._factory)
    monkeypatch.setattr(deps.committer, "_factory", broken)
    return broken


async def test_r17_start_fails_then_retry_stored_once(
    csms: Csms, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = _break_next_commit(csms.deps, monkeypatch)
    with pytest.raises(OperationalError):
        await csms.start16("CP1")
    assert broken.failures == 1 and await csms.count(Transaction) == 0
    answer = await csms.start16("CP1")
    assert answer["idTagInfo"]["status"] == "Accepted"  # not ConcurrentTx with a ghost
    assert [t.transaction_id for t in await csms.transactions()] == [str(answer["transactionId"])]


async def test_r17_stop_and_meter_values_fail_then_retry_stored_once(
    csms: Csms, monkeypatch: pytest.MonkeyPatch
) -> None:
    tx_id = (await csms.start16("CP1"))["transactionId"]
    mv = {
        "connectorId": 1,
        "transactionId": tx_id,
        "meterValue": [
            {"timestamp": iso(T0 + timedelta(minutes=1)), "sampledValue": [{"value": "1100"}]}
        ],
    }
    _break_next_commit(csms.deps, monkeypatch)
    with pytest.raises(OperationalError):
        await csms.v16("CP1", "MeterValues", mv)
    assert await csms.count(MeterValueSample) == 0
    await csms.v16("CP1", "MeterValues", mv)
    assert await csms.count(MeterValueSample) == 1

    data = [{"timestamp": iso(T0 + timedelta(hours=1)), "sampledValue": [{"value": "3000"}]}]
    _break_next_commit(csms.deps, monkeypatch)
    with pytest.raises(OperationalError):
        await csms.stop16("CP1", tx_id, meter=3000, transactionData=data)
    assert (await csms.tx("CP1", tx_id)).state == "active"
    assert await csms.stop16("CP1", tx_id, meter=3000, transactionData=data) == {}
    assert await csms.stop16("CP1", tx_id, meter=3000, transactionData=data) == {}
    tx = await csms.tx("CP1", tx_id)
    assert tx.state == "ended" and tx.meter_stop_wh == Decimal(3000)
    assert await csms.count(MeterValueSample) == 2


async def test_r17_transaction_event_fails_then_retry_stored_once(
    csms: Csms, monkeypatch: pytest.MonkeyPatch
) -> None:
    evse = {"id": 1, "connectorId": 1}
    await csms.event201("CS1", "t", "Started", 0, evse=evse)
    _break_next_commit(csms.deps, monkeypatch)
    ended: dict[str, Any] = {"ts": T0 + timedelta(hours=1), "samples": [{"value": 42}]}
    with pytest.raises(OperationalError):
        await csms.event201("CS1", "t", "Ended", 1, **ended)
    assert (await csms.tx("CS1", "t")).state == "active"
    for _ in range(2):
        assert await csms.event201("CS1", "t", "Ended", 1, **ended) == {}
    tx = await csms.tx("CS1", "t")
    assert tx.state == "ended" and tx.meter_stop_wh == Decimal(42)
    assert await csms.count(MeterValueSample) == 1
    assert await csms.count(TransactionEventLog) == 2
