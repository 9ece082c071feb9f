"""Reads and writes of the display messages, inside the caller's unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from borne.core.uow import UnitOfWork
from borne.display_messages.models import DisplayMessage
from borne.ocpp.v201 import models as v201


async def next_message_id(session: AsyncSession, station_id: str) -> int:
    highest = await session.scalar(
        select(func.max(DisplayMessage.message_id)).where(DisplayMessage.station_id == station_id)
    )
    return int(highest or 0) + 1


async def upsert(
    uow: UnitOfWork,
    station_id: str,
    info: v201.MessageInfoType,
    *,
    origin: str,
    request_id: int | None,
    now: datetime,
) -> DisplayMessage:
    """Keep ``info`` as the station's message ``info.id`` (a message id names one message)."""
    row = await uow.session.scalar(
        select(DisplayMessage).where(
            DisplayMessage.station_id == station_id, DisplayMessage.message_id == info.id
        )
    )
    if row is None:
        row = DisplayMessage(station_id=station_id, message_id=info.id)
        uow.session.add(row)
    row.priority = info.priority
    row.state = info.state
    row.start_date_time = info.start_date_time
    row.end_date_time = info.end_date_time
    row.transaction_id = info.transaction_id
    row.format = info.message.format
    row.language = info.message.language
    row.content = info.message.content
    row.display = None if info.display is None else info.display.to_payload()
    row.origin = origin
    row.request_id = request_id
    row.updated_at = now
    await uow.session.flush()
    return row


async def remove(uow: UnitOfWork, station_id: str, message_id: int) -> None:
    await uow.session.execute(
        delete(DisplayMessage).where(
            DisplayMessage.station_id == station_id, DisplayMessage.message_id == message_id
        )
    )


async def list_messages(session: AsyncSession, station_id: str) -> Sequence[DisplayMessage]:
    stmt = (
        select(DisplayMessage)
        .where(DisplayMessage.station_id == station_id)
        .order_by(DisplayMessage.message_id)
    )
    return (await session.scalars(stmt)).all()
