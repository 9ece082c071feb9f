"""Schema validation: exact CALLERROR codes, date-times, and per-station leniency."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from borne.ocpp.errors import ErrorCode
from borne.ocpp.validation import (
    Direction,
    PayloadValidator,
    SchemaViolation,
    UnknownAction,
    code_for,
)
from borne.ocpp.versions import OcppVersion

REQ, RESP = Direction.REQUEST, Direction.RESPONSE


@pytest.fixture(scope="module")
def v16() -> PayloadValidator:
    return PayloadValidator(OcppVersion.V16)


@pytest.fixture(scope="module")
def v201() -> PayloadValidator:
    return PayloadValidator(OcppVersion.V201)


def meter_values(**over: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "connectorId": 1,
        "meterValue": [{"timestamp": "2024-05-01T10:00:00Z", "sampledValue": [{"value": "12"}]}],
    }
    payload.update(over)
    return payload


def boot201(model: str = "M1", **extra: Any) -> dict[str, Any]:
    return {"reason": "PowerUp", "chargingStation": {"model": model, "vendorName": "V", **extra}}


def violation(validator: PayloadValidator, action: str, payload: Any, **kw: Any) -> ErrorCode:
    with pytest.raises(SchemaViolation) as info:
        validator.validate(action, REQ, payload, **kw)
    return info.value.code


def test_actions_come_from_the_schema_files(v16: PayloadValidator, v201: PayloadValidator) -> None:
    assert {"BootNotification", "MeterValues", "Reset", "DataTransfer"} <= v16.actions
    assert "BootNotificationResponse" not in v16.actions
    assert {"BootNotification", "TransactionEvent", "GetVariables"} <= v201.actions
    assert not v16.has_schema("TransactionEvent")
    with pytest.raises(UnknownAction):
        v16.validate("TransactionEvent", REQ, {})


def test_valid_payloads_pass_unchanged(v16: PayloadValidator, v201: PayloadValidator) -> None:
    payload = meter_values()
    assert v16.validate("MeterValues", REQ, payload) is payload
    assert v201.validate("BootNotification", REQ, boot201()) == boot201()
    assert v16.validate("Heartbeat", RESP, {"currentTime": "2024-05-01T10:00:00Z"})


def test_schema_defaults_are_not_written_into_payloads(v201: PayloadValidator) -> None:
    payload = {"requestId": 1, "log": {"remoteLocation": "ftp://x"}, "logType": "DiagnosticsLog"}
    v201.validate("GetLog", REQ, payload)
    assert payload == {
        "requestId": 1,
        "log": {"remoteLocation": "ftp://x"},
        "logType": "DiagnosticsLog",
    }


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (meter_values(connectorId="1"), ErrorCode.TYPE_CONSTRAINT_VIOLATION),
        ({"connectorId": 1}, ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION),
        (meter_values(meterValue=[]), ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION),
        (meter_values(extra=1), ErrorCode.FORMAT_VIOLATION),
        (
            meter_values(meterValue=[{"timestamp": "yesterday", "sampledValue": [{"value": "1"}]}]),
            ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
        ),
        (
            meter_values(
                meterValue=[
                    {
                        "timestamp": "2024-05-01T10:00:00Z",
                        "sampledValue": [{"value": "1", "unit": "Js"}],
                    }
                ]
            ),
            ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
        ),
        ([1, 2], ErrorCode.FORMAT_VIOLATION),
    ],
)
def test_v16_violation_codes(v16: PayloadValidator, payload: Any, code: ErrorCode) -> None:
    assert violation(v16, "MeterValues", payload) is code


def test_v201_violation_codes(v201: PayloadValidator) -> None:
    assert violation(v201, "BootNotification", boot201("x" * 21)) is (
        ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    )
    assert violation(v201, "Heartbeat", {"x": 1}) is ErrorCode.FORMAT_VIOLATION
    # maximum (fullSoC: 0-100)
    needs = {
        "evseId": 1,
        "chargingNeeds": {
            "requestedEnergyTransfer": "DC",
            "dcChargingParameters": {"evMaxCurrent": 1, "evMaxVoltage": 1, "fullSoC": 101},
        },
    }
    assert (
        violation(v201, "NotifyEVChargingNeeds", needs) is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    )


def test_keyword_mapping() -> None:
    assert code_for("type", ["data", "x"]) is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    assert code_for("type", ["data"]) is ErrorCode.FORMAT_VIOLATION
    for rule in ("required", "minItems", "maxItems"):
        assert code_for(rule) is ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION
    for rule in ("enum", "maxLength", "minLength", "minimum", "maximum", "pattern", "format"):
        assert code_for(rule) is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    assert code_for("additionalProperties") is ErrorCode.FORMAT_VIOLATION


def test_leniency_extra_fields(v16: PayloadValidator, caplog: pytest.LogCaptureFixture) -> None:
    payload = meter_values(vendorThing=1)
    payload["meterValue"][0]["sampledValue"][0]["odd"] = True
    with caplog.at_level(logging.WARNING):
        out = v16.validate(
            "MeterValues", REQ, payload, leniency=frozenset({"extra_fields"}), station_id="CP7"
        )
    assert out == meter_values()
    assert "CP7" in caplog.text and "MeterValues" in caplog.text and "extra_fields" in caplog.text


def test_leniency_long_strings(v201: PayloadValidator, caplog: pytest.LogCaptureFixture) -> None:
    payload = boot201("y" * 30)
    with caplog.at_level(logging.WARNING):
        out = v201.validate(
            "BootNotification", REQ, payload, leniency=frozenset({"long_strings"}), station_id="CP8"
        )
    assert out["chargingStation"]["model"] == "y" * 30
    assert "long_strings" in caplog.text and "CP8" in caplog.text
    # Other violations are still refused under long_strings.
    assert violation(
        v201,
        "BootNotification",
        {"reason": "Nope", "chargingStation": {"model": "y" * 30, "vendorName": "V"}},
        leniency=frozenset({"long_strings"}),
    ) is (ErrorCode.PROPERTY_CONSTRAINT_VIOLATION)


def test_leniency_numeric_strings(v16: PayloadValidator) -> None:
    out = v16.validate(
        "MeterValues",
        REQ,
        meter_values(connectorId="2", transactionId=" 7 "),
        leniency=frozenset({"numeric_strings"}),
    )
    assert out["connectorId"] == 2 and out["transactionId"] == 7
    # A string that is not a number stays a type violation.
    assert (
        violation(
            v16,
            "MeterValues",
            meter_values(connectorId="two"),
            leniency=frozenset({"numeric_strings"}),
        )
        is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    )


def test_leniency_is_off_by_default_and_per_flag(v16: PayloadValidator) -> None:
    assert violation(v16, "MeterValues", meter_values(extra=1)) is ErrorCode.FORMAT_VIOLATION
    # numeric_strings does not excuse an extra field.
    assert (
        violation(
            v16, "MeterValues", meter_values(extra=1), leniency=frozenset({"numeric_strings"})
        )
        is ErrorCode.FORMAT_VIOLATION
    )


def test_all_schemas_compile() -> None:
    assert PayloadValidator(OcppVersion.V16).compile_all() == 78
