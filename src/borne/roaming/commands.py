"""OCPI commands, CPO receiver side: a partner's command → the station's OCPP call → the result.

OCPI commands are asynchronous. The synchronous ``CommandResponse`` says whether Borne
understood the command and can pass it on; the ``CommandResult`` (what the station answered,
or ``TIMEOUT``) is POSTed later to the partner's ``response_url``. Here:

1. :meth:`CommandsReceiver.receive` checks the command (location/EVSE known, the token or
   session belongs to the partner, the station connected), stores a :class:`RoamingCommand`
   and commits, then answers ``ACCEPTED`` with the deadline in seconds.
2. A supervised task sends the OCPP call through :mod:`borne.commands.service` (the station's
   own version: RemoteStart/RequestStartTransaction, RemoteStop/RequestStopTransaction,
   ReserveNow, CancelReservation, UnlockConnector).
3. The answer is mapped to an OCPI ``CommandResultType`` and, in one transaction, stored on the
   command and written to the OCPI outbox (``borne.ocpi.outbox``) for the ``response_url``:
   never lost, never sent twice.
4. A sweep gives ``TIMEOUT`` to commands still pending after their deadline (a station that
   never answered, or a Borne restart in between).

START_SESSION has no session limits in OCPI 2.2.1 or 2.3.0, so none reach the limits domain.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from borne.authorization.service import token_key
from borne.commands import service as commands
from borne.commands.results import CommandResult as StationAnswer
from borne.core.clock import Clock
from borne.core.errors import (
    BorneError,
)
from borne.core.supervisor import Supervisor
from borne.core.uow import Database
from borne.locations.models import EvseDescriptor, StationLocation
from borne.ocpi import outbox
from borne.ocpi.errors import InvalidParameters, UnknownLocation
from borne.ocpi.party import Party
from borne.ocpp.outbound import OcppOutbound
from borne.roaming.commands_messages import (
    BODIES,
    TOKEN_KINDS,
    CancelReservation,
    CommandAnswer,
    CommandBody,
    CommandType,
    ReserveNow,
    StartSession,
    StopSession,
    UnlockConnector,
    map_station_answer,
    map_station_error,
)
from borne.roaming.commands_models import DONE, PENDING, RoamingCommand, RoamingReservation
from borne.roaming.tokens_models import RoamingAuthorization

log = logging.getLogger(__name__)

#: How long after an accepted START_SESSION the station's authorization of that token at that
#: station needs no real-time authorization (OCPI mod_commands, StartSession: 15 minutes).
START_SESSION_GRACE = timedelta(minutes=15)
#: ``RoamingAuthorization.source`` of a START_SESSION's token (the session's auth_method COMMAND).
COMMAND_SOURCE = "command"


@dataclass(frozen=True)
class SessionRef:
    """What STOP_SESSION needs of a session: where it runs and whose token started it."""

    station_id: str
    transaction_id: str
    token_country_code: str | None
    token_party_id: str | None
    active: bool


#: Finds a session by its OCPI id (wired by composition to the sessions module).
SessionFinder = Callable[[AsyncSession, str], Awaitable[SessionRef | None]]


@dataclass(frozen=True)
class _Target:
    station_id: str
    evse_id: int | None
    connector_id: int | None


def _owns(party: Party, country_code: str | None, party_id: str | None) -> bool:
    # OCPI ids are case-insensitive; roles are stored upper-cased
    if country_code is None or party_id is None:
        return False
    cc, pid = country_code.upper(), party_id.upper()
    return any(r.country_code.upper() == cc and r.party_id.upper() == pid for r in party.roles)


def _connector_number(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise InvalidParameters(f"unknown connector_id {value[:36]!r}") from None
    if number < 0:
        raise InvalidParameters(f"unknown connector_id {value[:36]!r}")
    return number


async def _target(
    session: AsyncSession, location_id: str, evse_uid: str | None, connector_id: str | None
) -> _Target:
    """The station (and EVSE, connector) a command addresses; UnknownLocation (2003) when the
    location or EVSE is not Borne's, with HTTP 200: the command endpoint exists (status codes:
    no HTTP error for a request that reached the OCPI layer; the OpenAPI documents no 404)."""
    stations = list(
        await session.scalars(
            select(StationLocation.station_id).where(StationLocation.location_id == location_id)
        )
    )
    if not stations:
        raise UnknownLocation(f"unknown location {location_id[:36]!r}", http_status=200)
    connector = _connector_number(connector_id)
    if evse_uid is None:
        if len(stations) != 1:
            raise InvalidParameters("this location has several stations: give evse_uid")
        return _Target(stations[0], None, connector)
    # EVSE uids are CiStrings (as the locations module matches them)
    evses = await session.scalars(
        select(EvseDescriptor).where(
            EvseDescriptor.station_id.in_(stations),
            func.upper(EvseDescriptor.evse_uid) == evse_uid.upper(),
        )
    )
    evse = evses.first()
    if evse is None:
        raise UnknownLocation(
            f"unknown EVSE {evse_uid[:36]!r} at location {location_id[:36]!r}", http_status=200
        )
    return _Target(evse.station_id, evse.evse_id, connector)


async def _reservation_row(
    session: AsyncSession, partner_id: int, reservation_id: str
) -> RoamingReservation | None:
    """The partner's reservation of that id; ids are CiStrings (``R-1`` is ``r-1``)."""
    rows = await session.scalars(
        select(RoamingReservation)
        .where(
            RoamingReservation.partner_id == partner_id,
            func.upper(RoamingReservation.reservation_id) == reservation_id.upper(),
        )
        .order_by(RoamingReservation.id)
    )
    return rows.first()


