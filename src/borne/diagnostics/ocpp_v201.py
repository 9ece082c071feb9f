"""OCPP 2.0.1 side of diagnostics: the commands' translators (GetLog, CustomerInformation,
monitoring) and the station-initiated NotifyEvent, NotifyMonitoringReport and
NotifyCustomerInformation. LogStatusNotification is served by the stations domain."""

from __future__ import annotations

from borne.commands.results import (
    CommandResult,
    IdTokenKind,
    ReportResult,
    ResultBase,
    VariableRef,
    base,
    build,
    send,
)
from borne.core.deps import Deps
from borne.core.group_commit import Batch
from borne.diagnostics import store
from borne.diagnostics.results import (
    ClearMonitorsResult,
    ClearOutcome,
    LogParameters,
    LogResult,
    MonitoringBase,
    MonitoringCriterion,
    MonitorOutcome,
    MonitorSet,
    SetMonitorsResult,
)
from borne.ocpp.context import CallContext
from borne.ocpp.model_base import OcppModel
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.router import Router
from borne.ocpp.v201 import models as v201
from borne.ocpp.versions import OcppVersion

VERSION = OcppVersion.V201


def _base(
    action: str,
    station_id: str,
    answer: OcppModel,
    status: str,
    info: v201.StatusInfoType | None,
) -> ResultBase:
    return base(
        station_id,
        VERSION,
        action,
        answer,
        status,
        reason=None if info is None else info.reason_code,
        reason_info=None if info is None else info.additional_info,
    )


def _component(ref: VariableRef) -> v201.ComponentType:
    evse = None
    if ref.evse_id:
        evse = build(v201.EVSEType, id=ref.evse_id, connector_id=ref.connector_id)
    return build(v201.ComponentType, name=ref.component, instance=ref.component_instance, evse=evse)


def _variable(ref: VariableRef) -> v201.VariableType:
    return build(v201.VariableType, name=ref.variable, instance=ref.variable_instance)


def ref_of(component: v201.ComponentType, variable: v201.VariableType) -> VariableRef:
    evse = component.evse
    return VariableRef(
        component=component.name,
        variable=variable.name,
        component_instance=component.instance,
        variable_instance=variable.instance,
        evse_id=None if evse is None else evse.id,
        connector_id=None if evse is None else evse.connector_id,
    )


# ------------------------------------------------------------------------------- commands


async def get_log(
    outbound: OcppOutbound, station_id: str, params: LogParameters, call_timeout: float | None
) -> LogResult:
    request = build(
        v201.GetLogRequest,
        log=build(
            v201.LogParametersType,
            remote_location=params.location,
            oldest_timestamp=params.oldest,
            latest_timestamp=params.latest,
        ),
        log_type=params.log_type,
        request_id=params.request_id,
        retries=params.retries,
        retry_interval=params.retry_interval,
    )
    answer = await send(outbound, station_id, request, v201.GetLogResponse, call_timeout)
    fields = _base("GetLog", station_id, answer, answer.status, answer.status_info)
    return LogResult(**fields, filename=answer.filename)


async def customer_information(
    outbound: OcppOutbound,
    station_id: str,
    *,
    request_id: int,
    report: bool,
    clear: bool,
    customer_identifier: str | None,
    id_token: str | None,
    id_token_type: IdTokenKind | None,
    certificate: dict[str, str] | None,
    call_timeout: float | None,
) -> CommandResult:
    token = None
    if id_token is not None:
        token = build(v201.IdTokenType, id_token=id_token, type=id_token_type or "ISO14443")
    cert = None if certificate is None else build(v201.CertificateHashDataType, **certificate)
    request = build(
        v201.CustomerInformationRequest,
        request_id=request_id,
        report=report,
        clear=clear,
        customer_identifier=customer_identifier,
        id_token=token,
        customer_certificate=cert,
    )
    answer = await send(
        outbound, station_id, request, v201.CustomerInformationResponse, call_timeout
    )
    return CommandResult(
        **_base("CustomerInformation", station_id, answer, answer.status, answer.status_info)
    )


async def set_variable_monitoring(
    outbound: OcppOutbound, station_id: str, items: list[MonitorSet], call_timeout: float | None
) -> SetMonitorsResult:
    request = build(
        v201.SetVariableMonitoringRequest,
        set_monitoring_data=[
            build(
                v201.SetMonitoringDataType,
                id=item.id,
                transaction=item.transaction,
                value=item.value,
                type=item.type,
                severity=item.severity,
                component=_component(item.ref),
                variable=_variable(item.ref),
            )
            for item in items
        ],
    )
    answer = await send(
        outbound, station_id, request, v201.SetVariableMonitoringResponse, call_timeout
    )
    outcomes = [
        MonitorOutcome(
            ref=ref_of(r.component, r.variable),
            status=r.status,
            type=r.type,
            severity=r.severity,
            id=r.id,
            reason=None if r.status_info is None else r.status_info.reason_code,
            reason_info=None if r.status_info is None else r.status_info.additional_info,
        )
        for r in answer.set_monitoring_result
    ]
    status = _summary([o.status for o in outcomes])
    return SetMonitorsResult(
        **_base("SetVariableMonitoring", station_id, answer, status, None), results=outcomes
    )


