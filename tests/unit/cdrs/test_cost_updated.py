"""The 2.0.1 CostUpdated sender and the in-memory running costs."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

from borne.cdrs.live_cost import LiveCosts
from borne.cdrs.ocpp_v201 import CostUpdatedSender
from borne.cdrs.service import RunningCost
from borne.core.errors import StationCallError, StationNotConnected
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.versions import OcppVersion

NOW = datetime(2025, 1, 1, tzinfo=UTC)


class FakeOutbound:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.versions = {"A": OcppVersion.V201, "B": OcppVersion.V201, "OLD": OcppVersion.V16}
        self.refuse: dict[str, Exception] = {}

    def version_of(self, station_id: str) -> OcppVersion | None:
        return self.versions.get(station_id)

    async def call(self, station_id: str, request: Any, *, timeout: float | None = None) -> Any:
        if station_id in self.refuse:
            raise self.refuse[station_id]
        self.calls.append((station_id, request.to_payload()))
        return None


def cost(incl: str) -> RunningCost:
    return RunningCost("EUR", Decimal(incl), Decimal(incl), Decimal(1000), NOW)


async def test_sends_changed_costs_to_201_stations_only() -> None:
    live, out = LiveCosts(), FakeOutbound()
    sender = CostUpdatedSender(cast(OcppOutbound, out), live, interval_s=60)
    live.put(1, "A", "tx-a", cost("1.20"))
    live.put(2, "OLD", "7", cost("2.00"))  # 1.6: no CostUpdated
    live.put(3, "GONE", "tx-g", cost("3.00"))  # not connected
    assert await sender.send_once() == 1
    assert out.calls == [("A", {"totalCost": 1.2, "transactionId": "tx-a"})]
    assert await sender.send_once() == 0  # unchanged: not sent again
    live.put(1, "A", None, cost("1.50"))  # the transaction id is kept
    assert await sender.send_once() == 1
    assert out.calls[-1] == ("A", {"totalCost": 1.5, "transactionId": "tx-a"})
    live.ended(1)
    live.put(4, "A", "tx-a2", cost("0.10"), final=True)
    assert await sender.send_once() == 0  # ended and final sessions are not updated


async def test_a_station_without_cost_support_is_not_asked_again() -> None:
    live, out = LiveCosts(), FakeOutbound()
    sender = CostUpdatedSender(cast(OcppOutbound, out), live, interval_s=60)
    out.refuse["B"] = StationCallError("NotImplemented", "no")
    live.put(1, "B", "tx-b", cost("1.00"))
    assert await sender.send_once() == 0
    del out.refuse["B"]
    live.put(1, "B", "tx-b", cost("2.00"))
    assert await sender.send_once() == 0 and out.calls == []
    # a station that is merely offline is retried at the next tick
    out.refuse["A"] = StationNotConnected("offline")
    live.put(2, "A", "tx-a", cost("1.00"))
    assert await sender.send_once() == 0
    del out.refuse["A"]
    assert await sender.send_once() == 1


def test_live_costs_final_and_bounded() -> None:
    live = LiveCosts(max_entries=2)
    live.put(1, "A", "t1", cost("1.00"))
    assert live.total_cost(1) == Decimal("1.00")
    assert live.total_cost(1, final=True) is None
    live.put(1, "A", "t1", cost("1.10"), final=True)
    assert live.total_cost(1, final=True) == Decimal("1.10") and live.active() == []
    live.put(2, "A", "t2", cost("1.00"))
    live.put(3, "A", "t3", cost("1.00"))
    assert live.get(1) is None and len(live) == 2


async def test_final_cost_waits_for_the_cdr_and_gives_up_in_time() -> None:
    import asyncio

    live = LiveCosts()
    live.put(1, "A", "t1", cost("1.00"))
    # the running cost is not a final cost: nobody issues the CDR, so the wait ends empty
    assert await live.final_cost(1, 0.05) is None
    assert live._final_waiters == {}  # the abandoned wait leaves nothing behind

    async def issue_later() -> None:
        await asyncio.sleep(0.02)
        live.put(1, "A", "t1", cost("1.20"), final=True)
        live.ended(1)

    waiting = asyncio.gather(live.final_cost(1, 5.0), live.final_cost(1, 5.0))
    await issue_later()
    assert await waiting == [Decimal("1.20"), Decimal("1.20")]
    assert await live.final_cost(1, 0) == Decimal("1.20")  # known: no wait at all

    # a CDR without a cost (no tariff) answers the waiters at once, with None
    async def issue_without_cost() -> None:
        await asyncio.sleep(0.02)
        live.ended(2)

    waiting = asyncio.gather(live.final_cost(2, 5.0))
    await issue_without_cost()
    assert await asyncio.wait_for(waiting, 1.0) == [None]
