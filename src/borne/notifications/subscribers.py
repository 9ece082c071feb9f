"""Reactions to domain events: each due notification becomes outbox rows in its own unit of work.

Domain events are published after their commit, so the outbox row cannot share the commit of
the change it reports: a subscriber writes it in a unit of work of its own. The bus retries a
failing subscriber, and the outbox's (subscription, event id) uniqueness makes a retry or a
duplicate event insert nothing new. A crash between the domain commit and the subscriber's
commit is covered for ``session.started`` and ``session.ended`` by the sender's reconciliation
sweep (``reconcile``), which rebuilds the same deliveries, with the same event ids, from the
transactions table. From the outbox on, delivery is at-least-once (``sender``). The rules of
each event are in ``rules``.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any, Protocol

from borne.core.bus import EventBus
from borne.core.deps import Deps
from borne.core.errors import NotFound
from borne.limits import service as limits
from borne.notifications import service
from borne.notifications.config import NotificationsConfig
from borne.notifications.events import SubscriptionsChanged
from borne.notifications.rules import SessionWatch, soc_crossed
from borne.notifications.service import (
    CHARGING_FINISHED,
    SESSION_ENDED,
    SESSION_STARTED,
    SOC_THRESHOLD,
    Outgoing,
    Target,
    Unit,
)
from borne.ocpp.versions import OcppVersion
from borne.stations.events import StationStatusChanged
from borne.transactions import service as transactions
from borne.transactions.events import MeterValuesRecorded, TransactionEnded, TransactionStarted
from borne.transactions.service import TransactionView

log = logging.getLogger(__name__)

_WATCH_MAX = 100_000
SOC = "SoC"


class CdrIssuedEvent(Protocol):
    """What ``session.ended`` reads of the CDR domain's ``CdrIssued``."""

    @property
    def cdr_id(self) -> str: ...

    @property
    def transaction_pk(self) -> int: ...

    @property
    def currency(self) -> str: ...

    @property
    def total_excl(self) -> Decimal | None: ...

    @property
    def total_incl(self) -> Decimal | None: ...

    @property
    def credit(self) -> bool: ...


def session_data(tx: TransactionView) -> dict[str, Any]:
    """What every session event carries about its session."""
    return {
        "session_id": tx.id,
        "station_id": tx.station_id,
        "transaction_id": tx.transaction_id,
        "ocpp_version": tx.ocpp_version,
        "evse_id": tx.evse_id,
        "connector_id": tx.connector_id,
        "id_token": tx.id_token,
        "started_at": tx.started_at,
    }


def started_data(tx: TransactionView) -> dict[str, Any]:
    """``data`` of ``session.started``, read from the stored transaction (the sweep's path)."""
    return {**session_data(tx), "meter_start_wh": tx.meter_start_wh}


async def ended_data(uow: Unit, pk: int, cost: dict[str, Any] | None) -> dict[str, Any] | None:
    """``data`` of ``session.ended``; None when the transaction is unknown."""
    try:
        tx = await transactions.get_transaction(uow, pk)
        view = await limits.get_session_limits(uow, pk)
    except NotFound:
        return None
    enforcement = view.enforcement
    return {
        **session_data(tx),
        "stopped_at": tx.stopped_at,
        "stop_reason": tx.stop_reason,
        "limit_reason": None if enforcement is None else enforcement.reason,
        "energy_wh": tx.energy_wh,
        "cost": cost,
    }


