"""Operator actions: ask the station (through ``borne.commands``) and store what it answered.

Report refreshes are recorded *before* the request is sent (its NotifyReport parts can arrive
before the answer). Errors are those of ``borne.commands.service`` (409 not connected, 422
wrong version or invalid input, 502/503/504 station trouble).
"""

from __future__ import annotations

from borne.commands import service as commands
from borne.commands.ocpp_v201 import new_request_id
from borne.commands.results import (
    CommandResult,
    ConfigurationResult,
    ReportBase,
    ReportResult,
    VariableGet,
    VariableRef,
    VariableSet,
    VariablesResult,
)
from borne.core.deps import Deps
from borne.core.errors import InvalidInput, StationNotConnected
from borne.device_model import ocpp_v201, service
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.versions import OcppVersion

CRITERIA = "Criteria"


def _require(outbound: OcppOutbound, station_id: str, version: OcppVersion, hint: str) -> None:
    actual = outbound.version_of(station_id)
    if actual is None:
        raise StationNotConnected(f"station {station_id} is not connected")
    if actual is not version:
        raise InvalidInput(f"station {station_id} speaks OCPP {actual}: {hint}")


def address(ref: VariableRef) -> service.Address:
    return service.Address(
        component=ref.component,
        variable=ref.variable,
        component_instance=ref.component_instance,
        variable_instance=ref.variable_instance,
        evse_id=ref.evse_id,
        connector_id=ref.connector_id,
    )


async def request_report(
    deps: Deps,
    outbound: OcppOutbound,
    station_id: str,
    *,
    report_base: ReportBase | None = None,
    criteria: list[str] | None = None,
    components: list[service.Address] | None = None,
    request_id: int | None = None,
) -> ReportResult:
    """GetBaseReport(``report_base``), or GetReport with ``criteria``/``components``."""
    _require(outbound, station_id, OcppVersion.V201, "use the configuration refresh")
    if report_base is None and not criteria and not components:
        raise InvalidInput("give a report_base, or criteria and/or components for GetReport")
    if report_base is not None and (criteria or components):
        raise InvalidInput("report_base (GetBaseReport) excludes criteria/components (GetReport)")
    rid = new_request_id() if request_id is None else request_id
    async with deps.db.unit_of_work() as uow:
        await service.require_station(uow, station_id)
        await service.record_report_request(
            uow,
            station_id=station_id,
            request_id=rid,
            kind=report_base or CRITERIA,
            now=deps.clock.now(),
        )
        await uow.commit()
    try:
        if report_base is not None:
            result = await commands.get_base_report(
                outbound, station_id, report_base=report_base, request_id=rid
            )
        else:
            result = await ocpp_v201.get_report(
                outbound, station_id, request_id=rid, criteria=criteria, components=components
            )
        status = result.status
    except Exception:
        status = "Failed"
        raise
    finally:
        async with deps.db.unit_of_work() as uow:
            await service.record_report_answer(
                uow, station_id=station_id, request_id=rid, status=status
            )
            await uow.commit()
    return result


async def get_variables(
    deps: Deps, outbound: OcppOutbound, station_id: str, items: list[VariableGet]
) -> VariablesResult:
    """GetVariables; every Accepted value is stored."""
    result = await commands.get_variables(outbound, station_id, items=items)
    updates = [
        service.ValueUpdate(address(r.ref), r.value, r.attribute_type)
        for r in result.results
        if r.status == "Accepted"
    ]
    if updates:
        async with deps.db.unit_of_work() as uow:
            await service.store_values(
                uow, station_id=station_id, updates=updates, source="get", now=deps.clock.now()
            )
            await uow.commit()
    return result


def _match_key(ref: VariableRef, attribute_type: str | None) -> tuple[object, ...]:
    return (*address(ref).key(), attribute_type or "Actual")


async def set_variables(
    deps: Deps, outbound: OcppOutbound, station_id: str, items: list[VariableSet]
) -> VariablesResult:
    """SetVariables; the value of every Accepted item is stored. ``RebootRequired`` is not: the
    station applies it only after a reboot (a report then shows it)."""
    commands.refuse_credential_change(variables=items)
    result = await commands.set_variables(outbound, station_id, items=items)
    sent = {_match_key(i.ref, i.attribute_type): i for i in items}
    updates = []
    for r in result.results:
        item = sent.get(_match_key(r.ref, r.attribute_type))
        if r.status == "Accepted" and item is not None:
            updates.append(service.ValueUpdate(address(item.ref), item.value, item.attribute_type))
    if updates:
        async with deps.db.unit_of_work() as uow:
            await service.store_values(
                uow, station_id=station_id, updates=updates, source="set", now=deps.clock.now()
            )
            await uow.commit()
    return result


async def refresh_configuration(
    deps: Deps, outbound: OcppOutbound, station_id: str, keys: list[str] | None = None
) -> ConfigurationResult:
    """1.6 GetConfiguration; without ``keys`` the snapshot is replaced, with keys merged."""
    _require(outbound, station_id, OcppVersion.V16, "use the device-model refresh")
    result = await commands.get_configuration(outbound, station_id, keys=keys)
    async with deps.db.unit_of_work() as uow:
        await service.store_configuration(
            uow,
            station_id=station_id,
            entries=[service.KeyValue(e.key, e.value, e.readonly) for e in result.entries],
            unknown_keys=result.unknown_keys,
            complete=not keys,
            now=deps.clock.now(),
        )
        await uow.commit()
    return result


async def change_configuration(
    deps: Deps, outbound: OcppOutbound, station_id: str, key: str, value: str
) -> CommandResult:
    """1.6 ChangeConfiguration; an Accepted change updates the snapshot (``RebootRequired``
    does not: the station applies it after a reboot)."""
    commands.refuse_credential_change(key=key)
    _require(outbound, station_id, OcppVersion.V16, "use PUT .../device-model/variables")
    result = await commands.change_configuration(outbound, station_id, key=key, value=value)
    if result.status == "Accepted":
        async with deps.db.unit_of_work() as uow:
            await service.store_configuration_change(
                uow, station_id=station_id, key=key, value=value, now=deps.clock.now()
            )
            await uow.commit()
    return result
