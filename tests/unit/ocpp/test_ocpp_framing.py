"""OCPP-J framing and CALLERROR code names."""

from __future__ import annotations

import orjson
import pytest

from borne.ocpp.errors import ErrorCode, parse_wire_name, wire_name, wire_names
from borne.ocpp.framing import (
    Call,
    CallError,
    CallResult,
    FrameError,
    FrameProblem,
    MessageType,
    encode_call,
    encode_error,
    encode_frame,
    encode_result,
    parse_frame,
)
from borne.ocpp.versions import OcppVersion

V16, V201 = OcppVersion.V16, OcppVersion.V201


def test_parses_the_three_frame_types() -> None:
    assert parse_frame('[2,"1","Heartbeat",{}]') == Call("1", "Heartbeat", {})
    assert parse_frame(b'[3,"1",{"a":1}]') == CallResult("1", {"a": 1})
    assert parse_frame('[4,"1","NotSupported","no",{"x":1}]') == CallError(
        "1", "NotSupported", "no", {"x": 1}
    )
    # Details are optional in practice.
    assert parse_frame('[4,"1","GenericError","boom"]') == CallError(
        "1", "GenericError", "boom", {}
    )


def test_encodes_round_trip() -> None:
    for frame in (Call("a", "Heartbeat", {}), CallResult("a", {"x": [1]})):
        assert parse_frame(encode_frame(frame)) == frame
    assert orjson.loads(encode_call("1", "Reset", {"type": "Soft"})) == [
        2,
        "1",
        "Reset",
        {"type": "Soft"},
    ]
    assert orjson.loads(encode_result("1", {})) == [3, "1", {}]
    assert orjson.loads(encode_error("1", "InternalError", "x")) == [
        4,
        "1",
        "InternalError",
        "x",
        {},
    ]


@pytest.mark.parametrize(
    ("text", "problem", "message_id", "mtype"),
    [
        ("not json", FrameProblem.NOT_JSON, None, None),
        ("{}", FrameProblem.NOT_ARRAY, None, None),
        ("[]", FrameProblem.NOT_ARRAY, None, None),
        ('["2","a","Heartbeat",{}]', FrameProblem.BAD_TYPE_ID, "a", None),
        ('[9,"a",{}]', FrameProblem.UNKNOWN_TYPE, "a", None),
        ('[2,7,"Heartbeat",{}]', FrameProblem.BAD_MESSAGE_ID, None, MessageType.CALL),
        ('[2,"","Heartbeat",{}]', FrameProblem.BAD_MESSAGE_ID, None, MessageType.CALL),
        (
            '[2,"' + "x" * 37 + '","Heartbeat",{}]',
            FrameProblem.ID_TOO_LONG,
            "x" * 37,
            MessageType.CALL,
        ),
        ('[2,"a","Heartbeat"]', FrameProblem.MISSING_PAYLOAD, "a", MessageType.CALL),
        ('[2,"a","Heartbeat",{},1]', FrameProblem.BAD_LENGTH, "a", MessageType.CALL),
        ('[2,"a",5,{}]', FrameProblem.BAD_ACTION, "a", MessageType.CALL),
        ('[2,"a","Heartbeat",[]]', FrameProblem.BAD_PAYLOAD, "a", MessageType.CALL),
        ('[3,"a"]', FrameProblem.BAD_LENGTH, "a", MessageType.CALLRESULT),
        ('[3,"a",null]', FrameProblem.BAD_PAYLOAD, "a", MessageType.CALLRESULT),
        ('[4,"a",1,"x",{}]', FrameProblem.BAD_ERROR_FIELDS, "a", MessageType.CALLERROR),
    ],
)
def test_framing_errors_carry_problem_and_readable_id(
    text: str, problem: FrameProblem, message_id: str | None, mtype: MessageType | None
) -> None:
    with pytest.raises(FrameError) as info:
        parse_frame(text)
    assert info.value.problem is problem
    assert info.value.message_id == message_id
    assert info.value.message_type is mtype


def test_a_36_character_id_is_fine() -> None:
    assert parse_frame('[2,"' + "x" * 36 + '","Heartbeat",{}]').message_id == "x" * 36


def test_frame_error_codes_per_version() -> None:
    def code(problem: FrameProblem, version: OcppVersion) -> ErrorCode:
        return FrameError(problem).code(version)

    assert code(FrameProblem.NOT_JSON, V201) is ErrorCode.RPC_FRAMEWORK_ERROR
    assert code(FrameProblem.UNKNOWN_TYPE, V201) is ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED
    assert code(FrameProblem.BAD_PAYLOAD, V201) is ErrorCode.FORMAT_VIOLATION
    assert code(FrameProblem.BAD_LENGTH, V16) is ErrorCode.FORMAT_VIOLATION
    assert code(FrameProblem.MISSING_PAYLOAD, V16) is ErrorCode.PROTOCOL_ERROR


def test_wire_names_per_version() -> None:
    assert wire_name(ErrorCode.FORMAT_VIOLATION, V16) == "FormationViolation"
    assert wire_name(ErrorCode.FORMAT_VIOLATION, V201) == "FormatViolation"
    assert (
        wire_name(ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION, V16) == "OccurenceConstraintViolation"
    )
    assert (
        wire_name(ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION, V201)
        == "OccurrenceConstraintViolation"
    )
    assert wire_name(ErrorCode.RPC_FRAMEWORK_ERROR, V201) == "RpcFrameworkError"
    assert wire_names(V16) == {
        "NotImplemented",
        "NotSupported",
        "InternalError",
        "ProtocolError",
        "SecurityError",
        "FormationViolation",
        "PropertyConstraintViolation",
        "OccurenceConstraintViolation",
        "TypeConstraintViolation",
        "GenericError",
    }
    assert wire_names(V201) == {
        "FormatViolation",
        "GenericError",
        "InternalError",
        "MessageTypeNotSupported",
        "NotImplemented",
        "NotSupported",
        "OccurrenceConstraintViolation",
        "PropertyConstraintViolation",
        "ProtocolError",
        "RpcFrameworkError",
        "SecurityError",
        "TypeConstraintViolation",
    }
    assert parse_wire_name("FormationViolation", V16) is ErrorCode.FORMAT_VIOLATION
    assert parse_wire_name("RpcFrameworkError", V16) is None
