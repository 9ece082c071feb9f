"""Operator API of the OCPI outbox: ``/api/v1/ocpi-deliveries``.

Every push to a partner and every command result goes through the outbox (``borne.ocpi``);
here an operator sees what is pending or failed, why, and puts a failed delivery back in the
queue. Bodies are shown (they hold no secrets: tokens live with the partner, not the row).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel

from borne.api_errors import error_responses
from borne.ocpi import outbox
from borne.ocpi.client import loads
from borne.roaming.config import RoamingContext, get_roaming

Roaming = Annotated[RoamingContext, Depends(get_roaming)]
DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1)]

router = APIRouter(
    prefix="/ocpi-deliveries", tags=["partners"], responses=error_responses(401, 422)
)


class DeliveryOut(BaseModel):
    id: int
    partner_id: int
    key: str
    method: str
    module: str
    interface: str
    path: str
    url: str | None
    body: Any
    status: str
    attempts: int
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_error: str | None
    last_http_status: int | None
    last_status_code: int | None
    created_at: datetime
    delivered_at: datetime | None
    superseded: bool

    @classmethod
    def of(cls, view: outbox.DeliveryView) -> DeliveryOut:
        fields = {k: getattr(view, k) for k in cls.model_fields if k != "body"}
        return cls(**fields, body=None if view.body is None else loads(view.body))


class DeliveryCounts(BaseModel):
    pending: int = 0
    delivered: int = 0
    failed: int = 0


def _wake(request: Request) -> None:
    wake = getattr(request.app.state, "ocpi_outbox_wake", None)
    if callable(wake):
        wake()


@router.get("", summary="Deliveries to partners, newest first")
async def list_deliveries(
    ctx: Roaming,
    status: Literal["pending", "delivered", "failed"] | None = None,
    partner_id: Annotated[int | None, Query(ge=1)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[DeliveryOut]:
    async with ctx.db.unit_of_work() as uow:
        views = await outbox.list_deliveries(
            uow.session, status=status, partner_id=partner_id, offset=offset, limit=limit
        )
    return [DeliveryOut.of(v) for v in views]


@router.get("/counts", summary="How many deliveries are pending, delivered, failed")
async def counts(
    ctx: Roaming, partner_id: Annotated[int | None, Query(ge=1)] = None
) -> DeliveryCounts:
    async with ctx.db.unit_of_work() as uow:
        return DeliveryCounts(**await outbox.count_by_status(uow.session, partner_id=partner_id))


@router.get("/{delivery_id}", summary="A delivery", responses=error_responses(404))
async def get_delivery(delivery_id: DeliveryId, ctx: Roaming) -> DeliveryOut:
    async with ctx.db.unit_of_work() as uow:
        return DeliveryOut.of(await outbox.get_delivery(uow.session, delivery_id))


@router.post(
    "/{delivery_id}/replay",
    summary="Queue a failed delivery again (attempts reset)",
    responses=error_responses(404, 409),
)
async def replay(delivery_id: DeliveryId, ctx: Roaming, request: Request) -> DeliveryOut:
    async with ctx.db.unit_of_work() as uow:
        view = await outbox.replay(uow.session, delivery_id, ctx.clock.now())
        await uow.commit()
    _wake(request)
    return DeliveryOut.of(view)
