"""OCPI commands module, CPO receiver interface: ``POST /{version}/cpo/commands/{command}``.

The same for 2.2.1 and 2.3.0. Answers the synchronous ``CommandResponse``; the
``CommandResult`` follows at the partner's ``response_url`` (see :mod:`borne.roaming.commands`).
"""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import APIRouter, Body, Depends, Request
from pydantic import ValidationError

from borne.ocpi.auth import require_registered_party
from borne.ocpi.envelope import OcpiResponse, ok
from borne.ocpi.errors import InvalidParameters
from borne.ocpi.party import Party
from borne.ocpi.versions import OcpiVersion
from borne.roaming.commands import CommandsReceiver
from borne.roaming.commands_messages import CommandType

#: Where composition puts the receiver on the OCPI sub-application's state.
STATE_KEY = "ocpi_commands"

router = APIRouter(tags=["commands"])


def _receiver(request: Request) -> CommandsReceiver:
    return cast(CommandsReceiver, getattr(request.app.state, STATE_KEY))


def _problem(exc: ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False)[:3]
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in first)


@router.post("/{version}/cpo/commands/{command}", summary="Receive a command (CPO)")
async def post_command(
    version: OcpiVersion,
    command: CommandType,
    body: Annotated[dict[str, Any], Body()],
    party: Annotated[Party, Depends(require_registered_party)],
    receiver: Annotated[CommandsReceiver, Depends(_receiver)],
) -> OcpiResponse:
    try:
        answer = await receiver.receive(party, command, body)
    except ValidationError as exc:
        raise InvalidParameters(f"invalid {command}: {_problem(exc)}") from None
    return ok(answer.as_ocpi())
