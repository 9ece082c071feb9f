"""Keeps stations' local authorization lists in sync with the id tokens.

A token created, changed or deleted marks every kept list ``pending`` (in the database, so a
restart loses nothing); a station that boots is marked too, with its version to be checked.
One supervised loop sends what is pending to connected stations: a differential update of
what changed (a full one the first time, or after the station answered VersionMismatch or
Failed, or reported a version Borne did not give it), in chunks the station accepts, each with
the next version number. A failure is retried with back-off; a station that is not connected
is served when it comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update

from borne.authorization import local_list_ocpp as wire
from borne.authorization import local_lists as lists
from borne.authorization.events import IdTokenChanged, IdTokenDeleted
from borne.authorization.models import LocalAuthList
from borne.core.bus import EventBus
from borne.core.deps import Deps
from borne.core.errors import BorneError
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.versions import OcppVersion
from borne.stations.events import StationBooted, StationConnectionChanged, StationDeleted

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalListConfig:
    poll_interval_s: float = 30.0  # how often pending lists are looked at without a wake-up
    default_items_per_message: int = 100  # when the station does not say
    retry_base_s: float = 5.0
    retry_max_s: float = 600.0
    concurrency: int = 8  # stations updated at once
    call_timeout_s: float | None = None  # None: the gateway's call timeout
    connect_grace_s: float = 10.0  # after a (re)connection, time for a BootNotification


@dataclass(frozen=True)
class SyncOutcome:
    station_id: str
    status: str  # Accepted | Failed | VersionMismatch | NotSupported | Unchanged | error code
    version: int
    messages: int  # SendLocalList calls made
    full: bool


class LocalListSyncer:
    def __init__(self, deps: Deps, outbound: OcppOutbound, config: LocalListConfig) -> None:
        self._deps = deps
        self._outbound = outbound
        self._config = config
        self._wake = asyncio.Event()
        self._locks: dict[str, asyncio.Lock] = {}

    # ------------------------------------------------------------------ events
    def subscribe(self, bus: EventBus) -> None:
        # Only tokens in (or leaving) the lists: other token changes cost no task.
        bus.subscribe(
            IdTokenChanged, self.on_token_changed, when=lambda e: e.local_list or e.was_local_list
        )
        bus.subscribe(IdTokenDeleted, self.on_token_changed, when=lambda e: e.local_list)
        bus.subscribe(StationBooted, self.on_booted, when=lambda e: e.status == "Accepted")
        bus.subscribe(StationConnectionChanged, self.on_connected, when=lambda e: e.connected)
        bus.subscribe(StationDeleted, self.on_station_deleted)

    async def on_token_changed(self, _: IdTokenChanged | IdTokenDeleted) -> None:
        async with self._deps.db.unit_of_work() as uow:
            await lists.mark_all_pending(uow.session, now=self._deps.clock.now())
            await uow.commit()
        self.wake()

    async def on_booted(self, event: StationBooted) -> None:
        # A rebooted station may have lost its list (or been given another): check it.
        async with self._deps.db.unit_of_work() as uow:
            kept = await lists.mark_pending(
                uow.session, event.station_id, now=self._deps.clock.now(), verify=True
            )
            await uow.commit()
        if kept:
            self.wake()

    async def on_connected(self, event: StationConnectionChanged) -> None:
        # A station that reconnects without booting (a network drop) is checked too, after a
        # grace period: one that boots is checked at once (on_booted), once its boot is
        # accepted, rather than be sent calls before it.
        now = self._deps.clock.now()
        async with self._deps.db.unit_of_work() as uow:
            kept = await lists.mark_pending(
                uow.session,
                event.station_id,
                now=now,
                verify=True,
                not_before=now + timedelta(seconds=self._config.connect_grace_s),
            )
            await uow.commit()
        if kept:
            self.wake()

    async def on_station_deleted(self, event: StationDeleted) -> None:
        async with self._deps.db.unit_of_work() as uow:
            await lists.forget(uow.session, event.station_id)
            await uow.commit()
        self._locks.pop(event.station_id, None)

    def wake(self) -> None:
        self._wake.set()

    # ------------------------------------------------------------------ the loop
    async def run(self) -> None:
        """Serve pending lists until cancelled; supervised (restarted if it fails)."""
        while True:
            self._wake.clear()
            await self.sync_pending()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), await self._next_wait())

    async def _next_wait(self) -> float:
        """Until the earliest retry due, at most the poll interval."""
        now = self._deps.clock.now()
        async with self._deps.db.unit_of_work() as uow:
            # Only retries still ahead: one already due waits for its station to connect.
            due = await uow.session.scalar(
                select(func.min(LocalAuthList.next_attempt_at)).where(
                    LocalAuthList.enabled.is_(True),
                    LocalAuthList.pending.is_(True),
                    LocalAuthList.next_attempt_at > now,
                )
            )
        wait = self._config.poll_interval_s
        if due is not None:
            wait = min(wait, (due - now).total_seconds())
        return max(wait, 0.05)

    async def sync_pending(self) -> list[SyncOutcome]:
        now = self._deps.clock.now()
        async with self._deps.db.unit_of_work() as uow:
            due = list(
                await uow.session.scalars(
                    select(LocalAuthList.station_id).where(
                        LocalAuthList.enabled.is_(True),
                        LocalAuthList.pending.is_(True),
                        or_(
                            LocalAuthList.next_attempt_at.is_(None),
                            LocalAuthList.next_attempt_at <= now,
                        ),
                    )
                )
            )
        connected = [s for s in due if self._outbound.version_of(s) is not None]
        gate = asyncio.Semaphore(self._config.concurrency)

        async def one(station_id: str) -> SyncOutcome | None:
            async with gate:
                try:
                    return await self.sync_station(station_id)
                except BorneError as exc:  # not connected any more, timeout, CALLERROR
                    await self._failed(station_id, f"{exc.code}: {exc}")
                    return None

        results = await asyncio.gather(*(one(s) for s in connected))
        return [r for r in results if r is not None]

    # ------------------------------------------------------------------ one station
    async def sync_station(self, station_id: str, *, full: bool = False) -> SyncOutcome:
        """Bring ``station_id``'s list up to date now (``full``: replace it whole). Raises
        ``StationNotConnected``, ``NotFound`` (list not kept), call errors and timeouts."""
        lock = self._locks.setdefault(station_id, asyncio.Lock())
        async with lock:
            return await self._sync(station_id, full=full)

    async def _sync(self, station_id: str, *, full: bool) -> SyncOutcome:
        version = wire.version_of(self._outbound, station_id)
        timeout = self._config.call_timeout_s
        async with self._deps.db.unit_of_work() as uow:
            state = await lists.require_state(uow.session, station_id)
            check_limits, verify = not state.limits_checked, state.verify_version
            known_version, generation = state.version, state.generation
        if check_limits:
            await self._read_limits(station_id, version)
        if verify:
            held = await wire.get_local_list_version(
                self._outbound, station_id, call_timeout=timeout
            )
            full = full or held != known_version
        outcome = await self._send(station_id, version, full=full)
        if outcome.status in ("VersionMismatch", "Failed") and not outcome.full:
            outcome = await self._send(station_id, version, full=True)
        await self._finish(station_id, outcome, generation)
        return outcome

    async def _read_limits(self, station_id: str, version: OcppVersion) -> None:
        try:
            max_entries, per_message = await wire.read_limits(self._outbound, station_id, version)
        except BorneError:
            max_entries, per_message = None, None  # the station will not say: defaults
        async with self._deps.db.unit_of_work() as uow:
            state = await lists.require_state(uow.session, station_id)
            if not state.limits_checked:
                state.max_entries = max_entries
                state.items_per_message = per_message
                state.limits_checked = True
            await uow.commit()

    async def _send(self, station_id: str, version: OcppVersion, *, full: bool) -> SyncOutcome:
        now = self._deps.clock.now()
        async with self._deps.db.unit_of_work() as uow:
            state = await lists.require_state(uow.session, station_id)
            full = full or state.needs_full
            list_version = state.version
            per_message = state.items_per_message or self._config.default_items_per_message
            desired, truncated = await lists.desired_entries(
                uow.session, max_len=wire.TOKEN_LENGTH[version], limit=state.max_entries
            )
            state.truncated = truncated
            held = {} if full else await lists.held_entries(uow.session, station_id)
            change = lists.diff(held, desired)
            await uow.commit()
        messages, first = 0, full
        batches: list[tuple[list[lists.ListEntry], list[lists.Removal]]] = [
            (chunk, []) for chunk in lists.chunks(change.upserts, per_message)
        ] + [([], chunk) for chunk in lists.chunks(change.removals, per_message)]
        if full and not batches:
            batches = [([], [])]  # an empty full list clears the station's
        for upserts, removals in batches:
            list_version += 1
            status = await wire.send_local_list(
                self._outbound,
                station_id,
                version,
                list_version=list_version,
                full=first,
                upserts=upserts,
                removals=removals,
                call_timeout=self._config.call_timeout_s,
            )
            messages += 1
            if status != "Accepted":
                return SyncOutcome(station_id, status, list_version - 1, messages, full)
            async with self._deps.db.unit_of_work() as uow:
                await lists.record_accepted(
                    uow.session,
                    station_id,
                    version=list_version,
                    full=first,
                    upserts=upserts,
                    removals=removals,
                    now=now,
                )
                await uow.commit()
            first = False
        status = "Accepted" if messages else "Unchanged"
        return SyncOutcome(station_id, status, list_version, messages, full)

    async def _finish(self, station_id: str, outcome: SyncOutcome, generation: int) -> None:
        now = self._deps.clock.now()
        async with self._deps.db.unit_of_work() as uow:
            if outcome.status in ("Accepted", "Unchanged"):
                # One conditional statement: an update scheduled meanwhile keeps it pending.
                await uow.session.execute(
                    update(LocalAuthList)
                    .where(
                        LocalAuthList.station_id == station_id,
                        LocalAuthList.generation == generation,
                    )
                    .values(pending=False, verify_version=False)
                )
            state = await lists.require_state(uow.session, station_id)
            state.last_status = outcome.status
            state.updated_at = now
            if outcome.status in ("Accepted", "Unchanged"):
                state.attempts, state.next_attempt_at, state.last_error = 0, None, None
                state.synced_at = now
            elif outcome.status == "NotSupported":
                # The station has no local list: stop keeping it (the operator may re-enable).
                state.pending, state.enabled = False, False
                state.last_error = "the station does not support local lists"
            else:
                state.needs_full = True
                self._backoff(state, now, f"SendLocalList answered {outcome.status}")
            await uow.commit()

    async def _failed(self, station_id: str, reason: str) -> None:
        async with self._deps.db.unit_of_work() as uow:
            state = await lists.get_state(uow.session, station_id)
            if state is not None:
                self._backoff(state, self._deps.clock.now(), reason[:255])
                await uow.commit()
        log.warning("local list of %s not updated: %s", station_id, reason)

    def _backoff(self, state: LocalAuthList, now: datetime, reason: str) -> None:
        state.attempts += 1
        delay = min(self._config.retry_base_s * 2 ** (state.attempts - 1), self._config.retry_max_s)
        state.next_attempt_at = now + timedelta(seconds=delay)
        state.last_error = reason
        state.pending = True
