"""OCPP 1.6 translator of the commands: version-agnostic arguments → 1.6 request → result.

Addressing: Borne speaks in 2.0.1 terms (``evse_id`` + ``connector_id``). A 1.6 connector is
what 2.0.1 calls an EVSE (OCA's migration mapping), so the 1.6 ``connectorId`` is ``evse_id``
when given, else ``connector_id``; ``connectorId`` 0 is the whole station.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from borne.commands.results import (
    Availability,
    CommandResult,
    ConfigurationEntry,
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
    VariableSet,
    VariablesResult,
    base,
    build,
    send,
)
from borne.core.errors import InvalidInput
from borne.ocpp.model_base import OcppModel
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.v16 import models as v16
from borne.ocpp.versions import OcppVersion

VERSION = OcppVersion.V16

# Trigger name → (action, requestedMessage). The Security whitepaper's ExtendedTriggerMessage
# reaches what the core TriggerMessage cannot.
TRIGGERS: dict[str, tuple[str, str]] = {
    "boot_notification": ("TriggerMessage", "BootNotification"),
    "heartbeat": ("TriggerMessage", "Heartbeat"),
    "meter_values": ("TriggerMessage", "MeterValues"),
    "status_notification": ("TriggerMessage", "StatusNotification"),
    "firmware_status_notification": ("TriggerMessage", "FirmwareStatusNotification"),
    "diagnostics_status_notification": ("TriggerMessage", "DiagnosticsStatusNotification"),
    "log_status_notification": ("ExtendedTriggerMessage", "LogStatusNotification"),
    "sign_charging_station_certificate": ("ExtendedTriggerMessage", "SignChargePointCertificate"),
}


def _connector(evse_id: int | None, connector_id: int | None) -> int | None:
    if evse_id is None:
        return connector_id
    if connector_id not in (None, 1):
        raise InvalidInput(
            "OCPP 1.6 addresses a connector by one number: give connector_id alone, "
            "or evse_id with connector_id absent or 1"
        )
    return evse_id


def _unsupported(command: str, hint: str) -> InvalidInput:
    return InvalidInput(f"{command} does not exist in OCPP 1.6: {hint}")


def _result(station_id: str, action: str, answer: OcppModel, status: str) -> ResultBase:
    return base(station_id, VERSION, action, answer, status)


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
    # 1.6 has no token type and no remote start id: the idTag is the token's value.
    request = build(
        v16.RemoteStartTransactionRequest,
        id_tag=id_token,
        connector_id=_connector(evse_id, connector_id),
    )
    answer = await send(
        outbound, station_id, request, v16.RemoteStartTransactionResponse, call_timeout
    )
    return RemoteStartResult(**_result(station_id, "RemoteStartTransaction", answer, answer.status))


async def remote_stop(
    outbound: OcppOutbound, station_id: str, *, transaction_id: str, call_timeout: float | None
) -> CommandResult:
    try:
        tx = int(transaction_id)
    except ValueError:
        raise InvalidInput(
            "OCPP 1.6 transaction ids are integers",
            details={"transaction_id": transaction_id[:64]},
        ) from None
    request = build(v16.RemoteStopTransactionRequest, transaction_id=tx)
    answer = await send(
        outbound, station_id, request, v16.RemoteStopTransactionResponse, call_timeout
    )
    return CommandResult(**_result(station_id, "RemoteStopTransaction", answer, answer.status))


async def reset(
    outbound: OcppOutbound,
    station_id: str,
    *,
    kind: ResetKind,
    evse_id: int | None,
    call_timeout: float | None,
) -> CommandResult:
    if evse_id is not None:
        raise InvalidInput("OCPP 1.6 resets the whole station: evse_id is not allowed")
    request = build(v16.ResetRequest, type="Hard" if kind == "hard" else "Soft")
    answer = await send(outbound, station_id, request, v16.ResetResponse, call_timeout)
    return CommandResult(**_result(station_id, "Reset", answer, answer.status))


async def unlock_connector(
    outbound: OcppOutbound,
    station_id: str,
    *,
    evse_id: int | None,
    connector_id: int | None,
    call_timeout: float | None,
) -> CommandResult:
    connector = _connector(evse_id, connector_id)
    if connector is None:
        raise InvalidInput("unlock connector needs connector_id (or evse_id)")
    request = build(v16.UnlockConnectorRequest, connector_id=connector)
    answer = await send(outbound, station_id, request, v16.UnlockConnectorResponse, call_timeout)
    return CommandResult(**_result(station_id, "UnlockConnector", answer, answer.status))


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
    # connectorId 0 reserves any connector of the station (if it supports that).
    connector = _connector(evse_id, connector_id)
    request = build(
        v16.ReserveNowRequest,
        connector_id=0 if connector is None else connector,
        expiry_date=expiry,
        id_tag=id_token,
        parent_id_tag=group_id_token,
        reservation_id=reservation_id,
    )
    answer = await send(outbound, station_id, request, v16.ReserveNowResponse, call_timeout)
    return CommandResult(**_result(station_id, "ReserveNow", answer, answer.status))


async def cancel_reservation(
    outbound: OcppOutbound, station_id: str, *, reservation_id: int, call_timeout: float | None
) -> CommandResult:
    request = build(v16.CancelReservationRequest, reservation_id=reservation_id)
    answer = await send(outbound, station_id, request, v16.CancelReservationResponse, call_timeout)
    return CommandResult(**_result(station_id, "CancelReservation", answer, answer.status))


async def change_availability(
    outbound: OcppOutbound,
    station_id: str,
    *,
    availability: Availability,
    evse_id: int | None,
    connector_id: int | None,
    call_timeout: float | None,
) -> CommandResult:
    connector = _connector(evse_id, connector_id)
    request = build(
        v16.ChangeAvailabilityRequest,
        connector_id=0 if connector is None else connector,
        type="Operative" if availability == "operative" else "Inoperative",
    )
    answer = await send(outbound, station_id, request, v16.ChangeAvailabilityResponse, call_timeout)
    return CommandResult(**_result(station_id, "ChangeAvailability", answer, answer.status))


async def get_configuration(
    outbound: OcppOutbound, station_id: str, *, keys: list[str] | None, call_timeout: float | None
) -> ConfigurationResult:
    request = build(v16.GetConfigurationRequest, key=keys or None)
    answer = await send(outbound, station_id, request, v16.GetConfigurationResponse, call_timeout)
    # GetConfiguration.conf has no status: the station answered, so the request was accepted.
    return ConfigurationResult(
        **_result(station_id, "GetConfiguration", answer, "Accepted"),
        entries=[
            ConfigurationEntry(key=k.key, value=k.value, readonly=k.readonly)
            for k in answer.configuration_key or []
        ],
        unknown_keys=list(answer.unknown_key or []),
    )


async def change_configuration(
    outbound: OcppOutbound, station_id: str, *, key: str, value: str, call_timeout: float | None
) -> CommandResult:
    request = build(v16.ChangeConfigurationRequest, key=key, value=value)
    answer = await send(
        outbound, station_id, request, v16.ChangeConfigurationResponse, call_timeout
    )
    return CommandResult(**_result(station_id, "ChangeConfiguration", answer, answer.status))


async def get_variables(
    outbound: OcppOutbound,
    station_id: str,
    *,
    items: list[VariableGet],
    call_timeout: float | None,
) -> VariablesResult:
    raise _unsupported("GetVariables", "use get configuration")


async def set_variables(
    outbound: OcppOutbound,
    station_id: str,
    *,
    items: list[VariableSet],
    call_timeout: float | None,
) -> VariablesResult:
    raise _unsupported("SetVariables", "use change configuration")


async def get_base_report(
    outbound: OcppOutbound,
    station_id: str,
    *,
    report_base: ReportBase,
    request_id: int | None,
    call_timeout: float | None,
) -> ReportResult:
    raise _unsupported("GetBaseReport", "use get configuration")


async def trigger_message(
    outbound: OcppOutbound,
    station_id: str,
    *,
    message: TriggerKind,
    evse_id: int | None,
    connector_id: int | None,
    call_timeout: float | None,
) -> CommandResult:
    try:
        action, requested = TRIGGERS[message]
    except KeyError:
        raise _unsupported(f"triggering {message}", "an OCPP 2.0.1 message") from None
    connector = _connector(evse_id, connector_id)
    if action == "TriggerMessage":
        request: OcppModel = build(
            v16.TriggerMessageRequest, requested_message=requested, connector_id=connector
        )
        answer: v16.TriggerMessageResponse | v16.ExtendedTriggerMessageResponse = await send(
            outbound, station_id, request, v16.TriggerMessageResponse, call_timeout
        )
    else:
        request = build(
            v16.ExtendedTriggerMessageRequest, requested_message=requested, connector_id=connector
        )
        answer = await send(
            outbound, station_id, request, v16.ExtendedTriggerMessageResponse, call_timeout
        )
    return CommandResult(**_result(station_id, action, answer, answer.status))


async def clear_cache(
    outbound: OcppOutbound, station_id: str, *, call_timeout: float | None
) -> CommandResult:
    answer = await send(
        outbound, station_id, v16.ClearCacheRequest(), v16.ClearCacheResponse, call_timeout
    )
    return CommandResult(**_result(station_id, "ClearCache", answer, answer.status))


async def data_transfer(
    outbound: OcppOutbound,
    station_id: str,
    *,
    vendor_id: str,
    message_id: str | None,
    data: Any,
    call_timeout: float | None,
) -> DataTransferResult:
    # 1.6 data is a string: anything else travels as its compact JSON text, as vendors expect.
    if data is not None and not isinstance(data, str):
        data = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    request = build(v16.DataTransferRequest, vendor_id=vendor_id, message_id=message_id, data=data)
    answer = await send(outbound, station_id, request, v16.DataTransferResponse, call_timeout)
    return DataTransferResult(
        **_result(station_id, "DataTransfer", answer, answer.status), data=answer.data
    )
