"""Operator API of the commands: ``POST /api/v1/stations/{station_id}/commands/<command>``.

Each endpoint sends the command to the connected station, waits for its answer and returns it
(200). Station not connected → 409, invalid input or a command the station's OCPP version lacks
→ 422, station CALLERROR → 502 (its code and description in ``details``), no answer in time →
504, too many calls queued for the station → 503.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from borne.api_context import ApiContext, get_context
from borne.api_errors import error_responses
from borne.commands import service
from borne.commands.schemas import (
    CancelReservationIn,
    ChangeAvailabilityIn,
    ChangeConfigurationIn,
    CommandOut,
    ConfigurationOut,
    DataTransferIn,
    DataTransferOut,
    GetBaseReportIn,
    GetConfigurationIn,
    GetVariablesIn,
    RawCallIn,
    RawCallOut,
    RemoteStartIn,
    RemoteStartOut,
    RemoteStopIn,
    ReportOut,
    ReserveNowIn,
    ResetIn,
    SetVariablesIn,
    TriggerMessageIn,
    UnlockConnectorIn,
    VariablesOut,
)

StationId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=48,
        pattern=r"^[^:]+$",
        description="the station's identity (1 to 48 characters, no ':')",
    ),
]
Context = Annotated[ApiContext, Depends(get_context)]

router = APIRouter(
    prefix="/stations/{station_id}/commands",
    tags=["commands"],
    responses=error_responses(401, 409, 422, 502, 503, 504),
)


@router.post("/remote-start", summary="Start a transaction remotely")
async def remote_start(station_id: StationId, body: RemoteStartIn, ctx: Context) -> RemoteStartOut:
    result = await service.remote_start(
        ctx.outbound,
        station_id,
        id_token=body.id_token,
        id_token_type=body.id_token_type,
        evse_id=body.evse_id,
        connector_id=body.connector_id,
        remote_start_id=body.remote_start_id,
    )
    return RemoteStartOut.of(result)


@router.post("/remote-stop", summary="Stop a transaction remotely")
async def remote_stop(station_id: StationId, body: RemoteStopIn, ctx: Context) -> CommandOut:
    result = await service.remote_stop(
        ctx.outbound, station_id, transaction_id=str(body.transaction_id)
    )
    return CommandOut.of(result)


@router.post("/reset", summary="Reset the station (or, on 2.0.1, one EVSE)")
async def reset(station_id: StationId, body: ResetIn, ctx: Context) -> CommandOut:
    result = await service.reset(ctx.outbound, station_id, kind=body.type, evse_id=body.evse_id)
    return CommandOut.of(result)


@router.post("/unlock-connector", summary="Unlock a connector")
async def unlock_connector(
    station_id: StationId, body: UnlockConnectorIn, ctx: Context
) -> CommandOut:
    result = await service.unlock_connector(
        ctx.outbound, station_id, evse_id=body.evse_id, connector_id=body.connector_id
    )
    return CommandOut.of(result)


@router.post("/reserve-now", summary="Reserve an EVSE, a connector or any of the station")
async def reserve_now(station_id: StationId, body: ReserveNowIn, ctx: Context) -> CommandOut:
    result = await service.reserve_now(
        ctx.outbound,
        station_id,
        reservation_id=body.reservation_id,
        id_token=body.id_token,
        id_token_type=body.id_token_type,
        expiry=body.expiry,
        evse_id=body.evse_id,
        connector_id=body.connector_id,
        group_id_token=body.group_id_token,
    )
    return CommandOut.of(result)


@router.post("/cancel-reservation", summary="Cancel a reservation")
async def cancel_reservation(
    station_id: StationId, body: CancelReservationIn, ctx: Context
) -> CommandOut:
    result = await service.cancel_reservation(
        ctx.outbound, station_id, reservation_id=body.reservation_id
    )
    return CommandOut.of(result)


@router.post(
    "/change-availability", summary="Make the station, an EVSE or a connector (in)operative"
)
async def change_availability(
    station_id: StationId, body: ChangeAvailabilityIn, ctx: Context
) -> CommandOut:
    result = await service.change_availability(
        ctx.outbound,
        station_id,
        availability=body.availability,
        evse_id=body.evse_id,
        connector_id=body.connector_id,
    )
    return CommandOut.of(result)


@router.post("/get-configuration", summary="Read configuration keys (OCPP 1.6)")
async def get_configuration(
    station_id: StationId, body: GetConfigurationIn, ctx: Context
) -> ConfigurationOut:
    result = await service.get_configuration(ctx.outbound, station_id, keys=body.keys)
    return ConfigurationOut.of(result)


@router.post("/change-configuration", summary="Change a configuration key (OCPP 1.6)")
async def change_configuration(
    station_id: StationId, body: ChangeConfigurationIn, ctx: Context
) -> CommandOut:
    service.refuse_credential_change(key=body.key)
    result = await service.change_configuration(
        ctx.outbound, station_id, key=body.key, value=body.value
    )
    return CommandOut.of(result)


@router.post("/get-variables", summary="Read device-model variables (OCPP 2.0.1)")
async def get_variables(station_id: StationId, body: GetVariablesIn, ctx: Context) -> VariablesOut:
    result = await service.get_variables(
        ctx.outbound, station_id, items=[v.item() for v in body.variables]
    )
    return VariablesOut.of_variables(result)


@router.post("/set-variables", summary="Set device-model variables (OCPP 2.0.1)")
async def set_variables(station_id: StationId, body: SetVariablesIn, ctx: Context) -> VariablesOut:
    items = [v.item() for v in body.variables]
    service.refuse_credential_change(variables=items)
    result = await service.set_variables(ctx.outbound, station_id, items=items)
    return VariablesOut.of_variables(result)


@router.post("/get-base-report", summary="Ask for a device-model report (OCPP 2.0.1)")
async def get_base_report(station_id: StationId, body: GetBaseReportIn, ctx: Context) -> ReportOut:
    result = await service.get_base_report(
        ctx.outbound, station_id, report_base=body.report_base, request_id=body.request_id
    )
    return ReportOut.of(result)


@router.post("/trigger-message", summary="Ask the station to send a message now")
async def trigger_message(
    station_id: StationId, body: TriggerMessageIn, ctx: Context
) -> CommandOut:
    result = await service.trigger_message(
        ctx.outbound,
        station_id,
        message=body.message,
        evse_id=body.evse_id,
        connector_id=body.connector_id,
    )
    return CommandOut.of(result)


@router.post("/clear-cache", summary="Clear the station's authorization cache")
async def clear_cache(station_id: StationId, ctx: Context) -> CommandOut:
    return CommandOut.of(await service.clear_cache(ctx.outbound, station_id))


@router.post("/data-transfer", summary="Send a vendor-specific DataTransfer")
async def data_transfer(
    station_id: StationId, body: DataTransferIn, ctx: Context
) -> DataTransferOut:
    result = await service.data_transfer(
        ctx.outbound,
        station_id,
        vendor_id=body.vendor_id,
        message_id=body.message_id,
        data=body.data,
    )
    return DataTransferOut.of(result)


@router.post(
    "/raw",
    summary="Send any OCPP call of the station's version",
    description="The payload is checked against the official schema of the action before it is "
    "sent; a refused payload or an action the station's version lacks → 422.",
)
async def raw_call(station_id: StationId, body: RawCallIn, ctx: Context) -> RawCallOut:
    service.refuse_credential_change(action=body.action, payload=body.payload)
    result = await service.send_raw(
        ctx.outbound, station_id, action=body.action, payload=body.payload
    )
    return RawCallOut.of(result)
