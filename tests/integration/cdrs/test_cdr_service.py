"""CDRs from stored transactions: segmentation from meter values and states, pricing, the
idempotent issue, immutability, the running cost, the sweep (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from tx_helpers import T0, Csms

from borne.cdrs import service
from borne.cdrs.events import CdrIssued, SessionCostUpdated
from borne.cdrs.live_cost import LiveCosts
from borne.cdrs.models import Cdr
from borne.cdrs.subscribers import CdrSubscribers
from borne.core.deps import Deps
from borne.stations.models import ConnectorStatusHistory, Station
from borne.tariffs.service import AssignmentTarget, assign_tariff, create_tariff

# T0 = 2024-05-01 08:00Z (10:00 in Paris, CEST)
TARIFF = {
    "country_code": "FR",
    "party_id": "BRN",
    "id": "FLAT-1",
    "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 20.0, "step_size": 1}]},
        {"price_components": [{"type": "PARKING_TIME", "price": 6.00, "step_size": 60}]},
    ],
}


async def station_with_tariff(deps: Deps, station_id: str, tariff: dict[str, Any] | None) -> None:
    now = datetime.now(UTC)
    async with deps.db.unit_of_work() as uow:
        uow.session.add(Station(station_id=station_id, created_at=now, updated_at=now))
        await uow.session.flush()
        if tariff is not None:
            view = await create_tariff(uow, data=tariff, version="2.2.1", now=now)
            await assign_tariff(
                uow,
                record_id=view.record_id,
                target=AssignmentTarget(station_id=station_id, evse_id=1),
                now=now,
            )
        await uow.commit()


async def wait_for(probe: Any, timeout: float = 10) -> Any:
    for _ in range(int(timeout / 0.02)):
        value = await probe()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError("timed out")


async def cdrs_of(deps: Deps, tx_pk: int) -> list[service.CdrView]:
    async with deps.db.unit_of_work() as uow:
        return (await service.list_cdrs(uow, transaction_pk=tx_pk)).items


def energy(wh: int) -> dict[str, Any]:
    return {"value": wh, "measurand": "Energy.Active.Import.Register"}


async def test_v16_suspended_status_is_parking_and_one_cdr_per_transaction(
    deps: Deps, csms: Csms, cdrs: CdrSubscribers
) -> None:
    await station_with_tariff(deps, "CP16", TARIFF)
    issued: list[CdrIssued] = []

    async def record(ev: CdrIssued) -> None:
        issued.append(ev)

    deps.bus.subscribe(CdrIssued, record)
    tx_id = (await csms.start16("CP16", meter=1000, ts=T0))["transactionId"]
    # 10 kWh by 08:30, then the EV suspends (1.6 StatusNotification history) until 09:00
    await csms.v16(
        "CP16",
        "MeterValues",
        {
            "connectorId": 1,
            "transactionId": tx_id,
            "meterValue": [
                {
                    "timestamp": (T0 + timedelta(minutes=30)).isoformat(),
                    "sampledValue": [{"value": "11000"}],
                }
            ],
        },
    )
    async with deps.db.unit_of_work() as uow:
        uow.session.add(
            ConnectorStatusHistory(
                station_id="CP16", evse_id=1, connector_id=1, ocpp_connector_id=1,
                status="SuspendedEV", timestamp=T0 + timedelta(minutes=30),
                received_at=datetime.now(UTC),
            )
        )  # fmt: skip
        await uow.commit()
    await csms.stop16("CP16", tx_id, meter=11000, ts=T0 + timedelta(hours=1))
    tx = await csms.tx("CP16", tx_id)
    [cdr] = await wait_for(lambda: cdrs_of(deps, tx.id))
    # 10 kWh x 0.30 = 3.00 (3.60 incl. 20 %); parked 30 min x 6.00/h = 3.00 (no VAT):
    # 6.00 excl. / 6.60 incl.
    assert (cdr.total_excl, cdr.total_incl) == (Decimal("6.00"), Decimal("6.60"))
    assert cdr.total_parking_h == Decimal("0.5") and cdr.total_energy_kwh == 10
    # idempotent: the event again, or a direct issue, returns the same CDR
    again = await cdrs.issue(tx.id)
    assert again.cdr_id == cdr.cdr_id
    async with deps.db.unit_of_work() as uow:
        assert await uow.session.scalar(select(func.count(Cdr.id))) == 1
        text = await service.cdr_document(uow, cdr.cdr_id, "2.2.1")
        assert '"PARKING_TIME"' in text
        # immutable: an UPDATE is refused by the model
        row = (await uow.session.scalars(select(Cdr))).one()
        row.explanation = "changed"
        with pytest.raises(RuntimeError, match="immutable"):
            await uow.session.flush()
    await wait_for(lambda: asyncio.sleep(0, result=bool(issued)))
    assert issued[0].cdr_id == cdr.cdr_id and issued[0].credit is False
    # the final cost is the running cost now, and in memory as final
    async with deps.db.unit_of_work() as uow:
        final = await service.running_cost(uow.session, tx.id)
    assert final is not None and final.total_incl == Decimal("6.60")
    assert cdrs.live.total_cost(tx.id, final=True) == Decimal("6.60")


async def test_running_cost_follows_meter_values_late_ones_included(
    deps: Deps, csms: Csms, cdrs: CdrSubscribers
) -> None:
    await station_with_tariff(deps, "CS201", TARIFF)
    updates: list[SessionCostUpdated] = []

    async def record(ev: SessionCostUpdated) -> None:
        updates.append(ev)

    deps.bus.subscribe(SessionCostUpdated, record)
    await csms.event201(
        "CS201", "T1", "Started", 0, ts=T0, samples=[energy(0)],
        evse={"id": 1, "connectorId": 1}, info={"chargingState": "Charging"},
    )  # fmt: skip
    tx = await csms.tx("CS201", "T1")
    await csms.event201(
        "CS201", "T1", "Updated", 2, ts=T0 + timedelta(minutes=20), samples=[energy(4000)]
    )

    async def cost_is(incl: str) -> bool:
        async with deps.db.unit_of_work() as uow:
            cost = await service.running_cost(uow.session, tx.id)
        return cost is not None and cost.total_incl == Decimal(incl)

    await wait_for(lambda: cost_is("1.44"))  # 4 kWh x 0.30 x 1.2
    assert cdrs.live.total_cost(tx.id) == Decimal("1.44")
    assert cdrs.live.total_cost(tx.id, final=True) is None
    # an offline-queued value with an earlier timestamp arrives late: slotted in by time
    await csms.event201(
        "CS201", "T1", "Updated", 1, ts=T0 + timedelta(minutes=10), samples=[energy(1000)],
        offline=True,
    )  # fmt: skip
    await csms.event201(
        "CS201", "T1", "Updated", 3, ts=T0 + timedelta(minutes=30), samples=[energy(5000)]
    )
    await wait_for(lambda: cost_is("1.80"))  # 5 kWh
    assert updates and updates[-1].energy_wh == Decimal(5000)
    assert updates[-1].currency == "EUR" and updates[-1].total_excl == Decimal("1.50")


async def test_no_tariff_zero_cost_and_the_sweep_catches_missed_cdrs(
    deps: Deps, csms: Csms
) -> None:
    await station_with_tariff(deps, "FREE", None)
    await csms.event201("FREE", "T9", "Started", 0, ts=T0, samples=[energy(0)])
    await csms.event201(
        "FREE", "T9", "Ended", 1, ts=T0 + timedelta(minutes=15), samples=[energy(2500)]
    )
    tx = await csms.tx("FREE", "T9")
    assert await cdrs_of(deps, tx.id) == []  # nobody subscribed: the event was missed

    late = CdrSubscribers(deps.db, deps.clock, deps.supervisor, LiveCosts(), sweep_grace_s=0)
    assert await late.sweep() == 1
    [cdr] = await cdrs_of(deps, tx.id)
    assert (cdr.total_excl, cdr.total_incl, cdr.total_energy_kwh) == (0, 0, Decimal("2.5"))
    async with deps.db.unit_of_work() as uow:
        text = await service.cdr_explanation(uow, cdr.cdr_id)
    assert "No tariff applied: no tariff is assigned to station FREE" in text
    assert await late.sweep() == 0


async def test_urgent_transactions_skip_the_coalescing_wait(deps: Deps, csms: Csms) -> None:
    """``urgent(pk)`` (a cost limit, wired by bootstrap): recomputed on every meter value."""
    await station_with_tariff(deps, "CSU", TARIFF)
    urgent_pks: set[int] = set()
    subs = CdrSubscribers(
        deps.db, deps.clock, deps.supervisor, LiveCosts(), sweep_interval_s=0,
        min_interval_s=30, urgent=urgent_pks.__contains__,
    )  # fmt: skip
    subs.subscribe(deps.bus)
    for tx_id, evse in (("U1", 1), ("U2", 2)):
        await csms.event201(
            "CSU", tx_id, "Started", 0, ts=T0, samples=[energy(0)],
            evse={"id": evse, "connectorId": 1}, info={"chargingState": "Charging"},
        )  # fmt: skip
    urgent_tx, other_tx = await csms.tx("CSU", "U1"), await csms.tx("CSU", "U2")
    urgent_pks.add(urgent_tx.id)
    await wait_for(lambda: asyncio.sleep(0, subs.cost_updates == 2))  # the first ones: at once
    for tx_id in ("U1", "U2"):
        await csms.event201(
            "CSU", tx_id, "Updated", 1, ts=T0 + timedelta(minutes=20), samples=[energy(4000)]
        )

    async def cost(pk: int) -> Decimal | None:
        async with deps.db.unit_of_work() as uow:
            c = await service.running_cost(uow.session, pk)
        return None if c is None else c.total_incl

    await wait_for(lambda: asyncio.sleep(0, subs.live.total_cost(urgent_tx.id) == Decimal("1.44")))
    assert await cost(urgent_tx.id) == Decimal("1.44")
    assert await cost(other_tx.id) == Decimal(0)  # still waiting its 30 s turn

    # the session ends while U2's recomputation waits: its CDR is issued at once all the same
    await csms.event201("CSU", "U2", "Ended", 2, ts=T0 + timedelta(minutes=30), samples=[])
    [cdr] = await wait_for(lambda: cdrs_of(deps, other_tx.id), timeout=5)
    assert cdr.total_incl == Decimal(0)  # EVSE 2 has no tariff (it is assigned to EVSE 1)


async def test_a_token_group_tariff_prices_the_cdr_of_that_group(
    deps: Deps, csms: Csms, cdrs: CdrSubscribers
) -> None:
    """Two tariffs on one EVSE: the general one, and one for the fleet group; a fleet driver's
    session is billed with the fleet tariff, another driver's with the general one."""
    await station_with_tariff(deps, "CPG", TARIFF)  # general: 0.30/kWh + 20 % VAT
    fleet = {
        **TARIFF,
        "id": "FLEET-1",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.10, "step_size": 1}]}],
    }
    now = datetime.now(UTC)
    async with deps.db.unit_of_work() as uow:
        view = await create_tariff(uow, data=fleet, version="2.2.1", now=now, token_group="FLEET")
        await assign_tariff(
            uow,
            record_id=view.record_id,
            target=AssignmentTarget(station_id="CPG", evse_id=1),
            now=now,
        )
        await uow.commit()
    await csms.token("DRIVER-F", group="FLEET")
    totals = []
    for tag in ("DRIVER-F", "TAG1"):
        tx_id = (await csms.start16("CPG", meter=0, ts=T0, tag=tag))["transactionId"]
        await csms.stop16("CPG", tx_id, meter=10_000, ts=T0 + timedelta(minutes=30))
        tx = await csms.tx("CPG", tx_id)
        [cdr] = await wait_for(lambda tx=tx: cdrs_of(deps, tx.id))
        totals.append(cdr.total_excl)
    # 10 kWh x 0.10 for the fleet driver, 10 kWh x 0.30 for the other one
    assert totals == [Decimal("1.00"), Decimal("3.00")]


