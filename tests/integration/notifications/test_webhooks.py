"""Webhooks: outbox rows per subscription, signed deliveries, retries, dead letters, rules."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from notif_helpers import Receiver, deliveries, eventually, subscribe
from tx_helpers import T0, Csms, iso

from borne.cdrs.events import CdrIssued
from borne.core.deps import Deps
from borne.notifications import service
from borne.notifications.sender import WebhookSender
from borne.notifications.signing import signature_header, verify
from borne.notifications.subscribers import Notifier
from borne.stations.events import StationStatusChanged

ALL = list(service.EVENT_TYPES)


def mv16(tx_id: int, wh: int, ts: datetime, soc: int | None = None) -> dict[str, Any]:
    values: list[dict[str, Any]] = [
        {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
    ]
    if soc is not None:
        values.append({"value": str(soc), "measurand": "SoC", "unit": "Percent"})
    return {
        "connectorId": 1,
        "transactionId": tx_id,
        "meterValue": [{"timestamp": iso(ts), "sampledValue": values}],
    }


async def start16(csms: Csms, station: str = "WH16") -> tuple[int, int]:
    tx_id = (await csms.start16(station))["transactionId"]
    return tx_id, (await csms.tx(station, tx_id)).id


def test_signature_scheme() -> None:
    body = b'{"id":"x"}'
    header = signature_header("whsec_test", body, 1_700_000_000)
    assert header.startswith("t=1700000000,v1=")
    assert len(header.split("v1=")[1]) == 64
    assert verify("whsec_test", header, body, now=1_700_000_100)
    assert not verify("whsec_other", header, body, now=1_700_000_100)
    assert not verify("whsec_test", header, body + b" ", now=1_700_000_100)
    assert not verify("whsec_test", header, body, now=1_700_001_000)  # outside tolerance
    assert not verify("whsec_test", "v1=abc", body, now=1_700_000_000)


async def test_session_started_is_signed_and_delivered_once(
    deps: Deps, csms: Csms, receiver: Receiver, running: WebhookSender
) -> None:
    sub = await subscribe(deps, receiver, ["session.started"])
    other = await subscribe(deps, receiver, ["session.ended"], url="http://other.test/h")
    tx_id, pk = await start16(csms)

    async def delivered() -> bool:
        return bool(receiver.requests)

    await eventually(delivered)
    req = receiver.requests[0]
    assert req["verified"] and req["url"] == "http://receiver.test/hook"
    body = req["json"]
    assert body["type"] == "session.started"
    assert body["id"] == service.event_id("session.started", pk)
    uuid.UUID(body["id"])
    assert body["data"]["session_id"] == pk and body["data"]["id_token"] == "TAG1"
    assert body["data"]["transaction_id"] == str(tx_id)
    assert req["headers"]["borne-event-id"] == body["id"]
    assert req["headers"]["borne-delivery-attempt"] == "1"

    # The same event again (a bus retry, a duplicate): nothing new in the outbox.
    started = next(e for e in csms.events if type(e).__name__ == "TransactionStarted")
    await deps.bus.publish([started])
    await asyncio.sleep(0.2)
    assert len(receiver.requests) == 1
    rows = await deliveries(deps, sub)
    assert [(d.status, d.attempts) for d in rows] == [("delivered", 1)]
    assert [a.status_code for a in rows[0].log] == [204]
    assert await deliveries(deps, other) == []


async def test_failures_are_retried_then_dead_lettered(
    deps: Deps, csms: Csms, receiver: Receiver, running: WebhookSender
) -> None:
    sub = await subscribe(deps, receiver, ["session.started"])
    receiver.fail_next = 2
    await start16(csms)

    async def delivered() -> bool:
        return [d.status for d in await deliveries(deps, sub)] == ["delivered"]

    await eventually(delivered)
    (row,) = await deliveries(deps, sub)
    assert [a.status_code for a in row.log] == [503, 503, 204]
    assert [r["headers"]["borne-delivery-attempt"] for r in receiver.requests] == ["1", "2", "3"]
    assert len({r["json"]["id"] for r in receiver.requests}) == 1  # same event id each time
    assert all(r["verified"] for r in receiver.requests)

    receiver.fail_next = 100
    await start16(csms, "WH16B")

    async def dead() -> bool:
        return "dead" in [d.status for d in await deliveries(deps, sub)]

    await eventually(dead)
    dead_row = next(d for d in await deliveries(deps, sub) if d.status == "dead")
    assert dead_row.attempts == 4 and dead_row.last_error == "HTTP 503"

    receiver.fail_next = 0
    async with deps.db.unit_of_work() as uow:
        await service.requeue(uow, sub, dead_row.id, now=datetime.now(UTC))
        await uow.commit()
    running.wake()

    async def all_delivered() -> bool:
        return {d.status for d in await deliveries(deps, sub)} == {"delivered"}

    await eventually(all_delivered)


async def test_pending_deliveries_survive_a_restart(
    deps: Deps, csms: Csms, receiver: Receiver, notifier: Notifier
) -> None:
    """No sender runs while the event is written (the server is down); a new sender on the
    same database delivers it."""
    sub = await subscribe(deps, receiver, ["session.started"])
    await start16(csms)

    async def written() -> bool:
        return len(await deliveries(deps, sub)) == 1

    await eventually(written)
    assert receiver.requests == []
    fresh = WebhookSender(deps, notifier._config, transport=receiver.transport())
    deps.supervisor.keep_running(fresh.run, name="webhook-sender-2")

    async def delivered() -> bool:
        return [d.status for d in await deliveries(deps, sub)] == ["delivered"]

    await eventually(delivered)


async def test_soc_threshold_crossing(
    deps: Deps, csms: Csms, receiver: Receiver, running: WebhookSender
) -> None:
    sub80 = await subscribe(deps, receiver, ["session.soc_threshold"])
    sub50 = await subscribe(
        deps, receiver, ["session.soc_threshold"], url="http://fifty.test/h", soc_threshold=50
    )
    tx_id, _pk = await start16(csms)
    for i, soc in enumerate((45, 60, 79, 81, 90)):
        ts = T0 + timedelta(minutes=i + 1)
        await csms.v16("WH16", "MeterValues", mv16(tx_id, 1000 + 1000 * i, ts, soc))
        await csms.settle()
        await asyncio.sleep(0.05)

    async def both() -> bool:
        return len(receiver.requests) == 2

    await eventually(both)
    await asyncio.sleep(0.2)
    assert len(receiver.requests) == 2
    by_url = {r["url"]: r["json"] for r in receiver.requests}
    d80 = by_url["http://receiver.test/hook"]["data"]
    assert (d80["threshold"], d80["soc"], d80["previous_soc"]) == (80, "81", "79")
    d50 = by_url["http://fifty.test/h"]["data"]
    assert (d50["threshold"], d50["soc"], d50["previous_soc"]) == (50, "60", "45")
    assert len(await deliveries(deps, sub80)) == len(await deliveries(deps, sub50)) == 1


async def test_soc_starting_above_threshold_does_not_notify(
    deps: Deps, csms: Csms, receiver: Receiver, running: WebhookSender
) -> None:
    await subscribe(deps, receiver, ["session.soc_threshold"])
    tx_id, _ = await start16(csms)
    for i, soc in enumerate((85, 90)):
        await csms.v16("WH16", "MeterValues", mv16(tx_id, 1000, T0 + timedelta(minutes=i), soc))
    await csms.settle()
    await asyncio.sleep(0.3)
    assert receiver.requests == []


async def test_charging_finished_201_charging_state(
    deps: Deps, csms: Csms, receiver: Receiver, running: WebhookSender
) -> None:
    await subscribe(deps, receiver, ["session.charging_finished"])
    info = {"idToken": {"idToken": "TAG1", "type": "ISO14443"}, "evse": {"id": 1, "connectorId": 1}}
    energy = [{"value": 100, "measurand": "Energy.Active.Import.Register"}]
    await csms.event201("WH201", "T-9", "Started", 0, samples=energy, **info)
    states = ("Charging", "Charging", "SuspendedEV", "SuspendedEV")
    for seq, state in enumerate(states, start=1):
        wh = [{"value": 100 + 1000 * min(seq, 2), "measurand": "Energy.Active.Import.Register"}]
        await csms.event201(
            "WH201",
            "T-9",
            "Updated",
            seq,
            ts=T0 + timedelta(minutes=seq),
            samples=wh,
            info={"chargingState": state},
        )
        await csms.settle()
        await asyncio.sleep(0.05)

    async def one() -> bool:
        return len(receiver.requests) >= 1

    await eventually(one)
    await asyncio.sleep(0.2)
    assert len(receiver.requests) == 1
    data = receiver.requests[0]["json"]["data"]
    assert data["rule"] == "charging_state" and data["energy_wh"] == "2000"


async def test_charging_finished_16_suspended_ev_and_energy_idle(
    deps: Deps, csms: Csms, receiver: Receiver, running: WebhookSender
) -> None:
    await subscribe(deps, receiver, ["session.charging_finished"])
    tx_a, pk_a = await start16(csms, "WH16A")
    await csms.v16("WH16A", "MeterValues", mv16(tx_a, 3000, T0 + timedelta(minutes=1)))
    await csms.settle()
    status = StationStatusChanged("WH16A", 1, 1, "SuspendedEV", "Charging", None, T0)
    await deps.bus.publish([status])

    tx_b, pk_b = await start16(csms, "WH16B")
    for minutes, wh in ((1, 2000), (2, 3000), (3, 3000), (5, 3000)):  # idle for 3 min ≥ 120 s
        await csms.v16("WH16B", "MeterValues", mv16(tx_b, wh, T0 + timedelta(minutes=minutes)))
        await csms.settle()

    async def two() -> bool:
        return len(receiver.requests) >= 2

    await eventually(two)
    await asyncio.sleep(0.2)
    rules = {r["json"]["data"]["session_id"]: r["json"]["data"]["rule"] for r in receiver.requests}
    assert rules == {pk_a: "suspended_ev", pk_b: "energy_idle"}
    assert len(receiver.requests) == 2


async def test_session_ended_waits_for_the_cdr_cost(
    deps: Deps, csms: Csms, receiver: Receiver, notifier: Notifier, running: WebhookSender
) -> None:
    deps.bus.subscribe(CdrIssued, notifier.on_cdr_issued)  # as bootstrap wires it
    sub = await subscribe(deps, receiver, ["session.ended"])
    tx_id, pk = await start16(csms)
    await csms.stop16("WH16", tx_id, meter=6000, reason="EVDisconnected")

    async def held() -> bool:
        rows = await deliveries(deps, sub)
        return len(rows) == 1 and rows[0].awaiting_cost

    await eventually(held)
    assert receiver.requests == []
    cdr = CdrIssued("CDR-1", pk, "WH16", "EUR", Decimal("4.20"), Decimal("5.00"), credit=False)
    await deps.bus.publish([cdr, CdrIssued("CDR-1C", pk, "WH16", "EUR", None, None, credit=True)])

    async def sent() -> bool:
        return len(receiver.requests) == 1

    await eventually(sent)
    data = receiver.requests[0]["json"]["data"]
    assert data["cost"] == {
        "cdr_id": "CDR-1",
        "currency": "EUR",
        "total_excl": "4.20",
        "total_incl": "5.00",
    }
    assert (data["stop_reason"], data["energy_wh"], data["limit_reason"]) == (
        "EVDisconnected",
        "5000",
        None,
    )
    await asyncio.sleep(0.5)
    assert len(receiver.requests) == 1


async def test_session_ended_without_cdr_after_grace(
    deps: Deps, csms: Csms, receiver: Receiver, running: WebhookSender
) -> None:
    await subscribe(deps, receiver, ["session.ended"])
    tx_id, _ = await start16(csms)
    await csms.stop16("WH16", tx_id)

    async def sent() -> bool:
        return len(receiver.requests) == 1

    await eventually(sent)
    assert receiver.requests[0]["json"]["data"]["cost"] is None


async def test_inactive_subscriptions_get_nothing(
    deps: Deps, csms: Csms, receiver: Receiver, running: WebhookSender
) -> None:
    sub = await subscribe(deps, receiver, ALL)
    async with deps.db.unit_of_work() as uow:
        await service.update_subscription(
            uow, sub, now=datetime.now(UTC), allow_http=True, changes={"active": False}
        )
        await uow.commit()
    await start16(csms)
    await asyncio.sleep(0.3)
    assert receiver.requests == [] and await deliveries(deps, sub) == []