def _command_authorization(
    party: Party, body: StartSession, target: _Target, now: datetime
) -> RoamingAuthorization:
    token = body.token
    return RoamingAuthorization(
        partner_id=party.partner_id,
        country_code=token.country_code,
        party_id=token.party_id,
        token_uid=token.uid,
        token_uid_key=token_key(token.uid),
        token_type=token.type,
        contract_id=token.contract_id,
        station_id=target.station_id,
        evse_id=target.evse_id,
        location_id=body.location_id,
        result="ALLOWED",
        allowed=True,
        source=COMMAND_SOURCE,
        authorization_reference=body.authorization_reference,
        decided_at=now,
        expires_at=now + START_SESSION_GRACE,
    )


async def _withdraw_authorization(
    session: AsyncSession, row: RoamingCommand, now: datetime
) -> None:
    """The station did not start: the START_SESSION's token no longer stands at that station."""
    token = row.request.get("token")
    uid = token.get("uid") if isinstance(token, dict) else None
    if not isinstance(uid, str) or row.station_id is None:
        return
    await session.execute(
        update(RoamingAuthorization)
        .where(
            RoamingAuthorization.source == COMMAND_SOURCE,
            RoamingAuthorization.partner_id == row.partner_id,
            RoamingAuthorization.station_id == row.station_id,
            RoamingAuthorization.token_uid_key == token_key(uid),
            RoamingAuthorization.decided_at == row.created_at,
        )
        .values(expires_at=now)
    )


# --------------------------------------------------------------------------- the receiver