class Notifier:
    def __init__(
        self,
        deps: Deps,
        config: NotificationsConfig,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self._deps = deps
        self._config = config
        self._wake = wake
        self._targets: tuple[float, list[Target]] | None = None
        self._watch: OrderedDict[int, SessionWatch] = OrderedDict()

    def subscribe(self, bus: EventBus) -> None:
        bus.subscribe(TransactionStarted, self.on_started)
        bus.subscribe(MeterValuesRecorded, self.on_meter_values, when=self._may_notify)
        bus.subscribe(StationStatusChanged, self.on_status, when=self._may_notify)
        bus.subscribe(TransactionEnded, self.on_ended)
        bus.subscribe(SubscriptionsChanged, self.on_subscriptions_changed)

    # --- reactions ------------------------------------------------------------------------

    async def on_subscriptions_changed(self, ev: SubscriptionsChanged) -> None:
        self._targets = None

    async def on_started(self, ev: TransactionStarted) -> None:
        watch = self._watch_of(ev.transaction_pk)
        watch.soc_history_checked = True  # a new session has no earlier SoC reading
        watch.ocpp_version = ev.ocpp_version
        targets = await self._wanting(SESSION_STARTED)
        if not targets:
            return
        data = {
            "session_id": ev.transaction_pk,
            "station_id": ev.station_id,
            "transaction_id": ev.transaction_id,
            "ocpp_version": ev.ocpp_version,
            "evse_id": ev.evse_id,
            "connector_id": ev.connector_id,
            "id_token": ev.id_token,
            "started_at": ev.started_at,
            "meter_start_wh": ev.meter_start_wh,
        }
        if ev.id_token is None:  # 2.0.1: the event is built before the token is recorded
            tx = await self._transaction(ev.transaction_pk)
            data["id_token"] = None if tx is None else tx.id_token
        await self._emit(targets, SESSION_STARTED, ev.transaction_pk, data)

    async def on_meter_values(self, ev: MeterValuesRecorded) -> None:
        pk = ev.transaction_pk
        if pk is None:
            return
        soc_targets = await self._wanting(SOC_THRESHOLD) if ev.last_soc is not None else []
        finish_targets = await self._wanting(CHARGING_FINISHED)
        if not soc_targets and not finish_targets:
            return
        watch = self._watch_of(pk)
        if soc_targets and ev.last_soc is not None:
            await self._check_soc(pk, watch, ev, soc_targets)
        if finish_targets and not watch.finished:
            finished = None
            if ev.last_energy_wh is not None and ev.last_timestamp is not None:
                idle = watch.energy(
                    ev.last_energy_wh, ev.last_timestamp, idle_after_s=self._config.idle_after_s
                )
                finished = "energy_idle" if idle else None
            tx = None
            if finished is None and watch.ocpp_version != OcppVersion.V16:
                tx = await self._transaction(pk)
                if tx is None or tx.state != "active":
                    return
                watch.ocpp_version = tx.ocpp_version
                if tx.ocpp_version == OcppVersion.V201 and watch.charging_state(tx.charging_state):
                    finished = "charging_state"
            if finished is not None:
                await self._finished(pk, watch, finish_targets, finished, tx)

    async def on_status(self, ev: StationStatusChanged) -> None:
        """OCPP 1.6 ``SuspendedEV`` on a connector with an active session."""
        if ev.status != "SuspendedEV":
            return
        targets = await self._wanting(CHARGING_FINISHED)
        if not targets:
            return
        async with self._deps.db.unit_of_work() as uow:
            page = await transactions.list_transactions(
                uow, station_id=ev.station_id, active_only=True, limit=50
            )
            tx = next(
                (
                    t
                    for t in page.items
                    if t.connector_id == ev.connector_id and t.ocpp_version == OcppVersion.V16
                ),
                None,
            )
            if tx is None:
                return
            watch = self._watch_of(tx.id)
            if watch.finished:
                return
            if not watch.flowing:
                energy = await transactions.energy_delivered(uow, tx.id)
                if energy is None or energy <= 0:
                    return
        await self._finished(tx.id, watch, targets, "suspended_ev", tx)

    async def on_ended(self, ev: TransactionEnded) -> None:
        self._watch.pop(ev.transaction_pk, None)
        targets = await self._wanting(SESSION_ENDED)
        if not targets:
            return
        now = self._deps.clock.now()
        async with self._deps.db.unit_of_work() as uow:
            data = await ended_data(uow, ev.transaction_pk, None)
            if data is None:
                return
            eid = service.event_id(SESSION_ENDED, ev.transaction_pk)
            body = service.encode_body(eid, SESSION_ENDED, now, data)
            not_before = now + timedelta(seconds=self._config.ended_grace_s)
            items = [
                Outgoing(t.id, eid, SESSION_ENDED, ev.transaction_pk, body, True, not_before)
                for t in targets
            ]
            await service.enqueue(uow, items, now=now)
            await uow.commit()

    async def on_cdr_issued(self, ev: CdrIssuedEvent) -> None:
        """The session's CDR: ``session.ended`` goes now, with its cost."""
        if ev.credit:
            return
        targets = await self._wanting(SESSION_ENDED)
        if not targets:
            return
        now = self._deps.clock.now()
        cost = {
            "cdr_id": ev.cdr_id,
            "currency": ev.currency,
            "total_excl": ev.total_excl,
            "total_incl": ev.total_incl,
        }
        async with self._deps.db.unit_of_work() as uow:
            data = await ended_data(uow, ev.transaction_pk, cost)
            if data is None:
                return
            eid = service.event_id(SESSION_ENDED, ev.transaction_pk)
            body = service.encode_body(eid, SESSION_ENDED, now, data)
            await service.complete_held(uow, event_id=eid, body=body, now=now)
            items = [Outgoing(t.id, eid, SESSION_ENDED, ev.transaction_pk, body) for t in targets]
            await service.enqueue(uow, items, now=now)
            await uow.commit()
        self._poke()

    # --- helpers ----------------------------------------------------------------------------

    async def _check_soc(
        self, pk: int, watch: SessionWatch, ev: MeterValuesRecorded, targets: Sequence[Target]
    ) -> None:
        soc = ev.last_soc
        assert soc is not None
        previous = watch.soc
        if previous is None and not watch.soc_history_checked:
            previous = await self._previous_soc(pk, ev)
        watch.soc, watch.soc_history_checked = soc, True
        crossed = [t for t in targets if soc_crossed(previous, soc, t.soc_threshold)]
        if not crossed:
            return
        tx = await self._transaction(pk)
        if tx is None:
            return
        now = self._deps.clock.now()
        items = []
        for t in crossed:
            eid = service.event_id(SOC_THRESHOLD, pk, str(t.soc_threshold))
            data = {
                **session_data(tx),
                "threshold": t.soc_threshold,
                "soc": soc,
                "previous_soc": previous,
                "at": ev.last_timestamp,
            }
            items.append(
                Outgoing(
                    t.id, eid, SOC_THRESHOLD, pk, service.encode_body(eid, SOC_THRESHOLD, now, data)
                )
            )
        await self._write(items)

    async def _previous_soc(self, pk: int, ev: MeterValuesRecorded) -> Decimal | None:
        """After a restart: the session's SoC reading before this message's latest one."""
        async with self._deps.db.unit_of_work() as uow:
            try:
                head = await transactions.list_meter_values(uow, pk, measurand=SOC, limit=1)
                tail = await transactions.list_meter_values(
                    uow, pk, measurand=SOC, limit=3, offset=max(head.total - 3, 0)
                )
            except NotFound:
                return None
        earlier = [
            v.value
            for v in tail.items
            if v.value is not None
            and (ev.last_timestamp is None or v.timestamp < ev.last_timestamp)
        ]
        return earlier[-1] if earlier else None

    async def _finished(
        self,
        pk: int,
        watch: SessionWatch,
        targets: Sequence[Target],
        rule: str,
        tx: TransactionView | None,
    ) -> None:
        watch.finished = True
        tx = tx or await self._transaction(pk)
        if tx is None or tx.state != "active":
            return
        now = self._deps.clock.now()
        async with self._deps.db.unit_of_work() as uow:
            energy = await transactions.energy_delivered(uow, pk)
        eid = service.event_id(CHARGING_FINISHED, pk)
        data = {**session_data(tx), "rule": rule, "at": now, "energy_wh": energy}
        body = service.encode_body(eid, CHARGING_FINISHED, now, data)
        await self._write([Outgoing(t.id, eid, CHARGING_FINISHED, pk, body) for t in targets])

    async def _emit(
        self, targets: Sequence[Target], event_type: str, pk: int, data: dict[str, Any]
    ) -> None:
        eid = service.event_id(event_type, pk)
        body = service.encode_body(eid, event_type, self._deps.clock.now(), data)
        await self._write([Outgoing(t.id, eid, event_type, pk, body) for t in targets])

    async def _write(self, items: Sequence[Outgoing]) -> None:
        async with self._deps.db.unit_of_work() as uow:
            new = await service.enqueue(uow, items, now=self._deps.clock.now())
            await uow.commit()
        if new:
            self._poke()

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake()

    async def _transaction(self, pk: int) -> TransactionView | None:
        async with self._deps.db.unit_of_work() as uow:
            try:
                return await transactions.get_transaction(uow, pk)
            except NotFound:
                return None

    def _may_notify(self, _event: object) -> bool:
        """Filter run for every meter value and status (no task spawned when false): nothing to
        do while, as last loaded, nobody subscribes to anything."""
        cached = self._targets
        if cached is None or time.monotonic() - cached[0] >= self._config.subscriptions_cache_s:
            return True
        return bool(cached[1])

    async def _wanting(self, event_type: str) -> list[Target]:
        cached = self._targets
        if cached is None or time.monotonic() - cached[0] >= self._config.subscriptions_cache_s:
            async with self._deps.db.unit_of_work() as uow:
                targets = await service.active_targets(uow.session)
            cached = self._targets = (time.monotonic(), targets)
        return [t for t in cached[1] if event_type in t.event_types]

    def _watch_of(self, pk: int) -> SessionWatch:
        watch = self._watch.get(pk)
        if watch is None:
            watch = self._watch[pk] = SessionWatch()
            while len(self._watch) > _WATCH_MAX:
                self._watch.popitem(last=False)
        else:
            self._watch.move_to_end(pk)
        return watch
