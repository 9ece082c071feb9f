"""The reconciliation sweep: session.started / session.ended lost to a crash are rebuilt once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from notif_helpers import Receiver, deliveries, eventually, subscribe
from tx_helpers import Csms

from borne.cdrs.models import Cdr
from borne.core.deps import Deps
from borne.notifications import service
from borne.notifications.sender import WebhookSender
from borne.notifications.subscribers import Notifier
from borne.transactions.models import ENDED, Transaction

BOTH = ["session.started", "session.ended"]
LATER = timedelta(minutes=2)  # the sweep runs after the settle time of the live path


async def crashed_session(deps: Deps, station: str, *, at: datetime) -> int:
    """A started and ended transaction written without its events ever being published (the
    process died after the domain commit)."""
    async with deps.db.unit_of_work() as uow:
        tx = Transaction(
            station_id=station,
            transaction_id=f"{station}-1",
            ocpp_version="1.6",
            connector_id=1,
            id_token="TAG1",
            state=ENDED,
            started_at=at,
            stopped_at=at + timedelta(seconds=30),
            meter_start_wh=Decimal(1000),
            meter_stop_wh=Decimal(4000),
            stop_reason="EVDisconnected",
            flags=[],
            created_at=at,
            updated_at=at + timedelta(seconds=30),
        )
        uow.session.add(tx)
        await uow.session.flush()
        pk = tx.id
        await uow.commit()
    return pk


def by_type(rows: list[service.DeliveryView]) -> dict[str, list[service.DeliveryView]]:
    out: dict[str, list[service.DeliveryView]] = {}
    for r in rows:
        out.setdefault(r.event_type, []).append(r)
    return out


async def test_sweep_rebuilds_lost_session_events_once(
    deps: Deps, receiver: Receiver, sender: WebhookSender
) -> None:
    sub = await subscribe(deps, receiver, BOTH)
    now = datetime.now(UTC)
    before = await crashed_session(deps, "OLD", at=now - timedelta(hours=1))  # before the sub
    pk = await crashed_session(deps, "RC1", at=now)

    assert await sender.reconcile(now=now + LATER) == 2
    rows = by_type(await deliveries(deps, sub))
    assert {k: len(v) for k, v in rows.items()} == {"session.started": 1, "session.ended": 1}
    started, ended = rows["session.started"][0], rows["session.ended"][0]
    assert started.event_id == service.event_id("session.started", pk)
    assert ended.event_id == service.event_id("session.ended", pk)
    assert {started.transaction_pk, ended.transaction_pk} == {pk}  # not ``before``
    assert before != pk
    s_data = json.loads(started.body)["data"]
    assert (s_data["session_id"], s_data["id_token"], s_data["meter_start_wh"]) == (
        pk,
        "TAG1",
        "1000",
    )
    e_data = json.loads(ended.body)["data"]
    assert (e_data["stop_reason"], e_data["energy_wh"], e_data["cost"]) == (
        "EVDisconnected",
        "3000",
        None,
    )
    assert ended.awaiting_cost  # no CDR: the grace rule, as on the live path

    # Again: nothing new.
    assert await sender.reconcile(now=now + LATER) == 0
    rows = by_type(await deliveries(deps, sub))
    assert {k: len(v) for k, v in rows.items()} == {"session.started": 1, "session.ended": 1}


async def test_sweep_takes_the_cost_from_the_cdr(
    deps: Deps, receiver: Receiver, sender: WebhookSender
) -> None:
    sub = await subscribe(deps, receiver, ["session.ended"])
    now = datetime.now(UTC)
    pk = await crashed_session(deps, "RC2", at=now)
    async with deps.db.unit_of_work() as uow:
        for cdr_id, credit, ref, total in (
            ("CDR-A", False, None, Decimal("9.00")),
            ("CDR-AC", True, "CDR-A", Decimal("-9.00")),  # A was credited...
            ("CDR-B", False, None, Decimal("4.20")),  # ...and corrected by B
        ):
            uow.session.add(
                Cdr(
                    cdr_id=cdr_id,
                    issue_key=cdr_id,
                    kind="original",
                    transaction_pk=pk,
                    station_id="RC2",
                    transaction_id="RC2-1",
                    credit=credit,
                    credit_reference_id=ref,
                    currency="EUR",
                    start_date_time=now,
                    end_date_time=now,
                    total_excl=total,
                    total_incl=total,
                    total_energy_kwh=Decimal(3),
                    total_time_h=Decimal(0),
                    total_parking_h=Decimal(0),
                    ocpi_230="{}",
                    explanation="",
                    issued_at=now,
                )
            )
            await uow.session.flush()
        await uow.commit()

    assert await sender.reconcile(now=now + LATER) == 1
    (row,) = await deliveries(deps, sub)
    assert not row.awaiting_cost
    assert json.loads(row.body)["data"]["cost"] == {
        "cdr_id": "CDR-B",
        "currency": "EUR",
        "total_excl": "4.20",
        "total_incl": "4.20",
    }


async def test_live_path_then_sweep_makes_no_duplicate(
    deps: Deps, csms: Csms, receiver: Receiver, sender: WebhookSender, notifier: Notifier
) -> None:
    sub = await subscribe(deps, receiver, BOTH)
    now = datetime.now(UTC)
    tx_id = (await csms.start16("LIVE", ts=now))["transactionId"]
    await csms.stop16("LIVE", tx_id, ts=now + timedelta(seconds=30))
    pk = (await csms.tx("LIVE", tx_id)).id

    async def both() -> bool:
        return len(await deliveries(deps, sub)) == 2

    await eventually(both)
    live = {d.event_id: d.body for d in await deliveries(deps, sub)}

    assert await sender.reconcile(now=now + LATER) == 0
    rows = await deliveries(deps, sub)
    assert sorted(d.event_type for d in rows) == sorted(BOTH)
    assert {d.event_id: d.body for d in rows} == live  # the live rows, untouched
    assert {d.transaction_pk for d in rows} == {pk}