async def test_a_partner_tariff_prices_the_cdr_of_that_partners_driver(
    deps: Deps, csms: Csms
) -> None:
    """A tariff scoped to a roaming partner prices the sessions of that partner's drivers (the
    composition tells the CDR domain whose driver a token is: ``CdrConfig.tariff_audience``);
    Borne's own drivers keep the general tariff."""
    await station_with_tariff(deps, "CPP", TARIFF)  # general: 0.30/kWh + 20 % VAT
    roaming = {
        **TARIFF,
        "id": "ROAM-1",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.45, "step_size": 1}]}],
    }
    now = datetime.now(UTC)
    async with deps.db.unit_of_work() as uow:
        view = await create_tariff(uow, data=roaming, version="2.2.1", now=now, partner="DE*EMP")
        await assign_tariff(
            uow,
            record_id=view.record_id,
            target=AssignmentTarget(station_id="CPP", evse_id=1),
            now=now,
        )
        await uow.commit()

    async def audience(_session: Any, tx: Any) -> str | None:
        return "DE*EMP" if tx.id_token == "ROAMER-1" else None

    subs = CdrSubscribers(
        deps.db,
        deps.clock,
        deps.supervisor,
        LiveCosts(),
        config=service.CdrConfig(tariff_audience=audience),
        sweep_interval_s=0,
        min_interval_s=0,
    )
    subs.subscribe(deps.bus)
    totals = []
    # ROAMER-1 is unknown to Borne's own tokens (a partner's driver); TAG1 is Borne's own
    for tag in ("ROAMER-1", "TAG1"):
        tx_id = (await csms.start16("CPP", meter=0, ts=T0, tag=tag))["transactionId"]
        await csms.stop16("CPP", tx_id, meter=10_000, ts=T0 + timedelta(minutes=30))
        tx = await csms.tx("CPP", tx_id)
        [cdr] = await wait_for(lambda tx=tx: cdrs_of(deps, tx.id))
        totals.append(cdr.total_excl)
    # 10 kWh x 0.45 for the partner's driver, 10 kWh x 0.30 for Borne's own
    assert totals == [Decimal("4.50"), Decimal("3.00")]
