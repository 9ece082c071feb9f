"""CSMS-initiated remote control, version-agnostic: one use case per command.

Each use case finds the version the station is connected with, lets that version's translator
(``ocpp_v16`` / ``ocpp_v201``) build the request, send it through ``OcppOutbound`` and map the
answer back to a result from ``borne.commands.results``. Nothing is stored here: the station's
own messages (StatusNotification, TransactionEvent…) record what the command changed.

Errors (all from ``borne.core.errors``): ``StationNotConnected`` (409), ``InvalidInput`` (422:
a command that the station's version lacks, or a value its schema refuses),
``StationCallTimeout`` (504), ``StationCallError`` (502, the station's CALLERROR),
``CallQueueFull`` (503).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from borne.commands import ocpp_v16, ocpp_v201
from borne.commands.results import (
    Availability,
    CommandResult,
    ConfigurationResult,
    DataTransferResult,
    IdTokenKind,
    RawResult,
    RemoteStartResult,
    ReportBase,
    ReportResult,
    ResetKind,
    TriggerKind,
    VariableGet,
    VariableSet,
    VariablesResult,
)
from borne.core.errors import InvalidInput, StationNotConnected
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.versions import OcppVersion


class Translator(Protocol):
    """What ``ocpp_v16`` and ``ocpp_v201`` each provide (checked by mypy on the modules)."""

    async def remote_start(
        self,
        outbound: OcppOutbound,
        station_id: str,
        *,
        id_token: str,
        id_token_type: IdTokenKind,
        evse_id: int | None,
        connector_id: int | None,
        remote_start_id: int | None,
        call_timeout: float | None,
    ) -> RemoteStartResult: ...

    async def remote_stop(
        self,
        outbound: OcppOutbound,
        station_id: str,
        *,
        transaction_id: str,
        call_timeout: float | None,
    ) -> CommandResult: ...

    async def reset(
        self,
        outbound: OcppOutbound,
        station_id: str,
        *,
        kind: ResetKind,
        evse_id: int | None,
        call_timeout: float | None,
    ) -> CommandResult: ...

    async def unlock_connector(
        self,
        outbound: OcppOutbound,
        station_id: str,
        *,
        evse_id: int | None,
        connector_id: int | None,
        call_timeout: float | None,
    ) -> CommandResult: ...

    async def change_availability(
        self,
        outbound: OcppOutbound,
        station_id: str,
        *,
        availability: Availability,
        evse_id: int | None,
        connector_id: int | None,
        call_timeout: float | None,
    ) -> CommandResult: ...

    async def get_configuration(
        self,
        outbound: OcppOutbound,
        station_id: str,
        *,
        keys: list[str] | None,
        call_timeout: float | None,
    ) -> ConfigurationResult: ...

    async def change_configuration(
        self,
        outbound: OcppOutbound,
        station_id: str,
        *,
        key: str,
        value: str,
        call_timeout: float | None,
    ) -> CommandResult: ...

    async def get_variables(
        self,
        outbound: OcppOutbound,
        station_id: str,
        *,
        items: list[VariableGet],
        call_timeout: float | None,
    ) -> VariablesResult: ...

    async def set_variables(
        self,
        outbound: OcppOutbound,
        station_id: str,
        *,
        items: list[VariableSet],
        call_timeout: float | None,
    ) -> VariablesResult: ...

    async def get_base_report(
        self,
        outbound: OcppOutbound,
        station_id: str,
        *,
        report_base: ReportBase,
        request_id: int | None,
        call_timeout: float | None,
    ) -> ReportResult: ...

    async def trigger_message(
        self,
        outbound: OcppOutbound,
        station_id: str,
        *,
        message: TriggerKind,
        evse_id: int | None,
        connector_id: int | None,
        call_timeout: float | None,
    ) -> CommandResult: ...

    async def clear_cache(
        self, outbound: OcppOutbound, station_id: str, *, call_timeout: float | None
    ) -> CommandResult: ...

    async def data_transfer(
        self,
        outbound: OcppOutbound,
        station_id: str,
        *,
        vendor_id: str,
        message_id: str | None,
        data: Any,
        call_timeout: float | None,
    ) -> DataTransferResult: ...

    async def reserve_now(
        self,
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
    ) -> CommandResult: ...

    async def cancel_reservation(
        self,
        outbound: OcppOutbound,
        station_id: str,
        *,
        reservation_id: int,
        call_timeout: float | None,
    ) -> CommandResult: ...


def _version(outbound: OcppOutbound, station_id: str) -> OcppVersion:
    version = outbound.version_of(station_id)
    if version is None:
        raise StationNotConnected(f"station {station_id} is not connected")
    return version


def translator_for(outbound: OcppOutbound, station_id: str) -> Translator:
    """The translator of the version ``station_id`` is connected with right now."""
    if _version(outbound, station_id) is OcppVersion.V16:
        return ocpp_v16
    return ocpp_v201


async def remote_start(
    outbound: OcppOutbound,
    station_id: str,
    *,
    id_token: str,
    id_token_type: IdTokenKind = "Central",
    evse_id: int | None = None,
    connector_id: int | None = None,
    remote_start_id: int | None = None,
    call_timeout: float | None = None,
) -> RemoteStartResult:
    """Start a transaction for ``id_token``. 1.6 ignores the token type; 2.0.1 gets a
    ``remoteStartId`` (generated unless given, returned in the result)."""
    return await translator_for(outbound, station_id).remote_start(
        outbound,
        station_id,
        id_token=id_token,
        id_token_type=id_token_type,
        evse_id=evse_id,
        connector_id=connector_id,
        remote_start_id=remote_start_id,
        call_timeout=call_timeout,
    )


async def remote_stop(
    outbound: OcppOutbound,
    station_id: str,
    *,
    transaction_id: str,
    call_timeout: float | None = None,
) -> CommandResult:
    """Stop a transaction (1.6 needs an integer id, 2.0.1 takes the station's string id)."""
    return await translator_for(outbound, station_id).remote_stop(
        outbound, station_id, transaction_id=transaction_id, call_timeout=call_timeout
    )


async def reset(
    outbound: OcppOutbound,
    station_id: str,
    *,
    kind: ResetKind,
    evse_id: int | None = None,
    call_timeout: float | None = None,
) -> CommandResult:
    """Reset the station (1.6 Hard/Soft; 2.0.1 hard → Immediate, soft → OnIdle, optionally
    one EVSE)."""
    return await translator_for(outbound, station_id).reset(
        outbound, station_id, kind=kind, evse_id=evse_id, call_timeout=call_timeout
    )


async def unlock_connector(
    outbound: OcppOutbound,
    station_id: str,
    *,
    evse_id: int | None = None,
    connector_id: int | None = None,
    call_timeout: float | None = None,
) -> CommandResult:
    return await translator_for(outbound, station_id).unlock_connector(
        outbound, station_id, evse_id=evse_id, connector_id=connector_id, call_timeout=call_timeout
    )


async def reserve_now(
    outbound: OcppOutbound,
    station_id: str,
    *,
    reservation_id: int,
    id_token: str,
    expiry: datetime,
    id_token_type: IdTokenKind = "Central",
    evse_id: int | None = None,
    connector_id: int | None = None,
    group_id_token: str | None = None,
    call_timeout: float | None = None,
) -> CommandResult:
    """Reserve an EVSE/connector (or, with neither, any of the station) for ``id_token`` until
    ``expiry``; the station reports the reservation's end itself."""
    return await translator_for(outbound, station_id).reserve_now(
        outbound,
        station_id,
        reservation_id=reservation_id,
        id_token=id_token,
        id_token_type=id_token_type,
        expiry=expiry,
        evse_id=evse_id,
        connector_id=connector_id,
        group_id_token=group_id_token,
        call_timeout=call_timeout,
    )


async def cancel_reservation(
    outbound: OcppOutbound,
    station_id: str,
    *,
    reservation_id: int,
    call_timeout: float | None = None,
) -> CommandResult:
    return await translator_for(outbound, station_id).cancel_reservation(
        outbound, station_id, reservation_id=reservation_id, call_timeout=call_timeout
    )


async def change_availability(
    outbound: OcppOutbound,
    station_id: str,
    *,
    availability: Availability,
    evse_id: int | None = None,
    connector_id: int | None = None,
    call_timeout: float | None = None,
) -> CommandResult:
    """Make the station (no EVSE/connector), an EVSE or a connector operative or not."""
    return await translator_for(outbound, station_id).change_availability(
        outbound,
        station_id,
        availability=availability,
        evse_id=evse_id,
        connector_id=connector_id,
        call_timeout=call_timeout,
    )


async def get_configuration(
    outbound: OcppOutbound,
    station_id: str,
    *,
    keys: list[str] | None = None,
    call_timeout: float | None = None,
) -> ConfigurationResult:
    """1.6 only: the configuration keys (all of them without ``keys``)."""
    return await translator_for(outbound, station_id).get_configuration(
        outbound, station_id, keys=keys, call_timeout=call_timeout
    )


async def change_configuration(
    outbound: OcppOutbound,
    station_id: str,
    *,
    key: str,
    value: str,
    call_timeout: float | None = None,
) -> CommandResult:
    """1.6 only."""
    return await translator_for(outbound, station_id).change_configuration(
        outbound, station_id, key=key, value=value, call_timeout=call_timeout
    )


async def get_variables(
    outbound: OcppOutbound,
    station_id: str,
    *,
    items: list[VariableGet],
    call_timeout: float | None = None,
) -> VariablesResult:
    """2.0.1 only."""
    return await translator_for(outbound, station_id).get_variables(
        outbound, station_id, items=items, call_timeout=call_timeout
    )


async def set_variables(
    outbound: OcppOutbound,
    station_id: str,
    *,
    items: list[VariableSet],
    call_timeout: float | None = None,
) -> VariablesResult:
    """2.0.1 only."""
    return await translator_for(outbound, station_id).set_variables(
        outbound, station_id, items=items, call_timeout=call_timeout
    )


async def get_base_report(
    outbound: OcppOutbound,
    station_id: str,
    *,
    report_base: ReportBase,
    request_id: int | None = None,
    call_timeout: float | None = None,
) -> ReportResult:
    """2.0.1 only; ``request_id`` (generated unless given) comes back in NotifyReport."""
    return await translator_for(outbound, station_id).get_base_report(
        outbound,
        station_id,
        report_base=report_base,
        request_id=request_id,
        call_timeout=call_timeout,
    )


async def trigger_message(
    outbound: OcppOutbound,
    station_id: str,
    *,
    message: TriggerKind,
    evse_id: int | None = None,
    connector_id: int | None = None,
    call_timeout: float | None = None,
) -> CommandResult:
    """Ask the station to send a message now (names mapped per version, see the translators)."""
    return await translator_for(outbound, station_id).trigger_message(
        outbound,
        station_id,
        message=message,
        evse_id=evse_id,
        connector_id=connector_id,
        call_timeout=call_timeout,
    )


async def clear_cache(
    outbound: OcppOutbound, station_id: str, *, call_timeout: float | None = None
) -> CommandResult:
    return await translator_for(outbound, station_id).clear_cache(
        outbound, station_id, call_timeout=call_timeout
    )


async def data_transfer(
    outbound: OcppOutbound,
    station_id: str,
    *,
    vendor_id: str,
    message_id: str | None = None,
    data: Any = None,
    call_timeout: float | None = None,
) -> DataTransferResult:
    """Vendor-specific exchange. 1.6 ``data`` is a string: other values go as JSON text."""
    return await translator_for(outbound, station_id).data_transfer(
        outbound,
        station_id,
        vendor_id=vendor_id,
        message_id=message_id,
        data=data,
        call_timeout=call_timeout,
    )


async def send_raw(
    outbound: OcppOutbound,
    station_id: str,
    *,
    action: str,
    payload: dict[str, Any],
    call_timeout: float | None = None,
) -> RawResult:
    """Send any OCPP call of the station's version; the session checks it against the schema."""
    version = _version(outbound, station_id)
    answer = await outbound.call_raw(station_id, action, payload, timeout=call_timeout)
    return RawResult(station_id=station_id, ocpp_version=version, action=action, raw=answer)


# Station credentials change only through password rotation (stations.rotation), which stores the
# new password before sending it. Sent any other way, the station would adopt a password Borne
# does not know and be refused at its next login.
_PROFILE_HINT = (
    "the security profile is changed with POST /stations/{station_id}/security-profile, which "
    "refuses downgrades"
)
_ROTATION_HINT = "station passwords change through POST /api/v1/stations/{id}/password-rotation"


def _is_password_variable(component: str, variable: str) -> bool:
    return component.lower() == "securityctrlr" and variable.lower() == "basicauthpassword"


def refuse_credential_change(
    *,
    key: str | None = None,
    variables: list[VariableSet] | None = None,
    action: str | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """Raise ``InvalidInput`` when an operator command would set the station's password."""
    keys = [key] if key is not None else []
    pairs = [(v.ref.component, v.ref.variable) for v in variables or []]
    if action == "ChangeConfiguration" and payload is not None:
        keys.append(str(payload.get("key", "")))
    if action == "SetVariables" and payload is not None:
        for item in payload.get("setVariableData") or []:
            if isinstance(item, dict):
                pairs.append(
                    (
                        str((item.get("component") or {}).get("name", "")),
                        str((item.get("variable") or {}).get("name", "")),
                    )
                )
    if any(k.lower() == "authorizationkey" for k in keys) or any(
        _is_password_variable(c, v) for c, v in pairs
    ):
        raise InvalidInput(_ROTATION_HINT, details={"reason": "credential_change"})
    # The security profile only moves up, and only through the operator action that checks it
    # (POST /stations/{id}/security-profile): a generic command would bypass the check.
    if (
        action == "SetNetworkProfile"
        or any(k.lower() == "securityprofile" for k in keys)
        or any(c.lower() == "securityctrlr" and v.lower() == "securityprofile" for c, v in pairs)
    ):
        raise InvalidInput(_PROFILE_HINT, details={"reason": "security_profile_change"})
