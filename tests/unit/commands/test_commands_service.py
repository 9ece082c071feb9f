"""The commands service against a fake station in a real LocalRegistry, for both OCPP versions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from borne.commands import service
from borne.commands.results import (
    CommandResult,
    ConfigurationEntry,
    VariableGet,
    VariableRef,
    VariableSet,
)
from borne.core.errors import (
    InvalidInput,
    StationCallError,
    StationCallTimeout,
    StationNotConnected,
)
from borne.core.registry import LocalRegistry
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.versions import OcppVersion
from fake_station import FakeStation

V16 = OcppVersion.V16
V201 = OcppVersion.V201
SID = "CP-1"

Command = Callable[[OcppOutbound], Awaitable[CommandResult]]


def connect(version: OcppVersion, answers: dict[str, Any]) -> tuple[OcppOutbound, FakeStation]:
    registry = LocalRegistry()
    station = FakeStation(SID, version, answers)
    registry.register(station)
    return OcppOutbound(registry), station


@dataclass
class Case:
    id: str
    version: OcppVersion
    command: Command
    action: str
    payload: dict[str, Any]
    answer: dict[str, Any]
    status: str
    extra: dict[str, Any]

    def param(self) -> Any:
        return pytest.param(self, id=self.id)


CASES = [
    Case(
        "remote-start-16",
        V16,
        lambda o: service.remote_start(o, SID, id_token="TAG1", connector_id=2),
        "RemoteStartTransaction",
        {"idTag": "TAG1", "connectorId": 2},
        {"status": "Accepted"},
        "Accepted",
        {"remote_start_id": None},
    ),
    Case(
        "remote-start-201",
        V201,
        lambda o: service.remote_start(
            o, SID, id_token="TAG1", id_token_type="ISO14443", evse_id=1, remote_start_id=77
        ),
        "RequestStartTransaction",
        {"idToken": {"idToken": "TAG1", "type": "ISO14443"}, "evseId": 1, "remoteStartId": 77},
        {"status": "Rejected", "statusInfo": {"reasonCode": "Occupied", "additionalInfo": "x"}},
        "Rejected",
        {"remote_start_id": 77, "reason": "Occupied", "reason_info": "x"},
    ),
    Case(
        "remote-stop-16",
        V16,
        lambda o: service.remote_stop(o, SID, transaction_id="42"),
        "RemoteStopTransaction",
        {"transactionId": 42},
        {"status": "Accepted"},
        "Accepted",
        {},
    ),
    Case(
        "remote-stop-201",
        V201,
        lambda o: service.remote_stop(o, SID, transaction_id="tx-abc"),
        "RequestStopTransaction",
        {"transactionId": "tx-abc"},
        {"status": "Accepted"},
        "Accepted",
        {},
    ),
    Case(
        "reset-hard-16",
        V16,
        lambda o: service.reset(o, SID, kind="hard"),
        "Reset",
        {"type": "Hard"},
        {"status": "Accepted"},
        "Accepted",
        {},
    ),
    Case(
        "reset-soft-16",
        V16,
        lambda o: service.reset(o, SID, kind="soft"),
        "Reset",
        {"type": "Soft"},
        {"status": "Rejected"},
        "Rejected",
        {},
    ),
    Case(
        "reset-hard-201",
        V201,
        lambda o: service.reset(o, SID, kind="hard", evse_id=2),
        "Reset",
        {"type": "Immediate", "evseId": 2},
        {"status": "Accepted"},
        "Accepted",
        {},
    ),
    Case(
        "reset-soft-201",
        V201,
        lambda o: service.reset(o, SID, kind="soft"),
        "Reset",
        {"type": "OnIdle"},
        {"status": "Scheduled"},
        "Scheduled",
        {},
    ),
    Case(
        "unlock-16",
        V16,
        lambda o: service.unlock_connector(o, SID, connector_id=2),
        "UnlockConnector",
        {"connectorId": 2},
        {"status": "Unlocked"},
        "Unlocked",
        {},
    ),
    Case(
        "unlock-201",
        V201,
        lambda o: service.unlock_connector(o, SID, evse_id=1, connector_id=2),
        "UnlockConnector",
        {"evseId": 1, "connectorId": 2},
        {"status": "UnknownConnector"},
        "UnknownConnector",
        {},
    ),
    Case(
        "unlock-201-lone-connector-is-evse",
        V201,
        lambda o: service.unlock_connector(o, SID, connector_id=3),
        "UnlockConnector",
        {"evseId": 3, "connectorId": 1},
        {"status": "Unlocked"},
        "Unlocked",
        {},
    ),
    Case(
        "availability-station-16",
        V16,
        lambda o: service.change_availability(o, SID, availability="inoperative"),
        "ChangeAvailability",
        {"connectorId": 0, "type": "Inoperative"},
        {"status": "Scheduled"},
        "Scheduled",
        {},
    ),
    Case(
        "availability-evse-16",
        V16,
        lambda o: service.change_availability(o, SID, availability="operative", evse_id=2),
        "ChangeAvailability",
        {"connectorId": 2, "type": "Operative"},
        {"status": "Accepted"},
        "Accepted",
        {},
    ),
    Case(
        "availability-station-201",
        V201,
        lambda o: service.change_availability(o, SID, availability="operative"),
        "ChangeAvailability",
        {"operationalStatus": "Operative"},
        {"status": "Accepted"},
        "Accepted",
        {},
    ),
    Case(
        "availability-connector-201",
        V201,
        lambda o: service.change_availability(
            o, SID, availability="inoperative", evse_id=1, connector_id=2
        ),
        "ChangeAvailability",
        {"operationalStatus": "Inoperative", "evse": {"id": 1, "connectorId": 2}},
        {"status": "Rejected"},
        "Rejected",
        {},
    ),
    Case(
        "change-configuration-16",
        V16,
        lambda o: service.change_configuration(o, SID, key="HeartbeatInterval", value="60"),
        "ChangeConfiguration",
        {"key": "HeartbeatInterval", "value": "60"},
        {"status": "RebootRequired"},
        "RebootRequired",
        {},
    ),
    Case(
        "base-report-201",
        V201,
        lambda o: service.get_base_report(o, SID, report_base="FullInventory", request_id=5),
        "GetBaseReport",
        {"requestId": 5, "reportBase": "FullInventory"},
        {"status": "Accepted"},
        "Accepted",
        {"request_id": 5},
    ),
    Case(
        "trigger-16",
        V16,
        lambda o: service.trigger_message(o, SID, message="status_notification", connector_id=1),
        "TriggerMessage",
        {"requestedMessage": "StatusNotification", "connectorId": 1},
        {"status": "Accepted"},
        "Accepted",
        {},
    ),
    Case(
        "trigger-16-extended",
        V16,
        lambda o: service.trigger_message(o, SID, message="sign_charging_station_certificate"),
        "ExtendedTriggerMessage",
        {"requestedMessage": "SignChargePointCertificate"},
        {"status": "NotImplemented"},
        "NotImplemented",
        {},
    ),
    Case(
        "trigger-201",
        V201,
        lambda o: service.trigger_message(o, SID, message="meter_values", evse_id=1),
        "TriggerMessage",
        {"requestedMessage": "MeterValues", "evse": {"id": 1}},
        {"status": "Accepted"},
        "Accepted",
        {},
    ),
    Case(
        "trigger-201-diagnostics-are-logs",
        V201,
        lambda o: service.trigger_message(o, SID, message="diagnostics_status_notification"),
        "TriggerMessage",
        {"requestedMessage": "LogStatusNotification"},
        {"status": "Accepted"},
        "Accepted",
        {},
    ),
    Case(
        "clear-cache-16",
        V16,
        lambda o: service.clear_cache(o, SID),
        "ClearCache",
        {},
        {"status": "Accepted"},
        "Accepted",
        {},
    ),
    Case(
        "clear-cache-201",
        V201,
        lambda o: service.clear_cache(o, SID),
        "ClearCache",
        {},
        {"status": "Rejected"},
        "Rejected",
        {},
    ),
    Case(
        "data-transfer-16-json-text",
        V16,
        lambda o: service.data_transfer(o, SID, vendor_id="acme", message_id="m", data={"a": 1}),
        "DataTransfer",
        {"vendorId": "acme", "messageId": "m", "data": '{"a":1}'},
        {"status": "Accepted", "data": "pong"},
        "Accepted",
        {"data": "pong"},
    ),
    Case(
        "data-transfer-201",
        V201,
        lambda o: service.data_transfer(o, SID, vendor_id="acme", data={"a": [1, 2]}),
        "DataTransfer",
        {"vendorId": "acme", "data": {"a": [1, 2]}},
        {"status": "UnknownVendorId"},
        "UnknownVendorId",
        {"data": None},
    ),
]


@pytest.mark.parametrize("case", [c.param() for c in CASES])
async def test_command_maps_to_the_version_request_and_back(case: Case) -> None:
    outbound, station = connect(case.version, {case.action: case.answer})

    result = await case.command(outbound)

    assert station.calls == [(case.action, case.payload)]
    assert result.status == case.status
    assert result.action == case.action
    assert result.ocpp_version is case.version
    assert result.station_id == SID
    assert result.raw == case.answer
    for name, value in case.extra.items():
        assert getattr(result, name) == value


async def test_remote_start_201_generates_a_remote_start_id_and_returns_it() -> None:
    answer = {"status": "Accepted", "transactionId": "running-1"}
    outbound, station = connect(V201, {"RequestStartTransaction": answer})

    result = await service.remote_start(outbound, SID, id_token="TAG1")

    sent = station.last[1]
    assert sent["idToken"] == {"idToken": "TAG1", "type": "Central"}
    assert isinstance(sent["remoteStartId"], int) and sent["remoteStartId"] > 0
    assert result.remote_start_id == sent["remoteStartId"]
    assert result.transaction_id == "running-1"


async def test_get_base_report_generates_a_request_id() -> None:
    outbound, station = connect(V201, {"GetBaseReport": {"status": "Accepted"}})

    result = await service.get_base_report(outbound, SID, report_base="SummaryInventory")

    assert result.request_id == station.last[1]["requestId"]


async def test_get_configuration_16_lists_keys_and_unknown_keys() -> None:
    answer = {
        "configurationKey": [
            {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
            {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
        ],
        "unknownKey": ["Nope"],
    }
    outbound, station = connect(V16, {"GetConfiguration": answer})

    result = await service.get_configuration(
        outbound, SID, keys=["HeartbeatInterval", "NumberOfConnectors", "Nope"]
    )

    assert station.last == (
        "GetConfiguration",
        {"key": ["HeartbeatInterval", "NumberOfConnectors", "Nope"]},
    )
    assert result.status == "Accepted"
    assert result.entries == [
        ConfigurationEntry("HeartbeatInterval", "300", False),
        ConfigurationEntry("NumberOfConnectors", "2", True),
    ]
    assert result.unknown_keys == ["Nope"]


async def test_get_configuration_16_without_keys_asks_for_everything() -> None:
    outbound, station = connect(V16, {"GetConfiguration": {}})

    result = await service.get_configuration(outbound, SID)

    assert station.last == ("GetConfiguration", {})
    assert result.entries == [] and result.unknown_keys == []


async def test_get_variables_201() -> None:
    answer = {
        "getVariableResult": [
            {
                "attributeStatus": "Accepted",
                "attributeType": "Actual",
                "attributeValue": "300",
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
            },
            {
                "attributeStatus": "UnknownVariable",
                "component": {"name": "EVSE", "evse": {"id": 1}},
                "variable": {"name": "Nope", "instance": "x"},
                "attributeStatusInfo": {"reasonCode": "NotFound"},
            },
        ]
    }
    outbound, station = connect(V201, {"GetVariables": answer})
    items = [
        VariableGet(VariableRef("OCPPCommCtrlr", "HeartbeatInterval"), "Actual"),
        VariableGet(VariableRef("EVSE", "Nope", variable_instance="x", evse_id=1)),
    ]

    result = await service.get_variables(outbound, SID, items=items)

    assert station.last == (
        "GetVariables",
        {
            "getVariableData": [
                {
                    "attributeType": "Actual",
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"},
                },
                {
                    "component": {"name": "EVSE", "evse": {"id": 1}},
                    "variable": {"name": "Nope", "instance": "x"},
                },
            ]
        },
    )
    assert result.status == "Partial"
    first, second = result.results
    assert (first.status, first.value, first.attribute_type) == ("Accepted", "300", "Actual")
    assert first.ref == VariableRef("OCPPCommCtrlr", "HeartbeatInterval")
    assert (second.status, second.reason) == ("UnknownVariable", "NotFound")
    assert second.ref == VariableRef("EVSE", "Nope", variable_instance="x", evse_id=1)


async def test_set_variables_201_reboot_required_counts_as_success() -> None:
    answer = {
        "setVariableResult": [
            {
                "attributeStatus": "RebootRequired",
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
            }
        ]
    }
    outbound, station = connect(V201, {"SetVariables": answer})

    result = await service.set_variables(
        outbound,
        SID,
        items=[VariableSet(VariableRef("OCPPCommCtrlr", "HeartbeatInterval"), "60", "Target")],
    )

    assert station.last == (
        "SetVariables",
        {
            "setVariableData": [
                {
                    "attributeType": "Target",
                    "attributeValue": "60",
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"},
                }
            ]
        },
    )
    assert result.status == "Accepted"
    assert result.results[0].status == "RebootRequired"


async def test_set_variables_all_refused_is_rejected() -> None:
    answer = {
        "setVariableResult": [
            {"attributeStatus": "Rejected", "component": {"name": "C"}, "variable": {"name": "V"}}
        ]
    }
    outbound, _ = connect(V201, {"SetVariables": answer})

    result = await service.set_variables(
        outbound, SID, items=[VariableSet(VariableRef("C", "V"), "1")]
    )

    assert result.status == "Rejected"


@pytest.mark.parametrize(
    ("version", "command", "hint"),
    [
        (V201, lambda o: service.get_configuration(o, SID), "get variables"),
        (V201, lambda o: service.change_configuration(o, SID, key="k", value="v"), "set variables"),
        (V16, lambda o: service.get_variables(o, SID, items=[]), "get configuration"),
        (V16, lambda o: service.set_variables(o, SID, items=[]), "change configuration"),
        (V16, lambda o: service.get_base_report(o, SID, report_base="FullInventory"), "get"),
        (V16, lambda o: service.trigger_message(o, SID, message="transaction_event"), "2.0.1"),
        (V16, lambda o: service.reset(o, SID, kind="soft", evse_id=1), "whole station"),
        (V16, lambda o: service.remote_stop(o, SID, transaction_id="abc"), "integers"),
        (V16, lambda o: service.unlock_connector(o, SID), "connector_id"),
        (V201, lambda o: service.unlock_connector(o, SID), "evse_id"),
        (V16, lambda o: service.unlock_connector(o, SID, evse_id=1, connector_id=2), "one number"),
    ],
)
async def test_commands_a_version_cannot_express_are_invalid_input(
    version: OcppVersion, command: Command, hint: str
) -> None:
    outbound, station = connect(version, {})

    with pytest.raises(InvalidInput, match=hint):
        await command(outbound)

    assert station.calls == []


async def test_a_value_the_schema_refuses_is_invalid_input() -> None:
    # 1.6 idTag is at most 20 characters: the session (here the fake) refuses the payload.
    outbound, station = connect(V16, {"RemoteStartTransaction": {"status": "Accepted"}})

    with pytest.raises(InvalidInput):
        await service.remote_start(outbound, SID, id_token="T" * 21)

    assert station.calls == []


async def test_a_request_the_model_refuses_is_invalid_input() -> None:
    outbound, _ = connect(V201, {})

    with pytest.raises(InvalidInput) as caught:
        await service.remote_start(outbound, SID, id_token="T", id_token_type="Bogus")  # type: ignore[arg-type]

    assert caught.value.details["errors"]


async def test_unknown_station_is_not_connected() -> None:
    outbound = OcppOutbound(LocalRegistry())

    with pytest.raises(StationNotConnected):
        await service.reset(outbound, "nobody", kind="soft")
    with pytest.raises(StationNotConnected):
        await service.send_raw(outbound, "nobody", action="Reset", payload={"type": "Soft"})


@pytest.mark.parametrize(
    "error",
    [StationCallTimeout("no answer"), StationCallError("InternalError", "boom", {"x": 1})],
)
async def test_station_failures_propagate(error: Exception) -> None:
    outbound, _ = connect(V16, {"Reset": error})

    with pytest.raises(type(error)):
        await service.reset(outbound, SID, kind="hard")


async def test_an_answer_the_model_cannot_read_is_a_station_call_error() -> None:
    outbound, _ = connect(V16, {"Reset": {"status": "Maybe"}})

    with pytest.raises(StationCallError) as caught:
        await service.reset(outbound, SID, kind="hard")

    assert caught.value.error_code == "FormationViolation"


async def test_raw_call_sends_the_payload_as_is() -> None:
    outbound, station = connect(V201, {"GetLocalListVersion": {"versionNumber": 3}})

    result = await service.send_raw(outbound, SID, action="GetLocalListVersion", payload={})

    assert station.last == ("GetLocalListVersion", {})
    assert result.raw == {"versionNumber": 3}
    assert result.ocpp_version is V201


async def test_raw_call_of_an_action_of_another_version_is_invalid_input() -> None:
    outbound, station = connect(V16, {})

    with pytest.raises(InvalidInput):
        await service.send_raw(outbound, SID, action="GetVariables", payload={})

    assert station.calls == []
