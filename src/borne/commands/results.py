"""What a command gives back, whatever OCPP version the station speaks, and the typed call helper.

Every result carries the version-agnostic ``status`` (the station's own status word, e.g.
``"Accepted"``), the optional reason a 2.0.1 station gave in ``statusInfo``, the OCPP action
that was sent, the station's version, and ``raw``: the station's answer in its wire form, for
transparency. Nothing here is stored: the station's own follow-up messages record outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict, TypeVar

from pydantic import ValidationError

from borne.core.errors import InvalidInput, StationCallError
from borne.ocpp.model_base import OcppModel
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.versions import OcppVersion

ResetKind = Literal["hard", "soft"]
Availability = Literal["operative", "inoperative"]
AttributeKind = Literal["Actual", "Target", "MinSet", "MaxSet"]
ReportBase = Literal["ConfigurationInventory", "FullInventory", "SummaryInventory"]
IdTokenKind = Literal[
    "Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local", "MacAddress", "NoAuthorization"
]
# The messages a station can be asked to send, by their version-agnostic name; each translator
# says how its version asks for it (see ``ocpp_v16.TRIGGERS`` and ``ocpp_v201.TRIGGERS``).
TriggerKind = Literal[
    "boot_notification",
    "heartbeat",
    "meter_values",
    "status_notification",
    "firmware_status_notification",
    "diagnostics_status_notification",
    "log_status_notification",
    "sign_charging_station_certificate",
    "sign_v2g_certificate",
    "sign_combined_certificate",
    "transaction_event",
    "publish_firmware_status_notification",
]


@dataclass(frozen=True, kw_only=True)
class CommandResult:
    station_id: str
    ocpp_version: OcppVersion
    action: str
    status: str
    raw: dict[str, Any]
    reason: str | None = None  # 2.0.1 statusInfo.reasonCode
    reason_info: str | None = None  # 2.0.1 statusInfo.additionalInfo


@dataclass(frozen=True, kw_only=True)
class RemoteStartResult(CommandResult):
    # The id sent to a 2.0.1 station: its TransactionEvent(Started) carries it back.
    remote_start_id: int | None = None
    # 2.0.1 stations may answer with the id of a transaction already running on the EVSE.
    transaction_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class ReportResult(CommandResult):
    # The id the station's NotifyReport messages will carry.
    request_id: int


@dataclass(frozen=True, kw_only=True)
class DataTransferResult(CommandResult):
    data: Any = None


@dataclass(frozen=True)
class ConfigurationEntry:
    key: str
    value: str | None
    readonly: bool


@dataclass(frozen=True, kw_only=True)
class ConfigurationResult(CommandResult):
    entries: list[ConfigurationEntry] = field(default_factory=list)
    unknown_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class VariableRef:
    """A 2.0.1 device-model address: component (optionally on an EVSE/connector) + variable."""

    component: str
    variable: str
    component_instance: str | None = None
    variable_instance: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None


@dataclass(frozen=True)
class VariableGet:
    ref: VariableRef
    attribute_type: AttributeKind | None = None


@dataclass(frozen=True)
class VariableSet:
    ref: VariableRef
    value: str
    attribute_type: AttributeKind | None = None


@dataclass(frozen=True)
class VariableOutcome:
    ref: VariableRef
    status: str
    attribute_type: str | None = None
    value: str | None = None  # GetVariables only
    reason: str | None = None
    reason_info: str | None = None


@dataclass(frozen=True, kw_only=True)
class VariablesResult(CommandResult):
    """``status`` sums up the per-variable statuses: ``"Accepted"`` when every one succeeded
    (``RebootRequired`` counts as success for SetVariables), ``"Rejected"`` when none did,
    ``"Partial"`` otherwise. Each outcome keeps the station's own status."""

    results: list[VariableOutcome] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class RawResult:
    station_id: str
    ocpp_version: OcppVersion
    action: str
    raw: dict[str, Any]


class ResultBase(TypedDict):
    """The fields every ``CommandResult`` has, built once by ``base`` for each translator."""

    station_id: str
    ocpp_version: OcppVersion
    action: str
    status: str
    raw: dict[str, Any]
    reason: str | None
    reason_info: str | None


def base(
    station_id: str,
    version: OcppVersion,
    action: str,
    answer: OcppModel,
    status: str,
    *,
    reason: str | None = None,
    reason_info: str | None = None,
) -> ResultBase:
    return ResultBase(
        station_id=station_id,
        ocpp_version=version,
        action=action,
        status=status,
        raw=answer.to_payload(),
        reason=reason,
        reason_info=reason_info,
    )


M = TypeVar("M", bound=OcppModel)


def build(model: type[M], **fields: Any) -> M:
    """Build an OCPP request, turning a refused value into ``InvalidInput`` (422)."""
    try:
        return model(**fields)
    except ValidationError as exc:
        raise InvalidInput(
            f"invalid {model.__name__}",
            details={
                "errors": [
                    {"loc": [str(p) for p in e["loc"]], "message": e["msg"]}
                    for e in exc.errors(include_url=False, include_input=False)
                ]
            },
        ) from None


async def send(
    outbound: OcppOutbound,
    station_id: str,
    request: OcppModel,
    answer: type[M],
    call_timeout: float | None,
) -> M:
    """Send ``request`` and return the station's answer typed as ``answer``.

    An answer the typed model cannot read is the station's fault: it becomes a
    ``StationCallError`` (502) with OCPP's ``FormationViolation`` code.
    """
    try:
        response = await outbound.call(station_id, request, timeout=call_timeout)
    except ValidationError:
        raise StationCallError(
            "FormationViolation", "the station's answer does not match the OCPP schema"
        ) from None
    if not isinstance(response, answer):  # pragma: no cover - a wiring bug, not an input
        raise TypeError(f"expected {answer.__name__}, got {type(response).__name__}")
    return response


def summarise(statuses: list[str], ok: frozenset[str]) -> str:
    """The overall status of a multi-item answer (see ``VariablesResult``)."""
    good = sum(1 for s in statuses if s in ok)
    if statuses and good == len(statuses):
        return "Accepted"
    return "Partial" if good else "Rejected"
