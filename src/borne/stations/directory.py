"""The station directory the OCPP gateway asks on every WebSocket upgrade (R6, R23-R25).

One primary-key read per admission; the password check runs in a worker thread *after* that
read's session is closed, so the single SQLite connection is never held during hashing. Secrets
are compared in constant time (``passwords.verify_password``) and never logged: log lines and
refusal reasons name the station and the reason only.

Security profiles (R26): the connection offers profile 0/1 over ``ws://``, 2 over TLS with
Basic credentials, 3 over TLS with a client certificate whose CN is the station id (the gateway
has checked the chain and the CN). A station is refused a connection below its configured
profile (403: profile 2 or 3 over ``ws://``, profile 3 without a certificate); a station that
offers more than its profile is admitted (how stations upgrade). A certificate authenticates on
its own: no password is asked from a profile-3 connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import update

from borne.core.clock import Clock
from borne.core.errors import Conflict, InvalidInput
from borne.core.group_commit import GroupCommitter
from borne.core.uow import Database
from borne.ocpp.directory import Admission, TlsPeer
from borne.ocpp.versions import OcppVersion
from borne.stations import admin, passwords
from borne.stations.events import StationConnectionChanged
from borne.stations.models import Station
from borne.stations.service import admission_status, record_security_event
from borne.stations.unit import Unit

log = logging.getLogger(__name__)

FAILED_LOGIN_EVENT = "InvalidCsmsLogin"
POLICIES = frozenset({"reject", "pending", "accept"})
_NO_LENIENCY: frozenset[str] = frozenset()
T = TypeVar("T")


@dataclass(frozen=True)
class _Snapshot:
    security_profile: int
    password_hash: str | None
    pending_password_hash: str | None
    admission_status: str
    leniency: frozenset[str]


class DatabaseStationDirectory:
    """``borne.ocpp.directory.StationDirectory`` backed by the stations table.

    ``registration_policy`` (``Settings.registration_policy``) decides about unknown stations:
    ``"reject"`` refuses them (404); ``"pending"`` and ``"accept"`` create them with that
    registration status. A station created this way that presented Basic credentials gets
    profile 1 with that password (trust on first use: nobody else can take its id afterwards);
    without credentials it gets profile 0, which needs ``allow_unsecured``.
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        registration_policy: str = "reject",
        allow_unsecured: bool = True,
        password_iterations: int = passwords.DEFAULT_ITERATIONS,
        committer: GroupCommitter | None = None,
    ) -> None:
        policy = str(registration_policy)
        if policy not in POLICIES:
            raise ValueError(f"unknown registration policy {policy!r}")
        self._db = db
        self._clock = clock
        self._policy = policy
        self._allow_unsecured = allow_unsecured
        self._iterations = password_iterations
        # With a committer, admissions share transactions: a reconnect storm of thousands of
        # stations costs a few commits instead of several per station (R20).
        self._committer = committer

    async def _run(self, fn: Callable[[Unit], Awaitable[T]]) -> T:
        if self._committer is not None:
            return await self._committer.submit(fn)
        async with self._db.unit_of_work() as uow:
            result = await fn(uow)
            await uow.commit()
            return result

    async def admit(
        self,
        station_id: str,
        username: str | None,
        password: str | None,
        remote: str,
        *,
        tls: TlsPeer | None = None,
    ) -> Admission:
        snap = await self._load(station_id)
        if snap is None:
            return await self._register(station_id, username, password, tls)
        certified = tls is not None and tls.has_certificate and tls.client_cn == station_id
        if snap.security_profile >= 2 and tls is None:
            return _refuse(403, f"security profile {snap.security_profile} requires TLS")
        if snap.security_profile >= 3 and not certified:
            return _refuse(403, "security profile 3 requires a client certificate")
        if certified:
            return _admit(snap.admission_status, snap.leniency)
        if snap.security_profile == 0:
            if not self._allow_unsecured:
                return _refuse(401, "unsecured stations (profile 0) are not allowed")
            return _admit(snap.admission_status, snap.leniency)
        if username is None or password is None:
            return _refuse(401, "HTTP Basic credentials required")
        if username != station_id:
            return _refuse(401, "username does not match the station id")
        if await _matches(password, snap.password_hash):
            return _admit(snap.admission_status, snap.leniency)
        if snap.pending_password_hash is not None and await _matches(
            password, snap.pending_password_hash
        ):
            await self._promote(station_id, snap.pending_password_hash)
            return _admit(snap.admission_status, snap.leniency)
        return _refuse(401, "wrong password")

    async def record_failed_login(self, station_id: str, remote: str, reason: str) -> None:
        now = self._clock.now()
        async with self._db.unit_of_work() as uow:
            await record_security_event(
                uow,
                station_id=station_id[:255],
                type=FAILED_LOGIN_EVENT,
                timestamp=now,
                received_at=now,
                tech_info=f"remote={remote}; reason={reason}"[:1000],
                source="csms",
            )
            await uow.commit()
        log.info("failed login for station %r from %s: %s", station_id[:64], remote, reason)

    async def connected(self, station_id: str, version: OcppVersion, remote: str) -> None:
        now = self._clock.now()

        async def stamp(unit: Unit) -> None:
            await unit.session.execute(
                update(Station)
                .where(Station.station_id == station_id)
                .values(connected_at=now, ocpp_version=str(version), last_remote=remote[:255])
            )
            unit.add_event(StationConnectionChanged(station_id, True, now))

        await self._run(stamp)

    async def disconnected(self, station_id: str) -> None:
        now = self._clock.now()

        async def stamp(unit: Unit) -> None:
            await unit.session.execute(
                update(Station).where(Station.station_id == station_id).values(disconnected_at=now)
            )
            unit.add_event(StationConnectionChanged(station_id, False, now))

        await self._run(stamp)

    async def _load(self, station_id: str) -> _Snapshot | None:
        if len(station_id) > admin.MAX_STATION_ID:
            return None

        async def read(unit: Unit) -> _Snapshot | None:
            station = await unit.session.get(Station, station_id)
            if station is None:
                return None
            return _Snapshot(
                security_profile=station.security_profile,
                password_hash=station.password_hash,
                pending_password_hash=station.pending_password_hash,
                admission_status=admission_status(station),
                leniency=frozenset(station.leniency) if station.leniency else _NO_LENIENCY,
            )

        return await self._run(read)

    async def _promote(self, station_id: str, pending_hash: str) -> None:
        """The station logged in with the rotated-in password: it becomes the current one."""
        async with self._db.unit_of_work() as uow:
            await uow.session.execute(
                update(Station)
                .where(
                    Station.station_id == station_id,
                    Station.pending_password_hash == pending_hash,
                )
                .values(
                    password_hash=pending_hash,
                    pending_password_hash=None,
                    updated_at=self._clock.now(),
                )
            )
            await uow.commit()
        log.info("station %s logged in with its new password; rotation complete", station_id)

    async def _register(
        self, station_id: str, username: str | None, password: str | None, tls: TlsPeer | None
    ) -> Admission:
        if self._policy == "reject":
            return _refuse(404, "unknown station")
        try:
            admin.validate_station_id(station_id)
        except InvalidInput:
            return _refuse(404, "invalid station id")
        with_credentials = username is not None and password is not None
        if tls is not None and tls.has_certificate and not with_credentials:
            # Stations are stored with a password from profile 1 up (``admin.create_station``).
            return _refuse(401, "unknown station: register it before connecting with profile 3")
        if with_credentials and username != station_id:
            return _refuse(401, "username does not match the station id")
        if not with_credentials and not self._allow_unsecured:
            return _refuse(401, "HTTP Basic credentials required")
        status = "Accepted" if self._policy == "accept" else "Pending"
        now = self._clock.now()

        async def create(unit: Unit) -> admin.StationView:
            return await admin.create_station(
                unit,
                station_id=station_id,
                now=now,
                security_profile=_observed_profile(with_credentials, tls),
                password=password if with_credentials else None,
                registration_status=status,
                password_iterations=self._iterations,
                auto_registered=True,
            )

        try:
            view = await self._run(create)
        except InvalidInput:  # a password the OCPP length rules refuse
            return _refuse(401, "password does not meet the OCPP length rules")
        except Conflict:  # registered concurrently by another connection: decide as known
            if await self._load(station_id) is None:
                return _refuse(401, "station registration conflict")
            return await self.admit(station_id, username, password, "", tls=tls)
        log.info("registered unknown station %s as %s", station_id, status)
        return _admit(view.admission_status, frozenset(view.leniency))


def _observed_profile(with_credentials: bool, tls: TlsPeer | None) -> int:
    """The profile an unknown station connected with (trust on first use keeps it there)."""
    if not with_credentials:
        return 0
    if tls is None:
        return 1
    return 3 if tls.has_certificate else 2


async def _matches(password: str, encoded: str | None) -> bool:
    if encoded is None:
        return False
    # PBKDF2 releases the GIL: run it off the event loop so other stations are not stalled.
    return await asyncio.to_thread(passwords.verify_password, password, encoded)


def _admit(status: str, leniency: frozenset[str]) -> Admission:
    return Admission(accepted=True, registration_status=status, leniency=leniency)


def _refuse(http_status: int, reason: str) -> Admission:
    return Admission(accepted=False, http_status=http_status, reason=reason)
