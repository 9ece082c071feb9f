"""OCPP 2.0.1 translator of the commands: version-agnostic arguments → 2.0.1 request → result.

Addressing: ``evse_id`` + ``connector_id`` as in 2.0.1. A lone ``connector_id`` is a 1.6-style
address, and a 1.6 connector is a 2.0.1 EVSE (OCA's migration mapping): it names that EVSE.
No EVSE (or EVSE 0) means the whole station.

Reset mapping: ``soft`` → ``OnIdle`` (the station resets once no transaction runs, like a 1.6
soft reset that ends transactions gracefully) and ``hard`` → ``Immediate`` (transactions are
stopped at once).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from borne.commands.results import (
    Availability,
    CommandResult,
    ConfigurationResult,
    DataTransferResult,
    IdTokenKind,
    RemoteStartResult,
    ReportBase,
    ReportResult,
    ResetKind,
    ResultBase,
    TriggerKind,
    VariableGet,
    VariableOutcome,
    VariableRef,
    VariableSet,
    VariablesResult,
    base,
    build,
    send,
    summarise,
)
from borne.core.errors import InvalidInput
from borne.ocpp.model_base import OcppModel
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.v201 import models as v201
from borne.ocpp.versions import OcppVersion

VERSION = OcppVersion.V201

TRIGGERS: dict[str, str] = {
    "boot_notification": "BootNotification",
    "heartbeat": "Heartbeat",
    "meter_values": "MeterValues",
    "status_notification": "StatusNotification",
    "firmware_status_notification": "FirmwareStatusNotification",
    # 2.0.1 replaced 1.6 diagnostics by logs.
    "diagnostics_status_notification": "LogStatusNotification",
    "log_status_notification": "LogStatusNotification",
    "sign_charging_station_certificate": "SignChargingStationCertificate",
    "sign_v2g_certificate": "SignV2GCertificate",
    "sign_combined_certificate": "SignCombinedCertificate",
    "transaction_event": "TransactionEvent",
    "publish_firmware_status_notification": "PublishFirmwareStatusNotification",
}

_SET_OK = frozenset({"Accepted", "RebootRequired"})
_GET_OK = frozenset({"Accepted"})


def new_request_id() -> int:
    """A positive 32-bit id for remoteStartId / requestId, unlikely to repeat."""
    return secrets.randbelow(2**31 - 2) + 1


def _address(evse_id: int | None, connector_id: int | None) -> tuple[int | None, int | None]:
    if evse_id is None:
        return connector_id, None
    return evse_id, connector_id


def _evse(evse_id: int | None, connector_id: int | None) -> v201.EVSEType | None:
    evse, connector = _address(evse_id, connector_id)
    if not evse:  # None or 0: the whole station
        return None
    return build(v201.EVSEType, id=evse, connector_id=connector)


def _result(
    station_id: str,
    action: str,
    answer: OcppModel,
    status: str,
    info: v201.StatusInfoType | None = None,
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


def _unsupported(command: str, hint: str) -> InvalidInput:
    return InvalidInput(f"{command} does not exist in OCPP 2.0.1: {hint}")


async def remote_start(
    outbound: OcppOutbound,
    station_id: str,
    *,
    id_token: str,
    id_token_type: IdTokenKind,
    evse_id: int | None,
    connector_id: int | None,
    remote_start_id: int | None,
    call_timeout: float | None,
) -> RemoteStartResult:
    # RequestStartTransaction targets an EVSE; the station picks the connector that is plugged.
    evse, _ = _address(evse_id, connector_id)
    start_id = new_request_id() if remote_start_id is None else remote_start_id
    request = build(
        v201.RequestStartTransactionRequest,
        id_token=build(v201.IdTokenType, id_token=id_token, type=id_token_type),
        evse_id=evse,
        remote_start_id=start_id,
    )
    answer = await send(
        outbound, station_id, request, v201.RequestStartTransactionResponse, call_timeout
    )
    return RemoteStartResult(
        **_result(station_id, "RequestStartTransaction", answer, answer.status, answer.status_info),
        remote_start_id=start_id,
        transaction_id=answer.transaction_id,
    )


async def remote_stop(
    outbound: OcppOutbound, station_id: str, *, transaction_id: str, call_timeout: float | None
) -> CommandResult:
    request = build(v201.RequestStopTransactionRequest, transaction_id=transaction_id)
    answer = await send(
        outbound, station_id, request, v201.RequestStopTransactionResponse, call_timeout
    )
    return CommandResult(
        **_result(station_id, "RequestStopTransaction", answer, answer.status, answer.status_info)
    )


async def reset(
    outbound: OcppOutbound,
    station_id: str,
    *,
    kind: ResetKind,
    evse_id: int | None,
    call_timeout: float | None,
) -> CommandResult:
    request = build(
        v201.ResetRequest, type="Immediate" if kind == "hard" else "OnIdle", evse_id=evse_id
    )
    answer = await send(outbound, station_id, request, v201.ResetResponse, call_timeout)
    return CommandResult(**_result(station_id, "Reset", answer, answer.status, answer.status_info))


async def unlock_connector(
    outbound: OcppOutbound,
    station_id: str,
    *,
    evse_id: int | None,
    connector_id: int | None,
    call_timeout: float | None,
) -> CommandResult:
    evse, connector = _address(evse_id, connector_id)
    if evse is None:
        raise InvalidInput("unlock connector needs evse_id (and connector_id)")
    request = build(
        v201.UnlockConnectorRequest,
        evse_id=evse,
        connector_id=1 if connector is None else connector,
    )
    answer = await send(outbound, station_id, request, v201.UnlockConnectorResponse, call_timeout)
    return CommandResult(
        **_result(station_id, "UnlockConnector", answer, answer.status, answer.status_info)
    )


async def reserve_now(
    outbound: OcppOutbound,
    station_id: str,
    *,
    reservation_id: int,
    id_token: str,
    id_token_type: IdTokenKind,
    expiry: datetime,
    evse_id: int | None,
    connector_id: int | None,
    group_id_token: str | None,
    call_timeout: float | None,
) -> CommandResult:
    # 2.0.1 reserves an EVSE (or, without one, any EVSE); a connector is named by its type only.
    evse, _connector_id = _address(evse_id, connector_id)
    request = build(
        v201.ReserveNowRequest,
        id=reservation_id,
        expiry_date_time=expiry,
        id_token=build(v201.IdTokenType, id_token=id_token, type=id_token_type),
        evse_id=evse or None,
        group_id_token=None
        if group_id_token is None
        else build(v201.IdTokenType, id_token=group_id_token, type="Central"),
    )
    answer = await send(outbound, station_id, request, v201.ReserveNowResponse, call_timeout)
    return CommandResult(
        **_result(station_id, "ReserveNow", answer, answer.status, answer.status_info)
    )


async def cancel_reservation(
    outbound: OcppOutbound, station_id: str, *, reservation_id: int, call_timeout: float | None
) -> CommandResult:
    request = build(v201.CancelReservationRequest, reservation_id=reservation_id)
    answer = await send(outbound, station_id, request, v201.CancelReservationResponse, call_timeout)
    return CommandResult(
        **_result(station_id, "CancelReservation", answer, answer.status, answer.status_info)
    )


async def change_availability(
    outbound: OcppOutbound,
    station_id: str,
    *,
    availability: Availability,
    evse_id: int | None,
    connector_id: int | None,
    call_timeout: float | None,
) -> CommandResult:
    request = build(
        v201.ChangeAvailabilityRequest,
        evse=_evse(evse_id, connector_id),
        operational_status="Operative" if availability == "operative" else "Inoperative",
    )
    answer = await send(
        outbound, station_id, request, v201.ChangeAvailabilityResponse, call_timeout
    )
    return CommandResult(
        **_result(station_id, "ChangeAvailability", answer, answer.status, answer.status_info)
    )


async def get_configuration(
    outbound: OcppOutbound, station_id: str, *, keys: list[str] | None, call_timeout: float | None
) -> ConfigurationResult:
    raise _unsupported("GetConfiguration", "use get variables (or get base report)")


async def change_configuration(
    outbound: OcppOutbound, station_id: str, *, key: str, value: str, call_timeout: float | None
) -> CommandResult:
    raise _unsupported("ChangeConfiguration", "use set variables")


def _component(ref: VariableRef) -> v201.ComponentType:
    evse = None
    if ref.evse_id is not None:
        evse = build(v201.EVSEType, id=ref.evse_id, connector_id=ref.connector_id)
    elif ref.connector_id is not None:
        raise InvalidInput("a component's connector_id needs its evse_id")
    return build(v201.ComponentType, name=ref.component, instance=ref.component_instance, evse=evse)


def _variable(ref: VariableRef) -> v201.VariableType:
    return build(v201.VariableType, name=ref.variable, instance=ref.variable_instance)


def _ref(component: v201.ComponentType, variable: v201.VariableType) -> VariableRef:
    return VariableRef(
        component=component.name,
        variable=variable.name,
        component_instance=component.instance,
        variable_instance=variable.instance,
        evse_id=None if component.evse is None else component.evse.id,
        connector_id=None if component.evse is None else component.evse.connector_id,
    )


def _info(info: v201.StatusInfoType | None) -> tuple[str | None, str | None]:
    return (None, None) if info is None else (info.reason_code, info.additional_info)


async def get_variables(
    outbound: OcppOutbound,
    station_id: str,
    *,
    items: list[VariableGet],
    call_timeout: float | None,
) -> VariablesResult:
    request = build(
        v201.GetVariablesRequest,
        get_variable_data=[
            build(
                v201.GetVariableDataType,
                component=_component(item.ref),
                variable=_variable(item.ref),
                attribute_type=item.attribute_type,
            )
            for item in items
        ],
    )
    answer = await send(outbound, station_id, request, v201.GetVariablesResponse, call_timeout)
    results = []
    for r in answer.get_variable_result:
        reason, reason_info = _info(r.attribute_status_info)
        results.append(
            VariableOutcome(
                ref=_ref(r.component, r.variable),
                status=r.attribute_status,
                attribute_type=r.attribute_type,
                value=r.attribute_value,
                reason=reason,
                reason_info=reason_info,
            )
        )
    status = summarise([r.status for r in results], _GET_OK)
    return VariablesResult(**_result(station_id, "GetVariables", answer, status), results=results)


async def set_variables(
    outbound: OcppOutbound,
    station_id: str,
    *,
    items: list[VariableSet],
    call_timeout: float | None,
) -> VariablesResult:
    request = build(
        v201.SetVariablesRequest,
        set_variable_data=[
            build(
                v201.SetVariableDataType,
                component=_component(item.ref),
                variable=_variable(item.ref),
                attribute_type=item.attribute_type,
                attribute_value=item.value,
            )
            for item in items
        ],
    )
    answer = await send(outbound, station_id, request, v201.SetVariablesResponse, call_timeout)
    results = []
    for r in answer.set_variable_result:
        reason, reason_info = _info(r.attribute_status_info)
        results.append(
            VariableOutcome(
                ref=_ref(r.component, r.variable),
                status=r.attribute_status,
                attribute_type=r.attribute_type,
                reason=reason,
                reason_info=reason_info,
            )
        )
    status = summarise([r.status for r in results], _SET_OK)
    return VariablesResult(**_result(station_id, "SetVariables", answer, status), results=results)


async def get_base_report(
    outbound: OcppOutbound,
    station_id: str,
    *,
    report_base: ReportBase,
    request_id: int | None,
    call_timeout: float | None,
) -> ReportResult:
    rid = new_request_id() if request_id is None else request_id
    request = build(v201.GetBaseReportRequest, request_id=rid, report_base=report_base)
    answer = await send(outbound, station_id, request, v201.GetBaseReportResponse, call_timeout)
    return ReportResult(
        **_result(station_id, "GetBaseReport", answer, answer.status, answer.status_info),
        request_id=rid,
    )


async def trigger_message(
    outbound: OcppOutbound,
    station_id: str,
    *,
    message: TriggerKind,
    evse_id: int | None,
    connector_id: int | None,
    call_timeout: float | None,
) -> CommandResult:
    request = build(
        v201.TriggerMessageRequest,
        requested_message=TRIGGERS[message],
        evse=_evse(evse_id, connector_id),
    )
    answer = await send(outbound, station_id, request, v201.TriggerMessageResponse, call_timeout)
    return CommandResult(
        **_result(station_id, "TriggerMessage", answer, answer.status, answer.status_info)
    )


async def clear_cache(
    outbound: OcppOutbound, station_id: str, *, call_timeout: float | None
) -> CommandResult:
    answer = await send(
        outbound, station_id, v201.ClearCacheRequest(), v201.ClearCacheResponse, call_timeout
    )
    return CommandResult(
        **_result(station_id, "ClearCache", answer, answer.status, answer.status_info)
    )


async def data_transfer(
    outbound: OcppOutbound,
    station_id: str,
    *,
    vendor_id: str,
    message_id: str | None,
    data: Any,
    call_timeout: float | None,
) -> DataTransferResult:
    request = build(v201.DataTransferRequest, vendor_id=vendor_id, message_id=message_id, data=data)
    answer = await send(outbound, station_id, request, v201.DataTransferResponse, call_timeout)
    return DataTransferResult(
        **_result(station_id, "DataTransfer", answer, answer.status, answer.status_info),
        data=answer.data,
    )
