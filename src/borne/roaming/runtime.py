"""The roaming domain assembled: the OCPI sub-application, its background work and the
operator routers, built once by the composition root (``borne.bootstrap``).

Kept here rather than in bootstrap because the pieces only make sense together: the outbox
sender that every pusher wakes, the authenticator and resolver that read partners, the
real-time authorizer that also tells sessions whose token they run on, and the commands
receiver that finds sessions by their OCPI id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from borne.authorization.external import ExternalAuthorizerSlot
from borne.cdrs.events import CdrIssued, SessionCostUpdated
from borne.cdrs.service import TariffAudience
from borne.core.bus import EventBus
from borne.core.deps import Deps
from borne.locations.events import LocationChanged
from borne.ocpi.client import OcpiClient
from borne.ocpi.sender import OutboxSender
from borne.ocpi.server import create_ocpi_app
from borne.ocpp.outbound import OcppOutbound
from borne.roaming import (
    api,
    cdrs_api,
    commands_api,
    deliveries_api,
    locations_api,
    ocpi_versions,
    sessions_api,
    tariffs_api,
    tokens_api,
)
from borne.roaming.authenticator import DbPartyAuthenticator, PartnerEndpointResolver
from borne.roaming.authorize import AuthorizerConfig, RealtimeAuthorizer, db_location_refs
from borne.roaming.commands import CommandsReceiver, SessionFinder, SessionRef
from borne.roaming.config import RoamingConfig, RoamingContext
from borne.roaming.delivery_health import DeliveryHealth
from borne.roaming.events import PartnerRegistered
from borne.roaming.journal import PushJournal
from borne.roaming.locations_push import LocationsPusher
from borne.roaming.sessions import CpoIdentity, TokenOwnerResolver, transaction_pk_of
from borne.roaming.sessions_models import RoamingSession
from borne.roaming.sessions_push import SessionPushes
from borne.roaming.tariffs import CpoIdentity as TariffOwner
from borne.roaming.tariffs_push import TariffPusher
from borne.stations.events import StationBooted, StationConnectionChanged, StationStatusChanged
from borne.tariffs.events import TariffAssigned, TariffChanged
from borne.transactions.events import MeterValuesRecorded, TransactionEnded, TransactionStarted
from borne.transactions.models import ENDED, Transaction

if TYPE_CHECKING:
    from borne.settings import Settings


@dataclass
class RoamingRuntime:
    ocpi_app: FastAPI
    context: RoamingContext
    sender: OutboxSender
    commands: CommandsReceiver
    client: OcpiClient
    journal: PushJournal
    tariff_audience: TariffAudience
    operator_routers: list[APIRouter] = field(default_factory=list)
    _deps: Deps | None = None

    def start(self) -> None:
        """Start the outbox sender, the push journal and the commands' deadline sweep (all
        supervised)."""
        if self._deps is not None:
            self._deps.supervisor.keep_running(self.sender.run, name="ocpi-outbox")
            self._deps.supervisor.keep_running(self.journal.run, name="ocpi-push-journal")
        self.commands.start()

    async def close(self) -> None:
        await self.client.aclose()


def _initial_sync(
    tariffs: TariffPusher, locations: LocationsPusher
) -> Callable[[PartnerRegistered], Awaitable[None]]:
    async def handle(event: PartnerRegistered) -> None:
        await tariffs.push_all(event.partner_id)
        await locations.push_all(event.partner_id)

    return handle


def _on_connection(
    locations: LocationsPusher,
) -> Callable[[StationConnectionChanged], Awaitable[None]]:
    async def handle(event: StationConnectionChanged) -> None:
        await locations.on_connection_changed(event.station_id)

    return handle


def tariff_audience(owners: TokenOwnerResolver, journal: PushJournal) -> TariffAudience:
    """For the CDR domain: the partner key ``CC*PPP`` whose driver a transaction is (tariffs
    scoped to that partner then price it), None for Borne's own drivers."""

    async def audience(session: AsyncSession, tx: Transaction) -> str | None:
        if not journal.enabled:
            return None  # no partner registered: nobody's driver but Borne's
        known = await session.get(RoamingSession, tx.id)
        if known is not None:
            return f"{known.token_country_code}*{known.token_party_id}"
        owner = await owners.owner_of(session, tx)
        return None if owner is None else f"{owner.country_code}*{owner.party_id}"

    return audience


def session_finder(owners: TokenOwnerResolver) -> SessionFinder:
    """STOP_SESSION's lookup: the transaction behind an OCPI session id and whose token it is."""

    async def find(session: AsyncSession, session_id: str) -> SessionRef | None:
        pk = transaction_pk_of(session_id)
        tx = None if pk is None else await session.get(Transaction, pk)
        if tx is None:
            return None
        known = await session.get(RoamingSession, tx.id)
        country: str | None
        party: str | None
        if known is not None:
            country, party = known.token_country_code, known.token_party_id
        else:
            owner = await owners.owner_of(session, tx)
            country, party = (None, None) if owner is None else (owner.country_code, owner.party_id)
        return SessionRef(tx.station_id, tx.transaction_id, country, party, tx.state != ENDED)

    return find


