"""Keeps the stored profiles in step with the station: a TxProfile ends with its transaction
(OCPP 1.6 §3.13.4, 2.0.1 K01: the station deletes it then), so Borne forgets it too."""

from __future__ import annotations

from sqlalchemy import delete

from borne.core.bus import EventBus
from borne.core.deps import Deps
from borne.smart_charging.models import ChargingProfileRecord
from borne.transactions.events import TransactionEnded


class TxProfileJanitor:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def subscribe(self, bus: EventBus) -> None:
        bus.subscribe(TransactionEnded, self.on_transaction_ended)

    async def on_transaction_ended(self, event: TransactionEnded) -> None:
        t = ChargingProfileRecord
        async with self.deps.db.unit_of_work() as uow:
            await uow.session.execute(
                delete(t).where(
                    t.station_id == event.station_id,
                    t.purpose == "TxProfile",
                    t.transaction_id == event.transaction_id,
                )
            )
            await uow.commit()
