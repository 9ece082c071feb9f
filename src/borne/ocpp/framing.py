"""OCPP-J frames: parse and encode ``[2, id, action, payload]``, ``[3, id, payload]`` and
``[4, id, code, description, details]`` with ``orjson``.

A frame that cannot be understood raises ``FrameError``: its ``problem`` says what is wrong,
``message_id`` carries the message id when it could be read, ``message_type`` the message type
id when it is one of 2, 3, 4, and ``code(version)`` the CALLERROR code to answer with. Which id
to answer with, and whether to answer at all, is the session's decision (it depends on the
version, see ``borne.ocpp.session``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Any

import orjson

from borne.ocpp.errors import ErrorCode
from borne.ocpp.versions import OcppVersion

# OCPP-J 1.6 §4.1.2 and 2.0.1 §4.1.3: a message id is a string of at most 36 characters.
MAX_MESSAGE_ID_LENGTH = 36


class MessageType(IntEnum):
    CALL = 2
    CALLRESULT = 3
    CALLERROR = 4


@dataclass(frozen=True, slots=True)
class Call:
    message_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallResult:
    message_id: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallError:
    message_id: str
    error_code: str
    description: str
    details: dict[str, Any]


Frame = Call | CallResult | CallError


class FrameProblem(Enum):
    NOT_JSON = "not valid JSON"
    NOT_ARRAY = "not a non-empty JSON array"
    BAD_TYPE_ID = "message type id is not an integer"
    UNKNOWN_TYPE = "unknown message type id"
    BAD_MESSAGE_ID = "message id missing or not a non-empty string"
    ID_TOO_LONG = "message id longer than 36 characters"
    BAD_LENGTH = "wrong number of elements"
    MISSING_PAYLOAD = "CALL without payload"
    BAD_ACTION = "action is not a non-empty string"
    BAD_PAYLOAD = "payload is not a JSON object"
    BAD_ERROR_FIELDS = "CALLERROR code or description is not a string"


# 2.0.1 part 4 §4.3: RpcFrameworkError "content of the call is not a valid RPC request, for
# example: MessageId could not be read"; FormatViolation "payload for action is syntactically
# incorrect"; MessageTypeNotSupported for a message type number it does not know.
_CODES_V201: dict[FrameProblem, ErrorCode] = {
    p: ErrorCode.RPC_FRAMEWORK_ERROR for p in FrameProblem
} | {
    FrameProblem.UNKNOWN_TYPE: ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED,
    FrameProblem.BAD_PAYLOAD: ErrorCode.FORMAT_VIOLATION,
}
# 1.6 §4.2.3: FormationViolation "payload is syntactically incorrect or not conform the PDU
# structure"; ProtocolError "payload for action is incomplete".
_CODES_V16: dict[FrameProblem, ErrorCode] = {
    p: ErrorCode.FORMAT_VIOLATION for p in FrameProblem
} | {FrameProblem.MISSING_PAYLOAD: ErrorCode.PROTOCOL_ERROR}


class FrameError(Exception):
    def __init__(
        self,
        problem: FrameProblem,
        *,
        message_id: str | None = None,
        message_type: MessageType | None = None,
    ) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.message_id = message_id
        self.message_type = message_type

    def code(self, version: OcppVersion) -> ErrorCode:
        table = _CODES_V16 if version is OcppVersion.V16 else _CODES_V201
        return table[self.problem]


_LENGTHS = {MessageType.CALL: 4, MessageType.CALLRESULT: 3, MessageType.CALLERROR: 5}


def parse_frame(data: str | bytes) -> Frame:
    """Decode one WebSocket message into a frame, or raise ``FrameError``."""
    try:
        msg = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise FrameError(FrameProblem.NOT_JSON) from None
    if type(msg) is not list or not msg:
        raise FrameError(FrameProblem.NOT_ARRAY)
    n = len(msg)
    type_id = msg[0]
    message_id = msg[1] if n > 1 else None
    if type(message_id) is not str or not message_id:
        message_id = None
    if type(type_id) is not int:
        raise FrameError(FrameProblem.BAD_TYPE_ID, message_id=message_id)
    try:
        mtype = MessageType(type_id)
    except ValueError:
        raise FrameError(FrameProblem.UNKNOWN_TYPE, message_id=message_id) from None
    if message_id is None:
        raise FrameError(FrameProblem.BAD_MESSAGE_ID, message_type=mtype)
    if len(message_id) > MAX_MESSAGE_ID_LENGTH:
        raise FrameError(FrameProblem.ID_TOO_LONG, message_id=message_id, message_type=mtype)
    expected = _LENGTHS[mtype]
    if mtype is MessageType.CALL:
        if n != expected:
            problem = FrameProblem.MISSING_PAYLOAD if n == 3 else FrameProblem.BAD_LENGTH
            raise FrameError(problem, message_id=message_id, message_type=mtype)
        action = msg[2]
        if type(action) is not str or not action:
            raise FrameError(FrameProblem.BAD_ACTION, message_id=message_id, message_type=mtype)
        payload = msg[3]
        if type(payload) is not dict:
            raise FrameError(FrameProblem.BAD_PAYLOAD, message_id=message_id, message_type=mtype)
        return Call(message_id, action, payload)
    if mtype is MessageType.CALLRESULT:
        if n != expected:
            raise FrameError(FrameProblem.BAD_LENGTH, message_id=message_id, message_type=mtype)
        payload = msg[2]
        if type(payload) is not dict:
            raise FrameError(FrameProblem.BAD_PAYLOAD, message_id=message_id, message_type=mtype)
        return CallResult(message_id, payload)
    # CALLERROR: some stations omit the details; accept 4 elements.
    if n not in (4, 5):
        raise FrameError(FrameProblem.BAD_LENGTH, message_id=message_id, message_type=mtype)
    code, description = msg[2], msg[3]
    if type(code) is not str or type(description) is not str:
        raise FrameError(FrameProblem.BAD_ERROR_FIELDS, message_id=message_id, message_type=mtype)
    details = msg[4] if n == 5 else None
    return CallError(message_id, code, description, details if type(details) is dict else {})


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def encode_call(message_id: str, action: str, payload: Any) -> str:
    return _dumps([2, message_id, action, payload])


def encode_result(message_id: str, payload: Any) -> str:
    return _dumps([3, message_id, payload])


def encode_error(
    message_id: str, code: str, description: str, details: dict[str, Any] | None = None
) -> str:
    return _dumps([4, message_id, code, description, details if details is not None else {}])


def encode_frame(frame: Frame) -> str:
    if isinstance(frame, Call):
        return encode_call(frame.message_id, frame.action, frame.payload)
    if isinstance(frame, CallResult):
        return encode_result(frame.message_id, frame.payload)
    return encode_error(frame.message_id, frame.error_code, frame.description, frame.details)
