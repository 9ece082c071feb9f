"""Composition root: builds Borne's runtime once from settings. Tests reuse it."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import ssl
import stat
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI

from borne.api_context import ApiContext
from borne.app import create_app
from borne.authorization import api as authorization_api
from borne.authorization import ocpp_v16 as authorization_v16
from borne.authorization import ocpp_v201 as authorization_v201
from borne.authorization.external import ExternalAuthorizerSlot
from borne.certificates import ocpp_v16 as certificates_v16
from borne.certificates import ocpp_v201 as certificates_v201
from borne.certificates.config import CertificatesConfig, ca_from_dir
from borne.core.bus import InProcessBus
from borne.core.clock import SystemClock
from borne.core.db import create_engine, create_session_factory
from borne.core.deps import Deps
from borne.core.group_commit import GroupCommitter
from borne.core.registry import LocalRegistry
from borne.core.supervisor import Supervisor
from borne.core.uow import Database
from borne.device_model import ocpp_v201 as device_model_v201
from borne.diagnostics import ocpp_v201 as diagnostics_v201
from borne.display_messages import ocpp_v201 as display_messages_v201
from borne.firmware import ocpp_v201 as firmware_v201
from borne.ocpp.gateway import OcppGateway
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.router import Router
from borne.ocpp.throttle import FailureLimiter
from borne.ocpp.versions import OcppVersion
from borne.reservations import ocpp_v201 as reservations_v201
from borne.settings import Settings
from borne.smart_charging import ocpp_v201 as smart_charging_v201
from borne.stations import api as stations_api
from borne.stations import ocpp_v16 as stations_v16
from borne.stations import ocpp_v201 as stations_v201
from borne.stations.config import StationsConfig
from borne.stations.directory import DatabaseStationDirectory
from borne.transactions import api as transactions_api
from borne.transactions import ocpp_v16 as transactions_v16
from borne.transactions import ocpp_v201 as transactions_v201

log = logging.getLogger(__name__)

API_KEY_FILE = ".borne-api-key"


@dataclass
class Runtime:
    settings: Settings
    deps: Deps
    outbound: OcppOutbound
    gateway: OcppGateway
    app: FastAPI
    routers: dict[OcppVersion, Router] = field(default_factory=dict)
    # Background work started with the runtime (inside the event loop), each supervised (R36).
    starters: list[Callable[[], object]] = field(default_factory=list)
    # Resources released at stop, after the background work (HTTP clients).
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def start(self) -> None:
        self.deps.committer.start()
        for start in self.starters:
            start()
        await self.gateway.start()

    async def stop(self) -> None:
        await self.gateway.stop()
        await self.deps.committer.stop()
        await self.deps.supervisor.shutdown()
        for close in self.closers:
            await close()
        await self.deps.db.dispose()


def build_routers(
    deps: Deps, settings: Settings, external: ExternalAuthorizerSlot | None = None
) -> dict[OcppVersion, Router]:
    """Every domain's OCPP handlers, per version. ``external``: who decides on tokens Borne
    does not know (set once roaming is built)."""
    stations_config = StationsConfig(
        heartbeat_interval_s=settings.heartbeat_interval_s,
        pending_retry_interval_s=settings.pending_retry_interval_s,
    )
    v16, v201 = Router(OcppVersion.V16), Router(OcppVersion.V201)
    stations_v16.register(v16, deps, stations_config)
    stations_v201.register(v201, deps, stations_config, notify_report=False)
    device_model_v201.register(v201, deps)
    reservations_v201.register(v201, deps)
    smart_charging_v201.register(v201, deps)
    display_messages_v201.register(v201, deps)
    diagnostics_v201.register(v201, deps)
    firmware_v201.register(v201, deps)
    certificates_config = _certificates_config(settings)
    certificates_ca = ca_from_dir(Path(settings.pki_dir))
    certificate_calls = OcppOutbound(deps.registry)
    certificates_v16.register(v16, deps, certificate_calls, certificates_config, certificates_ca)
    certificates_v201.register(v201, deps, certificate_calls, certificates_config, certificates_ca)
    authorization_v16.register(v16, deps, None, external)
    authorization_v201.register(v201, deps, None, external)
    transactions_v16.register(v16, deps, external)
    transactions_v201.register(v201, deps, external)
    return {OcppVersion.V16: v16, OcppVersion.V201: v201}


def build_runtime(settings: Settings, *, api_keys: list[str] | None = None) -> Runtime:
    """Build everything; nothing runs until ``Runtime.start``."""
    supervisor = Supervisor()
    bus = InProcessBus(supervisor)
    engine = create_engine(settings.database_url, echo=settings.database_echo)
    factory = create_session_factory(engine)
    committer = GroupCommitter(
        factory,
        bus,
        supervisor,
        max_batch=settings.commit_batch_max,
        max_wait_ms=settings.commit_batch_wait_ms,
    )
    clock = SystemClock()
    registry = LocalRegistry()
    deps = Deps(
        db=Database(engine, factory, bus),
        committer=committer,
        clock=clock,
        bus=bus,
        registry=registry,
        supervisor=supervisor,
    )
    external = ExternalAuthorizerSlot()
    routers = build_routers(deps, settings, external)
    directory = DatabaseStationDirectory(
        deps.db,
        clock,
        registration_policy=settings.registration_policy.value,
        allow_unsecured=settings.allow_unsecured_stations,
        committer=committer,
    )
    gateway = OcppGateway(
        routers,
        directory,
        registry,
        FailureLimiter(settings.auth_max_failures, settings.auth_failure_window_s),
        host=settings.ocpp_host,
        port=settings.ocpp_port,
        path_prefix=settings.ocpp_path_prefix,
        max_frame_bytes=settings.ocpp_max_frame_bytes,
        ping_interval_s=settings.ocpp_ping_interval_s,
        ping_timeout_s=settings.ocpp_ping_timeout_s,
        write_limit_bytes=settings.ocpp_write_limit_bytes,
        send_timeout_s=settings.ocpp_send_timeout_s,
        call_timeout_s=settings.ocpp_call_timeout_s,
        call_queue_limit=settings.ocpp_call_queue_limit,
        max_concurrent_admissions=settings.ocpp_max_concurrent_admissions,
        max_pending_admissions=settings.ocpp_max_pending_admissions,
        open_timeout_s=settings.ocpp_handshake_timeout_s,
        max_connections=settings.ocpp_max_connections,
        ssl_context=_ocpp_tls(settings),
        tls_port=settings.ocpp_tls_port,
    )
    outbound = OcppOutbound(registry)
    keys = api_keys if api_keys is not None else resolve_api_keys(settings)
    api_routers = [stations_api.router, authorization_api.router, transactions_api.router]
    # device model (2.0.1) and configuration snapshot (1.6): operator API, refresh after boot
    from borne.device_model import api as device_model_api
    from borne.device_model.config import DeviceModelConfig
    from borne.device_model.subscribers import BootRefresher

    api_routers.append(device_model_api.router)
    BootRefresher(
        deps,
        outbound,
        DeviceModelConfig(
            refresh_on_boot=settings.device_model_refresh_on_boot,
            boot_delay_s=settings.device_model_boot_delay_s,
            max_age_s=settings.device_model_max_age_s,
        ),
    ).subscribe(bus)
    # local authorization lists kept in sync per station as tokens change (docs/authorization.md)
    from borne.authorization import local_list_api
    from borne.authorization.local_list_sync import LocalListConfig, LocalListSyncer

    local_lists = LocalListSyncer(deps, outbound, LocalListConfig())
    local_lists.subscribe(bus)
    api_routers.append(local_list_api.build_router(local_lists))
    # certificates: operator API (install/list/delete, renew, security profile), renewal loop
    from borne.certificates import api as certificates_api
    from borne.certificates.renewal import RenewalLoop

    certificates_config = _certificates_config(settings)
    api_routers.append(
        certificates_api.build_router(certificates_config, ca_from_dir(Path(settings.pki_dir)))
    )
    certificate_renewal = RenewalLoop(deps, outbound, certificates_config)
    # reservations (docs/ocpp.md): usage and violations from transaction starts, expiry sweep
    from borne.reservations import api as reservations_api
    from borne.reservations.config import ReservationsConfig
    from borne.reservations.subscribers import ReservationTracker

    reservation_tracker = ReservationTracker(
        deps, ReservationsConfig(sweep_interval_s=settings.reservation_sweep_interval_s)
    )
    reservation_tracker.subscribe(bus)
    api_routers.append(reservations_api.router)
    # firmware updates and campaigns: status from the stations' notifications, campaign runner
    from borne.firmware.config import FirmwareConfig
    from borne.firmware.wiring import build_firmware

    firmware = build_firmware(
        deps,
        outbound,
        FirmwareConfig(
            poll_interval_s=settings.firmware_poll_interval_s,
            call_timeout_s=settings.firmware_call_timeout_s,
        ),
    )
    api_routers.append(firmware.router)
    # smart-charging mechanics and display messages: stored profiles follow their transaction
    from borne.display_messages import api as display_messages_api
    from borne.smart_charging import api as smart_charging_api
    from borne.smart_charging.subscribers import TxProfileJanitor

    TxProfileJanitor(deps).subscribe(bus)
    api_routers += [smart_charging_api.router, display_messages_api.router]
    # diagnostics: logs uploaded to Borne itself, customer information, monitoring, events
    from borne.diagnostics import api as diagnostics_api
    from borne.diagnostics.config import DiagnosticsConfig
    from borne.diagnostics.subscribers import DiagnosticsSubscribers
    from borne.diagnostics.uploads import build_upload_router

    diagnostics_config = DiagnosticsConfig(
        uploads_dir=Path(settings.uploads_dir),
        public_base_url=settings.public_base_url,
        upload_max_bytes=settings.upload_max_bytes,
        upload_token_ttl_s=settings.upload_token_ttl_s,
    )
    DiagnosticsSubscribers(deps).subscribe(bus)
    api_routers.append(diagnostics_api.build_router(diagnostics_config))
    # --- billing wiring (tariffs, CDRs, limits, notifications): subscribers, loops, routers ---
    # limits (docs/limits.md): checks on events, one supervised loop (durations, stop retries);
    # mounted first: the id-tokens router's /id-tokens/{id_token:path} would take ".../limits".
    from borne.cdrs.events import CdrIssued, SessionCostUpdated
    from borne.limits import api as limits_api
    from borne.limits.config import LimitsConfig
    from borne.limits.subscribers import LimitsEnforcer
    from borne.notifications import api as notifications_api
    from borne.notifications.config import NotificationsConfig
    from borne.notifications.sender import WebhookSender
    from borne.notifications.subscribers import Notifier

    limits_enforcer = LimitsEnforcer(
        deps,
        outbound,
        LimitsConfig(
            check_interval_s=settings.limits_check_interval_s,
            stop_retry_s=settings.limits_stop_retry_s,
            stop_retry_max_s=settings.limits_stop_retry_max_s,
            stop_confirm_s=settings.limits_stop_confirm_s,
        ),
    )
    limits_enforcer.subscribe(bus)
    bus.subscribe(SessionCostUpdated, limits_enforcer.on_cost_updated)
    api_routers.insert(0, limits_api.router)
    # notifications (docs/notifications.md): outbox writers on events, one supervised sender.
    webhook_config = NotificationsConfig(
        poll_interval_s=settings.webhook_poll_interval_s,
        timeout_s=settings.webhook_timeout_s,
        max_attempts=settings.webhook_max_attempts,
        backoff_base_s=settings.webhook_backoff_base_s,
        backoff_max_s=settings.webhook_backoff_max_s,
        concurrency=settings.webhook_concurrency,
        allow_http=settings.webhook_allow_http,
        ended_grace_s=settings.webhook_ended_grace_s,
        idle_after_s=settings.webhook_idle_after_s,
    )
    webhook_sender = WebhookSender(deps, webhook_config)
    notifier = Notifier(deps, webhook_config, wake=webhook_sender.wake)
    notifier.subscribe(bus)
    bus.subscribe(CdrIssued, notifier.on_cdr_issued)
    api_routers.append(notifications_api.build_router(webhook_config))
    starters: list[Callable[[], object]] = [
        certificate_renewal.start,
        lambda: supervisor.keep_running(local_lists.run, name="local-list-sync"),
        lambda: supervisor.keep_running(reservation_tracker.run, name="reservations-sweep"),
        lambda: supervisor.keep_running(firmware.runner.run, name="firmware-campaigns"),
        lambda: supervisor.keep_running(limits_enforcer.run, name="limits-enforcer"),
        lambda: supervisor.keep_running(webhook_sender.run, name="webhook-sender"),
    ]
    # tariffs and locations (docs/tariffs.md): operator API routers; the resolver is a service.
    from borne.locations import api as locations_api
    from borne.tariffs import api as tariffs_api

    api_routers += [locations_api.router, tariffs_api.router]
    # OCPI roaming (docs/ocpi.md): the sub-application at /ocpi, pushes through the outbox,
    # real-time authorization of tokens Borne does not know, partners' commands. Built before
    # the CDRs: they price a partner's driver with the tariffs scoped to that partner.
    from borne.cdrs.service import CdrConfig
    from borne.ocpi.server import ocpi_mount
    from borne.roaming.runtime import build_roaming

    roaming = build_roaming(
        settings, deps, bus, outbound, external, currency=CdrConfig().default_currency
    )
    cdr_config = CdrConfig(tariff_audience=roaming.tariff_audience)
    api_routers += roaming.operator_routers
    starters.append(roaming.start)
    # CDRs (docs/cdrs.md): CDR at TransactionEnded, running cost at MeterValuesRecorded (cached
    # for 2.0.1 totalCost and CostUpdated), a sweep for missed CDRs; operator API /cdrs.
    from borne.cdrs import api as cdrs_api
    from borne.cdrs.live_cost import LiveCosts
    from borne.cdrs.ocpp_v201 import CostUpdatedSender
    from borne.cdrs.subscribers import CdrSubscribers

    live_costs = LiveCosts()
    cost_sender = CostUpdatedSender(
        outbound, live_costs, interval_s=settings.cost_update_interval_s
    )
    cdr_subscribers = CdrSubscribers(
        deps.db,
        clock,
        supervisor,
        live_costs,
        config=cdr_config,
        sender=cost_sender,
        min_interval_s=settings.live_cost_min_interval_s,
        urgent=limits_enforcer.has_cost_limit,  # cost limits are checked on every meter value
    )
    cdr_subscribers.subscribe(bus)
    starters.append(cdr_subscribers.start)
    transactions_v201.attach_total_cost(
        routers[OcppVersion.V201], live_costs, final_wait_s=settings.final_cost_wait_s
    )
    api_routers.append(cdrs_api.router)
    # --- end of billing wiring ---
    app = create_app(ApiContext(deps=deps, outbound=outbound, api_keys=keys, routers=api_routers))
    # stations upload logs here: outside /api/v1 (no API key; an unguessable expiring token)
    app.include_router(build_upload_router(diagnostics_config))
    app.state.local_lists = local_lists
    app.state.roaming = roaming.context  # the partners' operator API reads it
    app.state.cdr_config = cdr_config  # a corrected CDR is priced as the original was
    app.state.ocpi_outbox_wake = roaming.sender.wake
    # ocpi_mount, not app.mount: Starlette's mount pattern would let an id with an encoded
    # line break fall through to the operator API's 404 (see borne.ocpi.server.ocpi_mount).
    app.router.routes.append(ocpi_mount("/ocpi", roaming.ocpi_app))
    runtime = Runtime(settings, deps, outbound, gateway, app, routers, starters)
    runtime.closers.append(roaming.close)
    return runtime


def _certificates_config(settings: Settings) -> CertificatesConfig:
    return CertificatesConfig(
        station_certificate_days=settings.station_certificate_days,
        renew_before_days=settings.certificate_renew_before_days,
        renewal_check_interval_s=settings.certificate_renewal_check_interval_s,
        renewal_retry_s=settings.certificate_renewal_retry_s,
        delivery_delay_s=settings.certificate_delivery_delay_s,
    )


def _ocpp_tls(settings: Settings) -> ssl.SSLContext | None:
    """The OCPP gateway's TLS context (security profiles 2 and 3), None for plain ws://."""
    if not settings.ocpp_tls_cert_file:
        return None
    from borne.ocpp.tls import client_ca_file, server_context

    return server_context(
        settings.ocpp_tls_cert_file,
        settings.ocpp_tls_key_file or settings.ocpp_tls_cert_file,
        client_ca_file(settings.ocpp_tls_ca_file, settings.pki_dir),
    )


