"""OCPP 2.0.1 display messages: SetDisplayMessage (O01/O02), GetDisplayMessages (O03) with its
NotifyDisplayMessages parts, ClearDisplayMessage (O04). OCPP 1.6 has no display messages."""

from __future__ import annotations

from borne.commands.results import CommandResult, ReportResult, base, build, send
from borne.core.deps import Deps
from borne.display_messages import store
from borne.display_messages.models import REPORTED
from borne.ocpp.context import CallContext
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.router import Router
from borne.ocpp.v201 import models as v201
from borne.ocpp.versions import OcppVersion

VERSION = OcppVersion.V201


def _info(info: v201.StatusInfoType | None) -> dict[str, str | None]:
    return {
        "reason": None if info is None else info.reason_code,
        "reason_info": None if info is None else info.additional_info,
    }


async def set_display_message(
    outbound: OcppOutbound,
    station_id: str,
    message: v201.MessageInfoType,
    call_timeout: float | None,
) -> CommandResult:
    request = build(v201.SetDisplayMessageRequest, message=message)
    answer = await send(outbound, station_id, request, v201.SetDisplayMessageResponse, call_timeout)
    return CommandResult(
        **base(
            station_id,
            VERSION,
            "SetDisplayMessage",
            answer,
            answer.status,
            **_info(answer.status_info),
        )
    )


async def get_display_messages(
    outbound: OcppOutbound,
    station_id: str,
    *,
    request_id: int,
    ids: list[int] | None,
    priority: str | None,
    state: str | None,
    call_timeout: float | None,
) -> ReportResult:
    request = build(
        v201.GetDisplayMessagesRequest,
        id=ids or None,
        request_id=request_id,
        priority=priority,
        state=state,
    )
    answer = await send(
        outbound, station_id, request, v201.GetDisplayMessagesResponse, call_timeout
    )
    return ReportResult(
        **base(
            station_id,
            VERSION,
            "GetDisplayMessages",
            answer,
            answer.status,
            **_info(answer.status_info),
        ),
        request_id=request_id,
    )


async def clear_display_message(
    outbound: OcppOutbound, station_id: str, message_id: int, call_timeout: float | None
) -> CommandResult:
    request = build(v201.ClearDisplayMessageRequest, id=message_id)
    answer = await send(
        outbound, station_id, request, v201.ClearDisplayMessageResponse, call_timeout
    )
    return CommandResult(
        **base(
            station_id,
            VERSION,
            "ClearDisplayMessage",
            answer,
            answer.status,
            **_info(answer.status_info),
        )
    )


class _Handlers:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def notify_display_messages(
        self, ctx: CallContext, req: v201.NotifyDisplayMessagesRequest
    ) -> v201.NotifyDisplayMessagesResponse:
        async with self.deps.db.unit_of_work() as uow:
            for info in req.message_info or ():
                await store.upsert(
                    uow,
                    ctx.station_id,
                    info,
                    origin=REPORTED,
                    request_id=req.request_id,
                    now=ctx.received_at,
                )
            await uow.commit()
        return v201.NotifyDisplayMessagesResponse()


def register(router: Router, deps: Deps) -> None:
    """Serve NotifyDisplayMessages, the parts of a GetDisplayMessages answer."""
    router.register("NotifyDisplayMessages", _Handlers(deps).notify_display_messages)