class CommandsReceiver:
    """Receives partners' commands; see the module docstring."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        supervisor: Supervisor,
        outbound: OcppOutbound,
        *,
        find_session: SessionFinder,
        timeout_s: float = 60.0,
        wake_sender: Callable[[], None] | None = None,
        sweep_interval_s: float = 30.0,
    ) -> None:
        self._db = db
        self._clock = clock
        self._supervisor = supervisor
        self._outbound = outbound
        self._find_session = find_session
        self._timeout_s = timeout_s
        self._wake = wake_sender
        self._sweep_interval = sweep_interval_s

    @property
    def timeout_s(self) -> float:
        return self._timeout_s

    def start(self) -> None:
        """Start the deadline sweep (supervised)."""
        self._supervisor.keep_running(self._sweep_loop, name="ocpi-commands-sweep")

    async def receive(
        self, party: Party, command: CommandType, body: dict[str, Any]
    ) -> CommandAnswer:
        """Check and store the command, then start it; the CommandResponse to answer."""
        parsed = BODIES[command].model_validate(body)
        timeout = int(self._timeout_s)
        async with self._db.unit_of_work() as uow:
            session = uow.session
            target: _Target | None = None
            if isinstance(parsed, StartSession | ReserveNow):
                if not _owns(party, parsed.token.country_code, parsed.token.party_id):
                    return CommandAnswer("REJECTED", timeout, "the token is not yours")
                target = await _target(
                    session,
                    parsed.location_id,
                    parsed.evse_uid,
                    parsed.connector_id if isinstance(parsed, StartSession) else None,
                )
            elif isinstance(parsed, UnlockConnector):
                target = await _target(
                    session, parsed.location_id, parsed.evse_uid, parsed.connector_id
                )
            elif isinstance(parsed, StopSession):
                found = await self._find_session(session, parsed.session_id)
                if found is None:
                    return CommandAnswer("UNKNOWN_SESSION", timeout, "unknown session")
                if not _owns(party, found.token_country_code, found.token_party_id):
                    return CommandAnswer("REJECTED", timeout, "the session is not yours")
                if not found.active:
                    return CommandAnswer("REJECTED", timeout, "the session has ended")
                target = _Target(found.station_id, None, None)
            if target is not None and self._outbound.version_of(target.station_id) is None:
                return CommandAnswer("REJECTED", timeout, "the charge point is offline")
            now = self._clock.now()
            row = RoamingCommand(
                partner_id=party.partner_id,
                command=command,
                station_id=None if target is None else target.station_id,
                request=parsed.model_dump(mode="json"),
                response_url=parsed.response_url,
                status=PENDING,
                created_at=now,
                deadline=now + timedelta(seconds=self._timeout_s),
            )
            session.add(row)
            if isinstance(parsed, StartSession) and target is not None:
                # The eMSP authorized the token itself: the station's Authorize or start for it
                # at this station is accepted without asking again (START_SESSION_GRACE), and
                # the session and CDR carry the token and the authorization reference.
                session.add(_command_authorization(party, parsed, target, now))
            await session.flush()
            command_id = row.id
            await uow.commit()
        self._supervisor.spawn(
            self._execute(command_id, command, parsed, target),
            name=f"ocpi-command-{command_id}",
        )
        return CommandAnswer("ACCEPTED", timeout, command_id=command_id)

    async def _execute(
        self, command_id: int, command: CommandType, body: CommandBody, target: _Target | None
    ) -> None:
        try:
            result, detail = await self._call_station(command_id, command, body, target)
        except Exception as exc:  # every failure still gets its CommandResult
            if not isinstance(exc, BorneError):
                log.exception("OCPI command %d (%s) failed", command_id, command)
            result, detail = map_station_error(exc)
        await self.finish(command_id, result, detail)

    async def _call_station(
        self, command_id: int, command: CommandType, body: CommandBody, target: _Target | None
    ) -> tuple[str, str]:
        call_timeout = max(1.0, self._timeout_s - 1.0)
        answer: StationAnswer
        if isinstance(body, StartSession) and target is not None:
            answer = await commands.remote_start(
                self._outbound,
                target.station_id,
                id_token=body.token.uid,
                id_token_type=TOKEN_KINDS.get(body.token.type, "Central"),
                evse_id=target.evse_id,
                connector_id=target.connector_id,
                call_timeout=call_timeout,
            )
        elif isinstance(body, StopSession) and target is not None:
            found = await self._find_session_now(body.session_id)
            if found is None:
                return "FAILED", "the session is gone"
            answer = await commands.remote_stop(
                self._outbound,
                found.station_id,
                transaction_id=found.transaction_id,
                call_timeout=call_timeout,
            )
        elif isinstance(body, ReserveNow) and target is not None:
            reservation = await self._reservation(command_id, body, target)
            answer = await commands.reserve_now(
                self._outbound,
                target.station_id,
                reservation_id=reservation,
                id_token=body.token.uid,
                id_token_type=TOKEN_KINDS.get(body.token.type, "Central"),
                expiry=body.expiry_date,
                evse_id=target.evse_id,
                call_timeout=call_timeout,
            )
        elif isinstance(body, CancelReservation):
            known = await self._known_reservation(command_id, body.reservation_id)
            if known is None:
                return "UNKNOWN_RESERVATION", "no such reservation"
            station_id, reservation = known
            answer = await commands.cancel_reservation(
                self._outbound, station_id, reservation_id=reservation, call_timeout=call_timeout
            )
        elif isinstance(body, UnlockConnector) and target is not None:
            answer = await commands.unlock_connector(
                self._outbound,
                target.station_id,
                evse_id=target.evse_id,
                connector_id=target.connector_id,
                call_timeout=call_timeout,
            )
        else:  # pragma: no cover - receive() always gives a target where one is needed
            return "FAILED", "nothing to send"
        detail = f"station answered {answer.status}"
        if answer.reason:
            detail += f" ({answer.reason})"
        return map_station_answer(command, answer.status), detail

    async def _find_session_now(self, session_id: str) -> SessionRef | None:
        async with self._db.unit_of_work() as uow:
            return await self._find_session(uow.session, session_id)

    async def _reservation(self, command_id: int, body: ReserveNow, target: _Target) -> int:
        """The OCPP reservationId for the partner's reservation id (same id: an update)."""
        async with self._db.unit_of_work() as uow:
            command = await uow.session.get(RoamingCommand, command_id)
            partner_id = command.partner_id if command is not None else -1
            row = await _reservation_row(uow.session, partner_id, body.reservation_id)
            if row is None:
                row = RoamingReservation(
                    partner_id=partner_id,
                    reservation_id=body.reservation_id,
                    created_at=self._clock.now(),
                )
                uow.session.add(row)
            row.station_id = target.station_id
            row.evse_id = target.evse_id
            row.token_uid = body.token.uid
            row.expiry = body.expiry_date
            await uow.session.flush()
            reservation = row.id
            await uow.commit()
        return reservation

    async def _known_reservation(
        self, command_id: int, reservation_id: str
    ) -> tuple[str, int] | None:
        async with self._db.unit_of_work() as uow:
            command = await uow.session.get(RoamingCommand, command_id)
            if command is None:
                return None
            row = await _reservation_row(uow.session, command.partner_id, reservation_id)
            return None if row is None else (row.station_id, row.id)

    async def finish(self, command_id: int, result: str, detail: str) -> bool:
        """Store the result and queue the CommandResult, once; False if already answered."""
        async with self._db.unit_of_work() as uow:
            row = await uow.session.get(RoamingCommand, command_id, with_for_update=True)
            if row is None or row.status != PENDING:
                return False
            now = self._clock.now()
            row.status, row.result, row.detail = DONE, result, detail[:255]
            row.answered_at = now
            if row.command == "START_SESSION" and result != "ACCEPTED":
                await _withdraw_authorization(uow.session, row, now)
            body: dict[str, Any] = {"result": result}
            if result != "ACCEPTED":
                body["message"] = [{"language": "en", "text": detail[:512]}]
            await outbox.enqueue(
                uow.session,
                partner_id=row.partner_id,
                key=f"commands:{row.id}",
                method="POST",
                module="commands",
                interface="SENDER",
                url=row.response_url,
                body=body,
                now=now,
            )
            await uow.commit()
        log.info("OCPI command %d (%s): %s, %s", command_id, row.command, result, detail)
        if self._wake is not None:
            self._wake()
        return True

    async def expire_overdue(self) -> int:
        """TIMEOUT for every pending command past its deadline (plus a little grace for the
        task that may be finishing it); returns how many."""
        cutoff = self._clock.now() - timedelta(seconds=5)
        async with self._db.unit_of_work() as uow:
            ids = list(
                await uow.session.scalars(
                    select(RoamingCommand.id)
                    .where(RoamingCommand.status == PENDING, RoamingCommand.deadline < cutoff)
                    .order_by(RoamingCommand.id)
                    .limit(500)
                )
            )
        done = 0
        for command_id in ids:
            if await self.finish(
                command_id, "TIMEOUT", "no answer from the charge point before the deadline"
            ):
                done += 1
        return done

    async def _sweep_loop(self) -> None:
        while True:
            await self.expire_overdue()
            await asyncio.sleep(self._sweep_interval)
