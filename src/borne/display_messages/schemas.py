"""Operator API models of display messages (OCPP 2.0.1 MessageInfo, snake_case)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from borne.commands.results import build
from borne.commands.schemas import CommandOut, ReportOut
from borne.display_messages.service import NewMessage
from borne.ocpp.v201 import models as v201

Priority = Literal["AlwaysFront", "InFront", "NormalCycle"]
State = Literal["Charging", "Faulted", "Idle", "Unavailable"]
Format = Literal["ASCII", "HTML", "URI", "UTF8"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DisplayIn(Body):
    """The display component to show the message on (2.0.1 ComponentType)."""

    name: str = Field(min_length=1, max_length=50)
    instance: str | None = Field(None, max_length=50)
    evse_id: int | None = Field(None, ge=1)
    connector_id: int | None = Field(None, ge=1)


class DisplayMessageIn(Body):
    id: int | None = Field(None, ge=0, description="none: the next free id of the station")
    content: str = Field(min_length=1, max_length=512)
    format: Format = "UTF8"
    language: str | None = Field(None, max_length=8, description="RFC 5646, e.g. en, fr")
    priority: Priority = "NormalCycle"
    state: State | None = Field(None, description="show only in this station state")
    start_date_time: datetime | None = None
    end_date_time: datetime | None = None
    transaction_id: str | None = Field(None, max_length=36, description="show during it only")
    display: DisplayIn | None = None

    def new(self) -> NewMessage:
        display = None
        if self.display is not None:
            d = self.display
            evse = None
            if d.evse_id is not None:
                evse = build(v201.EVSEType, id=d.evse_id, connector_id=d.connector_id)
            display = build(v201.ComponentType, name=d.name, instance=d.instance, evse=evse)
        return NewMessage(
            message_id=self.id,
            content=self.content,
            format=self.format,
            language=self.language,
            priority=self.priority,
            state=self.state,
            start_date_time=self.start_date_time,
            end_date_time=self.end_date_time,
            transaction_id=self.transaction_id,
            display=display,
        )


class GetDisplayMessagesIn(Body):
    request_id: int | None = Field(None, description="generated when absent")
    ids: list[int] | None = Field(None, description="none: every message")
    priority: Priority | None = None
    state: State | None = None


class DisplayMessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    message_id: int
    priority: str
    state: str | None
    start_date_time: datetime | None
    end_date_time: datetime | None
    transaction_id: str | None
    format: str
    language: str | None
    content: str
    display: dict[str, Any] | None
    origin: str = Field(description="set (by Borne) or reported (by the station)")
    request_id: int | None = Field(description="the GetDisplayMessages that reported it")
    updated_at: datetime


class SetDisplayMessageOut(CommandOut):
    message_id: int
    stored: DisplayMessageOut | None = Field(description="kept only when the station accepted")


class DisplayMessagesOut(BaseModel):
    items: list[DisplayMessageOut]


__all__ = ["CommandOut", "ReportOut"]
