"""Operator API of webhook notifications: ``/api/v1/webhooks``.

- ``POST /webhooks/subscriptions`` (201, the secret shown once), ``GET`` the list;
- ``GET|PATCH|DELETE /webhooks/subscriptions/{id}``;
- ``GET /webhooks/subscriptions/{id}/deliveries``: the delivery log, newest first, each with
  its attempts (filter by ``status``: pending | delivered | dead);
- ``POST /webhooks/subscriptions/{id}/deliveries/{delivery_id}/retry``: send a dead-lettered
  delivery again (202).

Secrets never appear in answers except the creation's (R27). Unknown subscription → 404,
invalid input → 422.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response, status

from borne.api_context import ApiContext, get_context
from borne.api_errors import error_responses
from borne.notifications import service
from borne.notifications.config import NotificationsConfig
from borne.notifications.schemas import (
    DeliveryOut,
    DeliveryPageOut,
    SubscriptionCreatedOut,
    SubscriptionIn,
    SubscriptionOut,
    SubscriptionPatch,
)

Id = Annotated[int, Path(ge=1, le=2**63 - 1)]
Context = Annotated[ApiContext, Depends(get_context)]


def build_router(config: NotificationsConfig) -> APIRouter:
    """The router; ``config`` says whether plain http:// receivers are allowed."""
    router = APIRouter(
        prefix="/webhooks", tags=["webhooks"], responses=error_responses(401, 404, 422)
    )

    @router.post(
        "/subscriptions",
        status_code=status.HTTP_201_CREATED,
        summary="Subscribe a URL to session events",
    )
    async def create_subscription(body: SubscriptionIn, ctx: Context) -> SubscriptionCreatedOut:
        async with ctx.deps.db.unit_of_work() as uow:
            sub, secret = await service.create_subscription(
                uow,
                url=body.url,
                event_types=body.event_types,
                now=ctx.deps.clock.now(),
                allow_http=config.allow_http,
                secret=body.secret,
                soc_threshold=body.soc_threshold,
                active=body.active,
                description=body.description,
            )
            await uow.commit()
        return SubscriptionCreatedOut(**SubscriptionOut.of(sub).model_dump(), secret=secret)

    @router.get("/subscriptions", summary="List webhook subscriptions")
    async def list_subscriptions(ctx: Context) -> list[SubscriptionOut]:
        async with ctx.deps.db.unit_of_work() as uow:
            subs = await service.list_subscriptions(uow)
        return [SubscriptionOut.of(s) for s in subs]

    @router.get("/subscriptions/{subscription_id}", summary="A webhook subscription")
    async def get_subscription(subscription_id: Id, ctx: Context) -> SubscriptionOut:
        async with ctx.deps.db.unit_of_work() as uow:
            sub = await service.get_subscription(uow, subscription_id)
        return SubscriptionOut.of(sub)

    @router.patch("/subscriptions/{subscription_id}", summary="Change a webhook subscription")
    async def update_subscription(
        subscription_id: Id, body: SubscriptionPatch, ctx: Context
    ) -> SubscriptionOut:
        changes = body.model_dump(include=body.model_fields_set)
        for name in ("url", "event_types", "soc_threshold", "active"):
            if name in changes and changes[name] is None:
                del changes[name]  # null means "leave as it is" for the required fields
        async with ctx.deps.db.unit_of_work() as uow:
            sub = await service.update_subscription(
                uow,
                subscription_id,
                now=ctx.deps.clock.now(),
                allow_http=config.allow_http,
                changes=changes,
            )
            await uow.commit()
        return SubscriptionOut.of(sub)

    @router.delete(
        "/subscriptions/{subscription_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        summary="Delete a webhook subscription and its delivery log",
    )
    async def delete_subscription(subscription_id: Id, ctx: Context) -> None:
        async with ctx.deps.db.unit_of_work() as uow:
            await service.delete_subscription(uow, subscription_id)
            await uow.commit()

    @router.get(
        "/subscriptions/{subscription_id}/deliveries",
        summary="A subscription's deliveries and their attempts, newest first",
    )
    async def list_deliveries(
        subscription_id: Id,
        ctx: Context,
        delivery_status: Annotated[
            Literal["pending", "delivered", "dead"] | None, Query(alias="status")
        ] = None,
        offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
        limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
    ) -> DeliveryPageOut:
        async with ctx.deps.db.unit_of_work() as uow:
            page = await service.list_deliveries(
                uow, subscription_id, status=delivery_status, offset=offset, limit=limit
            )
        return DeliveryPageOut(
            items=[DeliveryOut.of(d) for d in page.items],
            total=page.total,
            offset=page.offset,
            limit=page.limit,
        )

    @router.post(
        "/subscriptions/{subscription_id}/deliveries/{delivery_id}/retry",
        status_code=status.HTTP_202_ACCEPTED,
        response_class=Response,
        summary="Send a dead-lettered delivery again",
    )
    async def retry_delivery(subscription_id: Id, delivery_id: Id, ctx: Context) -> None:
        async with ctx.deps.db.unit_of_work() as uow:
            await service.requeue(uow, subscription_id, delivery_id, now=ctx.deps.clock.now())
            await uow.commit()

    return router
