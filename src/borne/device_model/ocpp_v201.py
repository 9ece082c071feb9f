"""OCPP 2.0.1 side of the device model: NotifyReport in, GetReport out.

NotifyReport is served here, not by ``stations``: the full report (characteristics,
persistent/constant) is only in the message. The handler also keeps the stations domain's
flat ``reported_variables`` view and its ``ReportReceived`` event, in the same unit of work.
"""

from __future__ import annotations

from borne.commands.ocpp_v201 import new_request_id
from borne.commands.results import ReportResult, base, build, send
from borne.core.deps import Deps
from borne.device_model import service
from borne.ocpp.context import CallContext
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.router import Router
from borne.ocpp.v201 import models as m
from borne.ocpp.versions import OcppVersion
from borne.stations import service as stations_service
from borne.stations.ocpp_v201 import flatten_report


def entries_of(report_data: list[m.ReportDataType] | None) -> list[service.ReportEntry]:
    out = []
    for rd in report_data or ():
        evse = rd.component.evse
        c = rd.variable_characteristics
        out.append(
            service.ReportEntry(
                address=service.Address(
                    component=rd.component.name,
                    variable=rd.variable.name,
                    component_instance=rd.component.instance,
                    variable_instance=rd.variable.instance,
                    evse_id=None if evse is None else evse.id,
                    connector_id=None if evse is None else evse.connector_id,
                ),
                attributes=[
                    service.AttributeIn(
                        type=a.type or "Actual",
                        value=a.value,
                        mutability=a.mutability,
                        persistent=a.persistent,
                        constant=a.constant,
                    )
                    for a in rd.variable_attribute
                ],
                characteristics=None
                if c is None
                else service.Characteristics(
                    data_type=c.data_type,
                    supports_monitoring=c.supports_monitoring,
                    unit=c.unit,
                    min_limit=c.min_limit,
                    max_limit=c.max_limit,
                    values_list=c.values_list,
                ),
            )
        )
    return out


def component_variable(address: service.Address) -> m.ComponentVariableType:
    """A GetReport ``componentVariable`` entry; an empty variable name asks for all of the
    component's variables."""
    evse = None
    if address.evse_id is not None:
        evse = build(m.EVSEType, id=address.evse_id, connector_id=address.connector_id)
    component = build(
        m.ComponentType, name=address.component, instance=address.component_instance, evse=evse
    )
    variable = None
    if address.variable:
        variable = build(m.VariableType, name=address.variable, instance=address.variable_instance)
    return build(m.ComponentVariableType, component=component, variable=variable)


async def get_report(
    outbound: OcppOutbound,
    station_id: str,
    *,
    request_id: int | None,
    criteria: list[str] | None,
    components: list[service.Address] | None,
    call_timeout: float | None = None,
) -> ReportResult:
    """GetReport: the variables matching ``criteria`` (Active, Available, Enabled, Problem)
    and/or the listed components/variables."""
    rid = new_request_id() if request_id is None else request_id
    request = build(
        m.GetReportRequest,
        request_id=rid,
        component_criteria=criteria or None,
        component_variable=[component_variable(a) for a in components] if components else None,
    )
    answer = await send(outbound, station_id, request, m.GetReportResponse, call_timeout)
    info = answer.status_info
    return ReportResult(
        **base(
            station_id,
            OcppVersion.V201,
            "GetReport",
            answer,
            answer.status,
            reason=None if info is None else info.reason_code,
            reason_info=None if info is None else info.additional_info,
        ),
        request_id=rid,
    )


class _Handlers:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def notify_report(
        self, ctx: CallContext, req: m.NotifyReportRequest
    ) -> m.NotifyReportResponse:
        entries = entries_of(req.report_data)
        tbc = bool(req.tbc)
        async with self.deps.db.unit_of_work() as uow:
            await stations_service.store_report(
                uow,
                station_id=ctx.station_id,
                request_id=req.request_id,
                seq_no=req.seq_no,
                tbc=tbc,
                attributes=flatten_report(req.report_data),
                now=ctx.received_at,
            )
            await service.store_report_part(
                uow,
                station_id=ctx.station_id,
                request_id=req.request_id,
                seq_no=req.seq_no,
                tbc=tbc,
                entries=entries,
                now=ctx.received_at,
            )
            await uow.commit()
        return m.NotifyReportResponse()


def register(router: Router, deps: Deps) -> None:
    """Serve NotifyReport (in place of ``borne.stations.ocpp_v201``'s handler)."""
    router.register("NotifyReport", _Handlers(deps).notify_report)
