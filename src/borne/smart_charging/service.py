"""Smart-charging use cases, version-agnostic: validate, send to the station, keep what it took.

The station's version picks the translator (``ocpp_v16`` / ``ocpp_v201``). A profile is checked
(``validation``) before anything is sent; it is stored only once the station accepted it, and
forgotten when a ClearChargingProfile the station answered matches it. What limits to set is
decided elsewhere (a later issue): here are only the mechanics.

Errors: those of ``borne.commands.service`` (409 not connected, 422 invalid or missing in the
station's version, 502 CALLERROR, 503 busy, 504 timeout).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol

from borne.commands.results import CommandResult, ReportResult
from borne.commands.service import _version
from borne.core.deps import Deps
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.versions import OcppVersion
from borne.smart_charging import ocpp_v16, ocpp_v201, store
from borne.smart_charging.models import ChargingProfileRecord
from borne.smart_charging.results import CompositeScheduleResult, SetProfileResult
from borne.smart_charging.validation import ChargingProfile, purpose_for, validate


class Translator(Protocol):
    async def set_charging_profile(
        self,
        outbound: OcppOutbound,
        station_id: str,
        *,
        evse_id: int,
        profile: ChargingProfile,
        call_timeout: float | None,
    ) -> SetProfileResult: ...

    async def clear_charging_profile(
        self,
        outbound: OcppOutbound,
        station_id: str,
        *,
        profile_id: int | None,
        evse_id: int | None,
        purpose: str | None,
        stack_level: int | None,
        call_timeout: float | None,
    ) -> CommandResult: ...

    async def get_composite_schedule(
        self,
        outbound: OcppOutbound,
        station_id: str,
        *,
        evse_id: int,
        duration: int,
        charging_rate_unit: str | None,
        call_timeout: float | None,
    ) -> CompositeScheduleResult: ...

    async def get_charging_profiles(
        self,
        outbound: OcppOutbound,
        station_id: str,
        *,
        request_id: int | None,
        evse_id: int | None,
        purpose: str | None,
        stack_level: int | None,
        profile_ids: list[int] | None,
        limit_sources: list[str] | None,
        call_timeout: float | None,
    ) -> ReportResult: ...


def _translator(version: OcppVersion) -> Translator:
    return ocpp_v16 if version is OcppVersion.V16 else ocpp_v201


@dataclasses.dataclass(frozen=True)
class SetOutcome:
    result: SetProfileResult
    stored: ChargingProfileRecord | None  # None unless the station accepted it


async def set_charging_profile(
    deps: Deps,
    outbound: OcppOutbound,
    station_id: str,
    *,
    evse_id: int,
    profile: ChargingProfile,
    call_timeout: float | None = None,
) -> SetOutcome:
    """Validate ``profile`` (id 0 → the next free id of the station), send it, keep it if the
    station accepted it."""
    version = _version(outbound, station_id)
    if profile.id == 0:
        async with deps.db.unit_of_work() as uow:
            profile = dataclasses.replace(
                profile, id=await store.next_profile_id(uow.session, station_id)
            )
    validate(profile, evse_id=evse_id, version=version)
    result = await _translator(version).set_charging_profile(
        outbound, station_id, evse_id=evse_id, profile=profile, call_timeout=call_timeout
    )
    if result.status != "Accepted":
        return SetOutcome(result, None)
    async with deps.db.unit_of_work() as uow:
        row = await store.save_profile(
            uow,
            station_id=station_id,
            evse_id=evse_id,
            profile_id=profile.id,
            stack_level=profile.stack_level,
            purpose=purpose_for(profile.purpose, version),
            kind=profile.kind,
            transaction_id=profile.transaction_id,
            valid_from=profile.valid_from,
            valid_to=profile.valid_to,
            ocpp_version=str(version),
            wire=result.profile,
            now=deps.clock.now(),
        )
        await uow.commit()
    return SetOutcome(result, row)


async def clear_charging_profile(
    deps: Deps,
    outbound: OcppOutbound,
    station_id: str,
    *,
    profile_id: int | None = None,
    evse_id: int | None = None,
    purpose: str | None = None,
    stack_level: int | None = None,
    call_timeout: float | None = None,
) -> CommandResult:
    """Clear by id, or by criteria (none: every profile the CSMS may clear). ``Unknown`` means
    the station has no such profile: Borne forgets its matching records too, to agree with it."""
    version = _version(outbound, station_id)
    result = await _translator(version).clear_charging_profile(
        outbound,
        station_id,
        profile_id=profile_id,
        evse_id=evse_id,
        purpose=purpose,
        stack_level=stack_level,
        call_timeout=call_timeout,
    )
    if result.status in ("Accepted", "Unknown"):
        async with deps.db.unit_of_work() as uow:
            await store.clear_profiles(
                uow,
                station_id=station_id,
                profile_id=profile_id,
                evse_id=evse_id,
                purpose=purpose,
                stack_level=stack_level,
            )
            await uow.commit()
    return result


async def get_composite_schedule(
    outbound: OcppOutbound,
    station_id: str,
    *,
    evse_id: int,
    duration: int,
    charging_rate_unit: str | None = None,
    call_timeout: float | None = None,
) -> CompositeScheduleResult:
    return await _translator(_version(outbound, station_id)).get_composite_schedule(
        outbound,
        station_id,
        evse_id=evse_id,
        duration=duration,
        charging_rate_unit=charging_rate_unit,
        call_timeout=call_timeout,
    )


async def get_charging_profiles(
    outbound: OcppOutbound,
    station_id: str,
    *,
    request_id: int | None = None,
    evse_id: int | None = None,
    purpose: str | None = None,
    stack_level: int | None = None,
    profile_ids: Sequence[int] | None = None,
    limit_sources: Sequence[str] | None = None,
    call_timeout: float | None = None,
) -> ReportResult:
    """2.0.1 only: the station answers with ReportChargingProfiles parts carrying
    ``request_id`` (generated unless given), stored as they come."""
    return await _translator(_version(outbound, station_id)).get_charging_profiles(
        outbound,
        station_id,
        request_id=request_id,
        evse_id=evse_id,
        purpose=purpose,
        stack_level=stack_level,
        profile_ids=None if profile_ids is None else list(profile_ids),
        limit_sources=None if limit_sources is None else list(limit_sources),
        call_timeout=call_timeout,
    )