def resolve_api_keys(settings: Settings) -> list[str]:
    """The configured keys, or one generated on first start and kept in ``.borne-api-key``.

    The key itself is never logged (R27); the log names the file that holds it.
    """
    keys = [k.get_secret_value() for k in settings.api_keys if k.get_secret_value()]
    if keys:
        return keys
    path = Path(API_KEY_FILE)
    if path.exists():
        return [path.read_text().strip()]
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    log.warning("no BORNE_API_KEYS set: generated an operator API key in ./%s", API_KEY_FILE)
    return [key]


async def serve(settings: Settings) -> None:
    """Run Borne until interrupted: OCPP gateway and operator API in one event loop."""
    import uvicorn

    runtime = build_runtime(settings)
    await runtime.start()
    config = uvicorn.Config(
        runtime.app,
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    log.info(
        "operator API on http://%s:%d/api/v1 (docs at /docs)", settings.api_host, settings.api_port
    )
    try:
        await server.serve()
    finally:
        await runtime.stop()
        await asyncio.sleep(0)


def build_plain_database(settings: Settings) -> Database:
    """A database handle for one-off commands (seeding) that need no running server."""
    supervisor = Supervisor()
    engine = create_engine(settings.database_url, echo=settings.database_echo)
    return Database(engine, create_session_factory(engine), InProcessBus(supervisor))
