"""Limits are enforced by one stop request per session, in the station's OCPP version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from limits_helpers import FakeStation, eventually
from tx_helpers import T0, Csms, iso

from borne.cdrs.events import SessionCostUpdated
from borne.core.deps import Deps
from borne.core.errors import Conflict, InvalidInput, StationCallTimeout
from borne.limits import service
from borne.limits.service import Limits, LimitsView
from borne.limits.subscribers import LimitsEnforcer


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


def energy201(wh: int) -> list[dict[str, Any]]:
    return [{"value": wh, "measurand": "Energy.Active.Import.Register"}]


async def set_limits(deps: Deps, pk: int, limits: Limits) -> LimitsView:
    async with deps.db.unit_of_work() as uow:
        view = await service.set_session_limits(uow, pk, limits, now=datetime.now(UTC))
        await uow.commit()
    return view


async def view_of(deps: Deps, pk: int) -> LimitsView:
    async with deps.db.unit_of_work() as uow:
        return await service.get_session_limits(uow, pk)


async def start16(
    csms: Csms, station: str, *, meter: int = 1000, ts: datetime = T0
) -> tuple[int, int]:
    out = await csms.start16(station, meter=meter, ts=ts)
    tx_id = out["transactionId"]
    return tx_id, (await csms.tx(station, tx_id)).id


async def test_energy_limit_stops_a_16_session_once(
    deps: Deps, csms: Csms, enforcer: LimitsEnforcer, station16: FakeStation
) -> None:
    tx_id, pk = await start16(csms, "LIM16")
    await set_limits(deps, pk, Limits(max_energy_wh=Decimal(5000)))
    for i, wh in enumerate((2000, 4000, 5500)):  # 1000, 3000, 4500 Wh delivered: below
        await csms.v16("LIM16", "MeterValues", mv16(tx_id, wh, T0 + timedelta(minutes=i + 1)))
    await csms.settle()
    await eventually(lambda: _no_stop(station16))
    await csms.v16("LIM16", "MeterValues", mv16(tx_id, 6500, T0 + timedelta(minutes=4)))
    await station16_stopped(station16)
    assert station16.stops == [{"transactionId": tx_id}]

    view = await view_of(deps, pk)
    e = view.enforcement
    assert e is not None
    assert (e.kind, e.reason) == ("energy", "limit:energy")
    assert (e.limit_value, e.value_at_trigger) == (Decimal(5000), Decimal(5500))
    assert e.stop_requested_at is not None and e.last_status == "Accepted" and e.attempts == 1

    # Later readings above the limit do not send another stop (one request per session).
    await csms.v16("LIM16", "MeterValues", mv16(tx_id, 7000, T0 + timedelta(minutes=5)))
    await csms.settle()
    await enforcer.sweep()
    assert len(station16.stops) == 1

    await csms.stop16("LIM16", tx_id, meter=7000, reason="Remote")
    await eventually(lambda: _closed(deps, pk))
    tx = await csms.tx("LIM16", tx_id)
    assert tx.stop_reason == "Remote"  # the station's reason; Borne's is on the enforcement


async def _no_stop(station: FakeStation) -> bool:
    return not station.stops


async def station16_stopped(station: FakeStation) -> None:
    async def check() -> bool:
        return bool(station.stops)

    await eventually(check)


async def _closed(deps: Deps, pk: int) -> bool:
    e = (await view_of(deps, pk)).enforcement
    return e is not None and e.closed


async def test_token_defaults_apply_to_201_sessions(
    deps: Deps, csms: Csms, enforcer: LimitsEnforcer, station201: FakeStation
) -> None:
    async with deps.db.unit_of_work() as uow:
        await service.set_token_limits(
            uow, "tag2", Limits(max_energy_wh=Decimal(3000)), now=datetime.now(UTC)
        )
        await uow.commit()
    info = {"idToken": {"idToken": "TAG2", "type": "ISO14443"}, "evse": {"id": 1, "connectorId": 1}}
    await csms.event201("LIM201", "T-1", "Started", 0, samples=energy201(10_000), **info)
    pk = (await csms.tx("LIM201", "T-1")).id

    async def has_limits() -> bool:
        return (await view_of(deps, pk)).limits is not None

    await eventually(has_limits)
    limits = (await view_of(deps, pk)).limits
    assert limits is not None and limits.source == "token"
    assert limits.limits.max_energy_wh == Decimal(3000)

    await csms.event201(
        "LIM201", "T-1", "Updated", 1, ts=T0 + timedelta(minutes=1), samples=energy201(12_000)
    )
    await csms.settle()
    assert not station201.stops
    await csms.event201(
        "LIM201", "T-1", "Updated", 2, ts=T0 + timedelta(minutes=2), samples=energy201(13_200)
    )
    await station16_stopped(station201)
    assert station201.calls[0] == ("RequestStopTransaction", {"transactionId": "T-1"})
    e = (await view_of(deps, pk)).enforcement
    assert e is not None and e.value_at_trigger == Decimal(3200)


async def test_duration_limit_is_checked_by_the_loop(
    deps: Deps, csms: Csms, enforcer: LimitsEnforcer, station16: FakeStation
) -> None:
    now = datetime.now(UTC)
    tx_id, pk = await start16(csms, "LIM16", ts=now - timedelta(seconds=30))
    await set_limits(deps, pk, Limits(max_duration_s=3600))
    await enforcer.sweep()
    assert not station16.stops
    await set_limits(deps, pk, Limits(max_duration_s=20))
    await enforcer.sweep()
    assert station16.stops == [{"transactionId": tx_id}]
    e = (await view_of(deps, pk)).enforcement
    assert e is not None and e.reason == "limit:duration"
    assert Decimal(30) <= e.value_at_trigger < Decimal(60)


async def test_refused_and_unanswered_stops_are_retried(
    deps: Deps, csms: Csms, enforcer: LimitsEnforcer
) -> None:
    tx_id, pk = await start16(csms, "LIM16")
    await set_limits(deps, pk, Limits(max_energy_wh=Decimal(100)))
    # Not connected when the limit is reached.
    await csms.v16("LIM16", "MeterValues", mv16(tx_id, 2000, T0 + timedelta(minutes=1)))

    async def attempted() -> bool:
        e = (await view_of(deps, pk)).enforcement
        return e is not None and e.attempts >= 1

    await eventually(attempted)
    e = (await view_of(deps, pk)).enforcement
    assert e is not None and e.last_error is not None
    assert e.last_error.startswith("station_not_connected") and e.stop_requested_at is None

    station = FakeStation("LIM16", "ocpp1.6")
    station.answers = ["Rejected", StationCallTimeout("no answer")]
    deps.registry.register(station)
    for _ in range(100):
        await enforcer.sweep()
        if station.stopped.is_set():
            break
        await _sleep(0.03)
    assert len(station.stops) == 3  # Rejected, timed out, Accepted
    e = (await view_of(deps, pk)).enforcement
    assert e is not None and e.attempts == 4 and e.last_status == "Accepted"
    assert e.stop_requested_at is not None


async def _sleep(s: float) -> None:
    import asyncio

    await asyncio.sleep(s)


async def test_cost_limit_on_running_cost(
    deps: Deps, csms: Csms, enforcer: LimitsEnforcer, station16: FakeStation
) -> None:
    deps.bus.subscribe(SessionCostUpdated, enforcer.on_cost_updated)
    tx_id, pk = await start16(csms, "LIM16")
    assert not enforcer.has_cost_limit(pk)
    await set_limits(deps, pk, Limits(max_cost=Decimal("10.00"), currency="EUR"))

    async def cost_limited() -> bool:  # known at once from the change, before any meter value
        return enforcer.has_cost_limit(pk)

    await eventually(cost_limited)

    def cost(incl: str | None, excl: str, currency: str = "EUR") -> SessionCostUpdated:
        return SessionCostUpdated(
            transaction_pk=pk,
            station_id="LIM16",
            currency=currency,
            total_excl=Decimal(excl),
            total_incl=None if incl is None else Decimal(incl),
            energy_wh=None,
            at=datetime.now(UTC),
        )

    await deps.bus.publish([cost("9.99", "8.40"), cost("12.00", "10.08", currency="CHF")])
    await csms.settle()
    await _sleep(0.1)
    assert not station16.stops  # below the limit; another currency is not compared
    await deps.bus.publish([cost("10.20", "8.57")])
    await station16_stopped(station16)
    e = (await view_of(deps, pk)).enforcement
    assert e is not None and e.reason == "limit:cost"
    assert (e.value_at_trigger, e.currency) == (Decimal("10.20"), "EUR")
    await csms.v16("LIM16", "StopTransaction", {
        "transactionId": tx_id, "meterStop": 20_000, "timestamp": iso(T0 + timedelta(hours=1)),
    })  # fmt: skip
    await csms.settle()
    assert not enforcer.has_cost_limit(pk)  # ended: no longer checked


async def test_limits_are_validated(deps: Deps, csms: Csms) -> None:
    tx_id, pk = await start16(csms, "LIM16")
    with pytest.raises(InvalidInput):
        await set_limits(deps, pk, Limits(max_cost=Decimal(5)))
    with pytest.raises(InvalidInput):
        await set_limits(deps, pk, Limits(max_energy_wh=Decimal(0)))
    await csms.stop16("LIM16", tx_id)
    with pytest.raises(Conflict):
        await set_limits(deps, pk, Limits(max_energy_wh=Decimal(10)))
