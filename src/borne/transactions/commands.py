"""OCPP 2.0.1 GetTransactionStatus (E14): whether a transaction is still going on at the station
and whether the station still holds transaction messages it has not delivered yet. Without a
transaction id the station only says whether it has any queued. OCPP 1.6 has no such command.
"""

from __future__ import annotations

from dataclasses import dataclass

from borne.commands.results import CommandResult, base, build, send
from borne.core.errors import InvalidInput, StationNotConnected
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.v201 import models as v201
from borne.ocpp.versions import OcppVersion

VERSION = OcppVersion.V201


@dataclass(frozen=True, kw_only=True)
class TransactionStatusResult(CommandResult):
    # None when no transaction id was asked about (the station then leaves it out).
    ongoing_indicator: bool | None
    messages_in_queue: bool


async def get_transaction_status(
    outbound: OcppOutbound,
    station_id: str,
    *,
    transaction_id: str | None,
    call_timeout: float | None,
) -> TransactionStatusResult:
    version = outbound.version_of(station_id)
    if version is None:
        raise StationNotConnected(f"station {station_id} is not connected")
    if version is not VERSION:
        raise InvalidInput(
            f"GetTransactionStatus is an OCPP 2.0.1 command; the station speaks {version}"
        )
    request = build(v201.GetTransactionStatusRequest, transaction_id=transaction_id)
    answer = await send(
        outbound, station_id, request, v201.GetTransactionStatusResponse, call_timeout
    )
    # The answer has no status word: an answer at all is ``Accepted``.
    return TransactionStatusResult(
        **base(station_id, VERSION, "GetTransactionStatus", answer, "Accepted"),
        ongoing_indicator=answer.ongoing_indicator,
        messages_in_queue=answer.messages_in_queue,
    )
