"""The small OCPP 2.0.1 device model of a simulated station (components and variables)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from borne.simulator.config import SimulationConfig


@dataclass(slots=True)
class Variable:
    value: str
    mutability: str = "ReadWrite"  # ReadOnly | WriteOnly | ReadWrite
    data_type: str = "string"  # string | integer | boolean | MemberList | OptionList | …

    def accepts(self, value: str) -> bool:
        if self.data_type == "integer":
            return value.lstrip("-").isdigit()
        if self.data_type == "boolean":
            return value in ("true", "false")
        return len(value) <= 1000


DeviceModel = dict[tuple[str, str], Variable]


def default_device_model(cfg: SimulationConfig, station_id: str) -> DeviceModel:
    measurands = "Energy.Active.Import.Register,Power.Active.Import,SoC"
    return {
        ("OCPPCommCtrlr", "HeartbeatInterval"): Variable(
            str(int(cfg.heartbeat_interval or 60)), data_type="integer"
        ),
        ("OCPPCommCtrlr", "WebSocketPingInterval"): Variable("20", data_type="integer"),
        ("OCPPCommCtrlr", "NetworkProfileConnectionAttempts"): Variable("3", data_type="integer"),
        ("SampledDataCtrlr", "TxUpdatedInterval"): Variable(
            str(max(1, round(cfg.meter_interval))), data_type="integer"
        ),
        ("SampledDataCtrlr", "TxUpdatedMeasurands"): Variable(measurands, data_type="MemberList"),
        ("SampledDataCtrlr", "TxEndedMeasurands"): Variable(
            "Energy.Active.Import.Register", data_type="MemberList"
        ),
        ("AuthCtrlr", "AuthorizeRemoteStart"): Variable("false", data_type="boolean"),
        ("AuthCtrlr", "LocalPreAuthorize"): Variable("false", data_type="boolean"),
        ("TxCtrlr", "EVConnectionTimeOut"): Variable("60", data_type="integer"),
        ("TxCtrlr", "TxStartPoint"): Variable("Authorized", data_type="MemberList"),
        ("TxCtrlr", "TxStopPoint"): Variable("Authorized,EVConnected", data_type="MemberList"),
        ("SecurityCtrlr", "Identity"): Variable(station_id, mutability="ReadOnly"),
        ("SecurityCtrlr", "SecurityProfile"): Variable(
            "1", mutability="ReadOnly", data_type="integer"
        ),
        ("SecurityCtrlr", "BasicAuthPassword"): Variable(
            cfg.password or "", mutability="WriteOnly"
        ),
        ("ChargingStation", "AvailabilityState"): Variable(
            "Available", mutability="ReadOnly", data_type="OptionList"
        ),
        ("ChargingStation", "Model"): Variable(cfg.model, mutability="ReadOnly"),
        ("ChargingStation", "VendorName"): Variable(cfg.vendor, mutability="ReadOnly"),
        ("DeviceDataCtrlr", "ItemsPerMessage"): Variable(
            "20", mutability="ReadOnly", data_type="integer"
        ),
    }


def get_variable(model: DeviceModel, item: dict[str, Any]) -> dict[str, Any]:
    """One ``GetVariableResult`` (snake_case keys, as the ``ocpp`` package expects)."""
    component, variable = item["component"], item["variable"]
    result: dict[str, Any] = {"component": component, "variable": variable}
    attribute_type = item.get("attribute_type")
    if attribute_type is not None:
        result["attribute_type"] = attribute_type
    names = {c for c, _ in model}
    entry = model.get((component["name"], variable["name"]))
    if attribute_type not in (None, "Actual") and entry is not None:
        result["attribute_status"] = "NotSupportedAttributeType"
    elif component["name"] not in names:
        result["attribute_status"] = "UnknownComponent"
    elif entry is None:
        result["attribute_status"] = "UnknownVariable"
    elif entry.mutability == "WriteOnly":
        result["attribute_status"] = "Rejected"
    else:
        result["attribute_status"] = "Accepted"
        result["attribute_value"] = entry.value
    return result


def set_variable(model: DeviceModel, item: dict[str, Any]) -> dict[str, Any]:
    """Apply one ``SetVariableData``; return its ``SetVariableResult``."""
    component, variable = item["component"], item["variable"]
    result: dict[str, Any] = {"component": component, "variable": variable}
    attribute_type = item.get("attribute_type")
    if attribute_type is not None:
        result["attribute_type"] = attribute_type
    names = {c for c, _ in model}
    entry = model.get((component["name"], variable["name"]))
    if attribute_type not in (None, "Actual") and entry is not None:
        result["attribute_status"] = "NotSupportedAttributeType"
    elif component["name"] not in names:
        result["attribute_status"] = "UnknownComponent"
    elif entry is None:
        result["attribute_status"] = "UnknownVariable"
    elif entry.mutability == "ReadOnly" or not entry.accepts(str(item["attribute_value"])):
        result["attribute_status"] = "Rejected"
    else:
        entry.value = str(item["attribute_value"])
        result["attribute_status"] = "Accepted"
    return result


def report_data(model: DeviceModel, report_base: str) -> list[dict[str, Any]]:
    """``ReportData`` entries of a base report (Full, Configuration or Summary inventory)."""
    rows: list[dict[str, Any]] = []
    for (component, name), entry in model.items():
        if report_base == "ConfigurationInventory" and entry.mutability == "ReadOnly":
            continue
        if report_base == "SummaryInventory" and component != "ChargingStation":
            continue
        attribute: dict[str, Any] = {"type": "Actual", "mutability": entry.mutability}
        if entry.mutability != "WriteOnly":
            attribute["value"] = entry.value
        rows.append(
            {
                "component": {"name": component},
                "variable": {"name": name},
                "variable_attribute": [attribute],
                "variable_characteristics": {
                    "data_type": entry.data_type,
                    "supports_monitoring": False,
                },
            }
        )
    return rows
