"""CALLERROR codes of OCPP-J, one version-agnostic enum and its wire name per version.

OCPP-J 1.6 (section 4.2.3) and 2.0.1 (part 4, section 4.3) define overlapping code lists:

========================  ================================  =================================
``ErrorCode``             OCPP 1.6 wire name                OCPP 2.0.1 wire name
========================  ================================  =================================
NOT_IMPLEMENTED           NotImplemented                    NotImplemented
NOT_SUPPORTED             NotSupported                      NotSupported
INTERNAL_ERROR            InternalError                     InternalError
PROTOCOL_ERROR            ProtocolError                     ProtocolError
SECURITY_ERROR            SecurityError                     SecurityError
FORMAT_VIOLATION          FormationViolation                FormatViolation
PROPERTY_CONSTRAINT_...   PropertyConstraintViolation       PropertyConstraintViolation
OCCURRENCE_CONSTRAINT_..  OccurenceConstraintViolation (sic) OccurrenceConstraintViolation
TYPE_CONSTRAINT_...       TypeConstraintViolation           TypeConstraintViolation
GENERIC_ERROR             GenericError                      GenericError
MESSAGE_TYPE_NOT_SUPP..   (none: 1.6 ignores) NotSupported  MessageTypeNotSupported
RPC_FRAMEWORK_ERROR       (none) FormationViolation         RpcFrameworkError
========================  ================================  =================================

1.6 has no ``RpcFrameworkError``; its closest code for a frame that does not conform to the PDU
structure is ``FormationViolation``. 1.6 has no ``MessageTypeNotSupported`` either (a 1.6
receiver ignores unknown message types); ``NotSupported`` is the fallback so that
``wire_name`` is total.
"""

from __future__ import annotations

from enum import Enum

from borne.ocpp.versions import OcppVersion


class ErrorCode(Enum):
    NOT_IMPLEMENTED = "NotImplemented"
    NOT_SUPPORTED = "NotSupported"
    INTERNAL_ERROR = "InternalError"
    PROTOCOL_ERROR = "ProtocolError"
    SECURITY_ERROR = "SecurityError"
    FORMAT_VIOLATION = "FormatViolation"
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
    OCCURRENCE_CONSTRAINT_VIOLATION = "OccurrenceConstraintViolation"
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"
    GENERIC_ERROR = "GenericError"
    MESSAGE_TYPE_NOT_SUPPORTED = "MessageTypeNotSupported"
    RPC_FRAMEWORK_ERROR = "RpcFrameworkError"


_V16_NAMES: dict[ErrorCode, str] = {code: code.value for code in ErrorCode} | {
    ErrorCode.FORMAT_VIOLATION: "FormationViolation",
    ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION: "OccurenceConstraintViolation",
    ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED: "NotSupported",
    ErrorCode.RPC_FRAMEWORK_ERROR: "FormationViolation",
}
_V201_NAMES: dict[ErrorCode, str] = {code: code.value for code in ErrorCode}

_WIRE: dict[OcppVersion, dict[ErrorCode, str]] = {
    OcppVersion.V16: _V16_NAMES,
    OcppVersion.V201: _V201_NAMES,
}

# Every name a station may send, per version, back to the agnostic code.
_PARSE: dict[OcppVersion, dict[str, ErrorCode]] = {
    OcppVersion.V16: {
        name: code
        for code, name in _V16_NAMES.items()
        if code not in (ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED, ErrorCode.RPC_FRAMEWORK_ERROR)
    },
    OcppVersion.V201: {name: code for code, name in _V201_NAMES.items()},
}


def wire_name(code: ErrorCode, version: OcppVersion) -> str:
    """The error code string to put in a CALLERROR for ``version``."""
    return _WIRE[version][code]


def parse_wire_name(name: str, version: OcppVersion) -> ErrorCode | None:
    """The agnostic code of a wire name sent by a station, None when the version has no such
    name."""
    return _PARSE[version].get(name)


def wire_names(version: OcppVersion) -> frozenset[str]:
    """All CALLERROR codes that ``version`` defines."""
    return frozenset(_PARSE[version])
