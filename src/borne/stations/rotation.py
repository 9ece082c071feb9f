"""Rotate a station's HTTP Basic password through OCPP without locking it out (R24).

``rotate_password`` stores the new password as *pending* (hashed, in a unit of work committed
before anything is sent), then sends it to the station: 1.6 ``ChangeConfiguration`` of
``AuthorizationKey``, 2.0.1 ``SetVariables`` of ``SecurityCtrlr.BasicAuthPassword``.

- The station accepts (``Accepted``, or ``RebootRequired``: it will use the new password after
  its reboot): both passwords stay valid. The station directory promotes the pending one the
  first time the station logs in with it; the old one is refused from then on.
- The station refuses (``Rejected``, ``NotSupported``, a 2.0.1 unknown component or variable), or
  the call certainly never reached it (invalid payload, call queue full): the pending password
  is withdrawn; the old one stays the only valid one.
- The outcome is unknown (no answer in time, connection lost during the call, a CALLERROR):
  for a timeout or a lost connection the station may have applied the new password, so it stays
  pending: withdrawing it could lock the station out, keeping it costs nothing until the next
  rotation. A CALLERROR is the station's refusal: withdrawn.

A pending password set by an earlier rotation that the station accepted but has not used yet is
put back when the new rotation is refused: the station still holds that one.

The password never appears in logs, errors or results.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from borne.commands import service as commands
from borne.commands.results import CommandResult, VariableRef, VariableSet
from borne.core.errors import BorneError, InvalidInput, StationCallTimeout, StationNotConnected
from borne.core.uow import Database
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.versions import OcppVersion
from borne.stations import admin, passwords
from borne.stations.models import Station

log = logging.getLogger(__name__)

KEY_V16 = "AuthorizationKey"
VARIABLE_V201 = VariableRef(component="SecurityCtrlr", variable="BasicAuthPassword")
# Station answers that mean "I will use the new password".
ACCEPTED = frozenset({"Accepted", "RebootRequired"})


@dataclass(frozen=True, kw_only=True)
class RotationResult:
    station_id: str
    ocpp_version: OcppVersion
    action: str  # ChangeConfiguration | SetVariables
    status: str  # the station's own answer, e.g. Accepted, RebootRequired, Rejected
    accepted: bool
    # Whether the new password is now accepted beside the current one (until first use).
    pending: bool
    reason: str | None = None  # 2.0.1 statusInfo.reasonCode


def check_new_password(password: str) -> None:
    """16 to 40 printable ASCII characters without spaces: what OCPP allows for the Basic
    password (1.6 security whitepaper, 2.0.1 ``passwordString``) and what every station can put
    in an ``Authorization`` header unchanged. The message never contains the password."""
    if not passwords.MIN_LENGTH <= len(password) <= passwords.MAX_LENGTH:
        raise InvalidInput(
            f"password must be {passwords.MIN_LENGTH} to {passwords.MAX_LENGTH} characters"
        )
    if any(not 0x21 <= ord(c) <= 0x7E for c in password):
        raise InvalidInput("password must be printable ASCII characters without spaces")


async def rotate_password(
    db: Database,
    outbound: OcppOutbound,
    *,
    station_id: str,
    new_password: str,
    now: datetime,
    password_iterations: int = passwords.DEFAULT_ITERATIONS,
    call_timeout: float | None = None,
) -> RotationResult:
    """Send ``new_password`` to the connected station and keep the old one valid until the
    station logs in with the new one.

    Raises ``InvalidInput`` (422), ``NotFound`` (404), ``StationNotConnected`` (409),
    ``StationCallError`` (502), ``StationCallTimeout`` (504), ``CallQueueFull`` (503).
    """
    check_new_password(new_password)
    version = outbound.version_of(station_id)
    if version is None:
        raise StationNotConnected(f"station {station_id} is not connected")
    async with db.unit_of_work() as uow:
        station = await uow.session.get(Station, station_id)
        if station is not None and station.security_profile == 0:
            # Profile 0 logs in without credentials, so a pending password would never be
            # confirmed; the operator sets profile 1 and a password with PATCH instead.
            raise InvalidInput(
                f"station {station_id} uses security profile 0 (no password); "
                "give it profile 1 and a password first"
            )
        previous = None if station is None else station.pending_password_hash
        await admin.set_pending_password(
            uow,
            station_id=station_id,
            password=new_password,
            now=now,
            password_iterations=password_iterations,
        )
        await uow.commit()  # before sending: an accepted password is never unknown to Borne
    try:
        result = await _send(outbound, station_id, version, new_password, call_timeout)
    except (StationCallTimeout, StationNotConnected) as exc:
        log.warning(
            "station %s: password rotation outcome unknown (%s); the new password stays "
            "pending beside the current one",
            station_id,
            exc.code,
        )
        exc.details = {**exc.details, "password_rotation_pending": True}
        raise
    except Exception as exc:
        await _withdraw(db, station_id, new_password, previous, now)
        log.warning(
            "station %s: password rotation failed (%s); the current password stays valid",
            station_id,
            exc.code if isinstance(exc, BorneError) else type(exc).__name__,
        )
        raise
    accepted = result.status in ACCEPTED
    if not accepted:
        await _withdraw(db, station_id, new_password, previous, now)
    log.info(
        "station %s: password rotation %s (%s %s)",
        station_id,
        "accepted, new password pending until used" if accepted else "refused",
        result.action,
        result.status,
    )
    return RotationResult(
        station_id=station_id,
        ocpp_version=result.ocpp_version,
        action=result.action,
        status=result.status,
        accepted=accepted,
        pending=accepted,
        reason=result.reason,
    )


async def _send(
    outbound: OcppOutbound,
    station_id: str,
    version: OcppVersion,
    password: str,
    call_timeout: float | None,
) -> CommandResult:
    if version is OcppVersion.V16:
        return await commands.change_configuration(
            outbound, station_id, key=KEY_V16, value=password, call_timeout=call_timeout
        )
    answer = await commands.set_variables(
        outbound,
        station_id,
        items=[VariableSet(ref=VARIABLE_V201, value=password)],
        call_timeout=call_timeout,
    )
    outcome = answer.results[0] if len(answer.results) == 1 else None
    if outcome is None:  # the station answered for no variable, or for several
        return answer
    return CommandResult(
        station_id=answer.station_id,
        ocpp_version=answer.ocpp_version,
        action=answer.action,
        status=outcome.status,
        raw=answer.raw,
        reason=outcome.reason,
        reason_info=outcome.reason_info,
    )


async def _withdraw(
    db: Database, station_id: str, password: str, previous: str | None, now: datetime
) -> None:
    """Forget the refused password, unless another rotation has replaced it meanwhile; put back
    the pending password of an earlier rotation the station may still hold."""
    async with db.unit_of_work() as uow:
        station = await uow.session.get(Station, station_id)
        if station is None or station.pending_password_hash is None:
            return
        ours = await asyncio.to_thread(
            passwords.verify_password, password, station.pending_password_hash
        )
        if not ours:
            return
        if previous is None:
            await admin.cancel_pending_password(uow, station_id=station_id, now=now)
        else:
            station.pending_password_hash = previous
            station.updated_at = now
        await uow.commit()