def build_roaming(
    settings: Settings,
    deps: Deps,
    bus: EventBus,
    outbound: OcppOutbound,
    external: ExternalAuthorizerSlot,
    *,
    currency: str = "EUR",
) -> RoamingRuntime:
    """Everything OCPI; nothing runs until ``RoamingRuntime.start``."""
    config = RoamingConfig.from_settings(settings)
    client = OcpiClient(timeout_s=settings.ocpi_request_timeout_s)
    context = RoamingContext(db=deps.db, clock=deps.clock, config=config, client=client)
    resolver = PartnerEndpointResolver(
        deps.db, country_code=config.country_code, party_id=config.party_id
    )
    sender = OutboxSender(
        deps.db,
        deps.clock,
        client,
        resolver,
        poll_interval_s=settings.ocpi_outbox_poll_interval_s,
        backoff_base_s=settings.ocpi_outbox_backoff_base_s,
        backoff_max_s=settings.ocpi_outbox_backoff_max_s,
        max_attempts=settings.ocpi_outbox_max_attempts,
    )

    cpo = CpoIdentity(config.country_code, config.party_id)
    # Pushes: each pusher writes outbox rows after the change's commit and wakes the sender;
    # the journal records the events partners must hear about with the change itself, so a
    # crash in between only delays the push (see journal.py). Progress events are not recorded.
    journal = PushJournal(deps.db, deps.clock)
    journal.watch_partners(bus)
    authorizer = RealtimeAuthorizer(
        deps.db,
        client,
        AuthorizerConfig(config.country_code, config.party_id),
        location_refs=db_location_refs(deps.db),
        available=journal.active,  # no partner registered: nobody to ask
    )
    external.set(authorizer)
    locations = LocationsPusher(deps.db, deps.clock, wake=sender.wake)
    sender.observer = DeliveryHealth(deps.db, deps.clock, locations)
    journal.register(bus, LocationChanged, locations.on_location_changed)
    journal.register(bus, StationStatusChanged, locations.on_status_changed)
    journal.register(bus, StationBooted, locations.on_station_booted)
    journal.register(bus, StationConnectionChanged, _on_connection(locations))
    journal.register(bus, TariffAssigned, locations.on_tariff_assigned)
    tariffs = TariffPusher(
        deps.db, deps.clock, TariffOwner(config.country_code, config.party_id), wake=sender.wake
    )
    journal.register(bus, TariffChanged, tariffs.on_tariff_changed)
    sessions = SessionPushes(
        deps.db,
        deps.clock,
        cpo=cpo,
        tokens=authorizer,
        interval_s=settings.ocpi_session_update_interval_s,
        default_currency=currency,
        wake=sender.wake,
    )
    journal.register(bus, TransactionStarted, sessions.on_started)
    journal.register(bus, TransactionEnded, sessions.on_ended)
    journal.register(bus, CdrIssued, sessions.on_cdr)
    # A partner that just registered gets every tariff and location it sees (its later EVSE
    # status PATCHes then find the location), durably like any push.
    journal.register(bus, PartnerRegistered, _initial_sync(tariffs, locations))
    bus.subscribe(MeterValuesRecorded, sessions.on_meter_values, when=journal.active)
    bus.subscribe(SessionCostUpdated, sessions.on_cost, when=journal.active)
    commands = CommandsReceiver(
        deps.db,
        deps.clock,
        deps.supervisor,
        outbound,
        find_session=session_finder(authorizer),
        timeout_s=settings.ocpi_command_timeout_s,
        wake_sender=sender.wake,
    )
    ocpi_app = create_ocpi_app(
        routers=[
            ocpi_versions.router,
            locations_api.router,
            *tariffs_api.build_routers(),
            sessions_api.router,
            cdrs_api.router,
            *tokens_api.build_routers(),
            commands_api.router,
        ],
        authenticator=DbPartyAuthenticator(deps.db),
        max_page_limit=settings.ocpi_max_page_limit,
    )
    ocpi_app.state.roaming = context
    setattr(ocpi_app.state, commands_api.STATE_KEY, commands)
    return RoamingRuntime(
        ocpi_app=ocpi_app,
        context=context,
        sender=sender,
        commands=commands,
        client=client,
        journal=journal,
        tariff_audience=tariff_audience(authorizer, journal),
        operator_routers=[api.router, deliveries_api.router],
        _deps=deps,
    )
