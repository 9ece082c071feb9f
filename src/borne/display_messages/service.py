"""Display-message use cases (OCPP 2.0.1 only; a 1.6 station → 422).

A message is stored once the station accepted it; GetDisplayMessages asks the station for what
it shows, and its NotifyDisplayMessages parts are stored as they come (``ocpp_v201``).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from borne.commands.ocpp_v201 import new_request_id
from borne.commands.results import CommandResult, ReportResult, build
from borne.commands.service import _version
from borne.core.deps import Deps
from borne.core.errors import InvalidInput
from borne.display_messages import ocpp_v201, store
from borne.display_messages.models import SET, DisplayMessage
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.v201 import models as v201
from borne.ocpp.versions import OcppVersion


def _require_201(outbound: OcppOutbound, station_id: str, action: str) -> None:
    if _version(outbound, station_id) is not OcppVersion.V201:
        raise InvalidInput(f"{action} does not exist in OCPP 1.6: display messages are 2.0.1 only")


@dataclasses.dataclass(frozen=True, kw_only=True)
class NewMessage:
    """A message to show; ``message_id`` None: the next free id of the station."""

    content: str
    format: str = "UTF8"
    priority: str = "NormalCycle"
    message_id: int | None = None
    language: str | None = None
    state: str | None = None
    start_date_time: datetime | None = None
    end_date_time: datetime | None = None
    transaction_id: str | None = None
    display: v201.ComponentType | None = None

    def info(self, message_id: int) -> v201.MessageInfoType:
        return build(
            v201.MessageInfoType,
            id=message_id,
            priority=self.priority,
            state=self.state,
            start_date_time=self.start_date_time,
            end_date_time=self.end_date_time,
            transaction_id=self.transaction_id,
            display=self.display,
            message=build(
                v201.MessageContentType,
                format=self.format,
                language=self.language,
                content=self.content,
            ),
        )


@dataclasses.dataclass(frozen=True)
class SetOutcome:
    result: CommandResult
    message_id: int
    stored: DisplayMessage | None


async def set_display_message(
    deps: Deps,
    outbound: OcppOutbound,
    station_id: str,
    new: NewMessage,
    call_timeout: float | None = None,
) -> SetOutcome:
    """Send ``new`` and keep it if the station accepted it."""
    _require_201(outbound, station_id, "SetDisplayMessage")
    start, end = new.start_date_time, new.end_date_time
    if start is not None and end is not None and end <= start:
        raise InvalidInput(
            "invalid display message",
            details={
                "errors": [{"loc": ["end_date_time"], "message": "must be after start_date_time"}]
            },
        )
    message_id = new.message_id
    if message_id is None:
        async with deps.db.unit_of_work() as uow:
            message_id = await store.next_message_id(uow.session, station_id)
    message = new.info(message_id)
    result = await ocpp_v201.set_display_message(outbound, station_id, message, call_timeout)
    if result.status != "Accepted":
        return SetOutcome(result, message.id, None)
    async with deps.db.unit_of_work() as uow:
        row = await store.upsert(
            uow, station_id, message, origin=SET, request_id=None, now=deps.clock.now()
        )
        await uow.commit()
    return SetOutcome(result, message.id, row)


async def get_display_messages(
    outbound: OcppOutbound,
    station_id: str,
    *,
    request_id: int | None = None,
    ids: list[int] | None = None,
    priority: str | None = None,
    state: str | None = None,
    call_timeout: float | None = None,
) -> ReportResult:
    _require_201(outbound, station_id, "GetDisplayMessages")
    return await ocpp_v201.get_display_messages(
        outbound,
        station_id,
        request_id=request_id if request_id is not None else new_request_id(),
        ids=ids,
        priority=priority,
        state=state,
        call_timeout=call_timeout,
    )


async def clear_display_message(
    deps: Deps,
    outbound: OcppOutbound,
    station_id: str,
    message_id: int,
    call_timeout: float | None = None,
) -> CommandResult:
    """``Unknown``: the station has no such message; Borne forgets it too, to agree with it."""
    _require_201(outbound, station_id, "ClearDisplayMessage")
    result = await ocpp_v201.clear_display_message(outbound, station_id, message_id, call_timeout)
    if result.status in ("Accepted", "Unknown"):
        async with deps.db.unit_of_work() as uow:
            await store.remove(uow, station_id, message_id)
            await uow.commit()
    return result