async def clear_variable_monitoring(
    outbound: OcppOutbound, station_id: str, ids: list[int], call_timeout: float | None
) -> ClearMonitorsResult:
    request = build(v201.ClearVariableMonitoringRequest, id=ids)
    answer = await send(
        outbound, station_id, request, v201.ClearVariableMonitoringResponse, call_timeout
    )
    outcomes = [
        ClearOutcome(
            id=r.id,
            status=r.status,
            reason=None if r.status_info is None else r.status_info.reason_code,
            reason_info=None if r.status_info is None else r.status_info.additional_info,
        )
        for r in answer.clear_monitoring_result
    ]
    status = _summary([o.status for o in outcomes])
    return ClearMonitorsResult(
        **_base("ClearVariableMonitoring", station_id, answer, status, None), results=outcomes
    )


def _summary(statuses: list[str]) -> str:
    good = sum(1 for s in statuses if s == "Accepted")
    if statuses and good == len(statuses):
        return "Accepted"
    return "Partial" if good else "Rejected"


async def set_monitoring_base(
    outbound: OcppOutbound,
    station_id: str,
    monitoring_base: MonitoringBase,
    call_timeout: float | None,
) -> CommandResult:
    request = build(v201.SetMonitoringBaseRequest, monitoring_base=monitoring_base)
    answer = await send(outbound, station_id, request, v201.SetMonitoringBaseResponse, call_timeout)
    return CommandResult(
        **_base("SetMonitoringBase", station_id, answer, answer.status, answer.status_info)
    )


async def set_monitoring_level(
    outbound: OcppOutbound, station_id: str, severity: int, call_timeout: float | None
) -> CommandResult:
    request = build(v201.SetMonitoringLevelRequest, severity=severity)
    answer = await send(
        outbound, station_id, request, v201.SetMonitoringLevelResponse, call_timeout
    )
    return CommandResult(
        **_base("SetMonitoringLevel", station_id, answer, answer.status, answer.status_info)
    )


async def get_monitoring_report(
    outbound: OcppOutbound,
    station_id: str,
    *,
    request_id: int,
    criteria: list[MonitoringCriterion] | None,
    refs: list[VariableRef] | None,
    call_timeout: float | None,
) -> ReportResult:
    component_variable = None
    if refs:
        component_variable = [
            build(
                v201.ComponentVariableType,
                component=_component(ref),
                variable=_variable(ref) if ref.variable else None,
            )
            for ref in refs
        ]
    request = build(
        v201.GetMonitoringReportRequest,
        request_id=request_id,
        monitoring_criteria=criteria or None,
        component_variable=component_variable,
    )
    answer = await send(
        outbound, station_id, request, v201.GetMonitoringReportResponse, call_timeout
    )
    fields = _base("GetMonitoringReport", station_id, answer, answer.status, answer.status_info)
    return ReportResult(**fields, request_id=request_id)


# ---------------------------------------------------------------------- station-initiated


class _Handlers:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def notify_event(self, ctx: CallContext, req: v201.NotifyEventRequest) -> OcppModel:
        events = [
            store.EventIn(
                event_id=e.event_id,
                timestamp=e.timestamp,
                trigger=e.trigger,
                cause=e.cause,
                actual_value=e.actual_value,
                tech_code=e.tech_code,
                tech_info=e.tech_info,
                cleared=bool(e.cleared),
                transaction_id=e.transaction_id,
                ref=ref_of(e.component, e.variable),
                variable_monitoring_id=e.variable_monitoring_id,
                event_notification_type=e.event_notification_type,
            )
            for e in req.event_data
        ]

        # Through the group committer: periodic monitors make NotifyEvent a frequent message.
        async def work(batch: Batch) -> None:
            store.add_events(
                batch,
                station_id=ctx.station_id,
                events=events,
                generated_at=req.generated_at,
                seq_no=req.seq_no,
                received_at=ctx.received_at,
            )

        await self.deps.committer.submit(work)
        return v201.NotifyEventResponse()

    async def notify_monitoring_report(
        self, ctx: CallContext, req: v201.NotifyMonitoringReportRequest
    ) -> OcppModel:
        monitors = [
            store.MonitorIn(
                monitor_id=vm.id,
                ref=ref_of(md.component, md.variable),
                type=vm.type,
                value=vm.value,
                severity=vm.severity,
                transaction=vm.transaction,
            )
            for md in req.monitor or ()
            for vm in md.variable_monitoring
        ]
        async with self.deps.db.unit_of_work() as uow:
            await store.upsert_monitors(
                uow,
                station_id=ctx.station_id,
                monitors=monitors,
                source="report",
                now=ctx.received_at,
            )
            await uow.commit()
        return v201.NotifyMonitoringReportResponse()

    async def notify_customer_information(
        self, ctx: CallContext, req: v201.NotifyCustomerInformationRequest
    ) -> OcppModel:
        async with self.deps.db.unit_of_work() as uow:
            await store.add_customer_information_part(
                uow,
                station_id=ctx.station_id,
                request_id=req.request_id,
                seq_no=req.seq_no,
                tbc=bool(req.tbc),
                data=req.data,
                generated_at=req.generated_at,
                received_at=ctx.received_at,
            )
            await uow.commit()
        return v201.NotifyCustomerInformationResponse()


def register(router: Router, deps: Deps) -> None:
    """Serve the 2.0.1 station-initiated calls of this domain."""
    h = _Handlers(deps)
    router.register("NotifyEvent", h.notify_event)
    router.register("NotifyMonitoringReport", h.notify_monitoring_report)
    router.register("NotifyCustomerInformation", h.notify_customer_information)
