"""OCPP 2.0.1 translator of the reservations domain: ReservationStatusUpdate.

ReserveNow and CancelReservation are CSMS-initiated: ``service`` sends them through
``borne.commands.service``. OCPP 1.6 has no station-initiated reservation message.
"""

from __future__ import annotations

from borne.core.deps import Deps
from borne.ocpp.context import CallContext
from borne.ocpp.router import Router
from borne.ocpp.v201 import models as m
from borne.reservations import service


def register(router: Router, deps: Deps) -> None:
    async def handle_status_update(
        ctx: CallContext, req: m.ReservationStatusUpdateRequest
    ) -> m.ReservationStatusUpdateResponse:
        async with deps.db.unit_of_work() as uow:
            await service.record_status_update(
                uow,
                station_id=ctx.station_id,
                reservation_id=req.reservation_id,
                update=req.reservation_update_status,
                now=deps.clock.now(),
            )
            await uow.commit()
        return m.ReservationStatusUpdateResponse()

    router.register("ReservationStatusUpdate", handle_status_update)
