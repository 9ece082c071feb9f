"""Reads and writes of the smart-charging tables, inside the caller's unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from borne.core.group_commit import Batch
from borne.core.uow import UnitOfWork
from borne.smart_charging.models import (
    ChargingNotice,
    ChargingProfileRecord,
    ReportedChargingProfile,
)
from borne.smart_charging.validation import MAX_PURPOSES

Unit = UnitOfWork | Batch


def _same_purpose(purpose: str) -> list[str]:
    """The names a purpose has across versions (the station max profile has two)."""
    return sorted(MAX_PURPOSES) if purpose in MAX_PURPOSES else [purpose]


async def next_profile_id(session: AsyncSession, station_id: str) -> int:
    """One more than the highest profile id Borne keeps for the station."""
    highest = await session.scalar(
        select(func.max(ChargingProfileRecord.profile_id)).where(
            ChargingProfileRecord.station_id == station_id
        )
    )
    return int(highest or 0) + 1


async def save_profile(
    uow: Unit,
    *,
    station_id: str,
    evse_id: int,
    profile_id: int,
    stack_level: int,
    purpose: str,
    kind: str,
    transaction_id: str | None,
    valid_from: datetime | None,
    valid_to: datetime | None,
    ocpp_version: str,
    wire: dict[str, Any],
    now: datetime,
) -> ChargingProfileRecord:
    """Keep a profile the station accepted, replacing the ones the station replaced with it:
    the same id, or the same EVSE + stackLevel + purpose (for a TxProfile: of the same
    transaction), as OCPP 1.6 §3.13.2 and 2.0.1 K01 say."""
    t = ChargingProfileRecord
    same_slot = (
        (t.evse_id == evse_id)
        & (t.stack_level == stack_level)
        & (t.purpose.in_(_same_purpose(purpose)))
    )
    if transaction_id is not None:
        same_slot = same_slot & (t.transaction_id == transaction_id)
    await uow.session.execute(
        delete(t).where(t.station_id == station_id, (t.profile_id == profile_id) | same_slot)
    )
    row = ChargingProfileRecord(
        station_id=station_id,
        evse_id=evse_id,
        profile_id=profile_id,
        stack_level=stack_level,
        purpose=purpose,
        kind=kind,
        transaction_id=transaction_id,
        valid_from=valid_from,
        valid_to=valid_to,
        ocpp_version=ocpp_version,
        profile=wire,
        set_at=now,
    )
    uow.session.add(row)
    await uow.session.flush()
    return row


async def clear_profiles(
    uow: Unit,
    *,
    station_id: str,
    profile_id: int | None,
    evse_id: int | None,
    purpose: str | None,
    stack_level: int | None,
) -> int:
    """Forget the profiles a ClearChargingProfile matched: by id when given, else every profile
    matching all the given criteria (a missing criterion matches anything)."""
    t = ChargingProfileRecord
    stmt = delete(t).where(t.station_id == station_id)
    if profile_id is not None:
        stmt = stmt.where(t.profile_id == profile_id)
    else:
        if evse_id is not None:
            stmt = stmt.where(t.evse_id == evse_id)
        if purpose is not None:
            stmt = stmt.where(t.purpose.in_(_same_purpose(purpose)))
        if stack_level is not None:
            stmt = stmt.where(t.stack_level == stack_level)
    result = await uow.session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


async def list_profiles(
    session: AsyncSession, station_id: str, evse_id: int | None = None
) -> Sequence[ChargingProfileRecord]:
    t = ChargingProfileRecord
    stmt = select(t).where(t.station_id == station_id)
    if evse_id is not None:
        stmt = stmt.where(t.evse_id == evse_id)
    stmt = stmt.order_by(t.evse_id, t.purpose, t.stack_level, t.profile_id)
    return (await session.scalars(stmt)).all()


async def store_reported_profiles(
    uow: Unit,
    *,
    station_id: str,
    request_id: int,
    evse_id: int,
    limit_source: str,
    profiles: list[dict[str, Any]],
    received_at: datetime,
) -> None:
    for p in profiles:
        uow.session.add(
            ReportedChargingProfile(
                station_id=station_id,
                request_id=request_id,
                evse_id=evse_id,
                charging_limit_source=limit_source,
                profile_id=int(p["id"]),
                stack_level=int(p["stackLevel"]),
                purpose=str(p["chargingProfilePurpose"]),
                profile=p,
                received_at=received_at,
            )
        )


async def list_reported(
    session: AsyncSession, station_id: str, request_id: int | None = None
) -> Sequence[ReportedChargingProfile]:
    """The profiles reported for ``request_id``, or for the latest request when ``None``."""
    t = ReportedChargingProfile
    if request_id is None:
        latest = await session.scalar(
            select(t.request_id).where(t.station_id == station_id).order_by(t.id.desc()).limit(1)
        )
        if latest is None:
            return []
        request_id = int(latest)
    stmt = (
        select(t)
        .where(t.station_id == station_id, t.request_id == request_id)
        .order_by(t.evse_id, t.id)
    )
    return (await session.scalars(stmt)).all()


async def record_notice(
    uow: Unit,
    *,
    station_id: str,
    kind: str,
    evse_id: int | None,
    limit_source: str | None,
    payload: dict[str, Any],
    received_at: datetime,
) -> None:
    uow.session.add(
        ChargingNotice(
            station_id=station_id,
            kind=kind,
            evse_id=evse_id,
            limit_source=limit_source,
            payload=payload,
            received_at=received_at,
        )
    )


async def list_notices(
    session: AsyncSession, station_id: str, kinds: Sequence[str], limit: int
) -> Sequence[ChargingNotice]:
    """The latest ``limit`` notices of ``kinds``, newest first."""
    t = ChargingNotice
    stmt = (
        select(t)
        .where(t.station_id == station_id, t.kind.in_(list(kinds)))
        .order_by(t.id.desc())
        .limit(limit)
    )
    return (await session.scalars(stmt)).all()
