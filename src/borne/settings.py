"""Runtime settings, read once from ``BORNE_*`` environment variables."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class RegistrationPolicy(StrEnum):
    """What happens when a station that Borne does not know connects."""

    REJECT = "reject"  # the WebSocket upgrade is refused
    PENDING = "pending"  # the station is created and booted as Pending until an operator accepts it
    ACCEPT = "accept"  # the station is created and accepted at once


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BORNE_", env_file=None, extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./borne.db"
    database_echo: bool = False

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # Operator API keys, comma separated. Empty means "generate one at start and log it once".
    api_keys: list[SecretStr] = Field(default_factory=list)

    ocpp_host: str = "127.0.0.1"
    ocpp_port: int = 9000
    ocpp_path_prefix: str = "/ocpp"
    # Largest OCPP frame accepted, in bytes; larger frames close the socket with 1009.
    ocpp_max_frame_bytes: int = 65_536
    # How long the CSMS waits for a station's answer to its CALL.
    ocpp_call_timeout_s: float = 30.0
    # How many CSMS→station calls may wait behind the outstanding one.
    ocpp_call_queue_limit: int = 100
    # Ping interval and pong timeout used to detect half-open sockets (R19).
    ocpp_ping_interval_s: float = 30.0
    ocpp_ping_timeout_s: float = 30.0
    # Bytes buffered towards a station before sends wait (R21); a send blocked longer is dropped.
    ocpp_write_limit_bytes: int = 65_536
    ocpp_send_timeout_s: float = 30.0
    # Admission back-pressure (R20): upgrades checked at once (database read, password hash),
    # upgrades waiting for a turn; beyond them, and past the connection cap (0: none), HTTP 503
    # with Retry-After.
    ocpp_max_concurrent_admissions: int = Field(default=256, ge=1)
    ocpp_max_pending_admissions: int = Field(default=10_000, ge=0)
    # How long an upgrade may take, queueing for admission included; a queued one gets 503 after
    # half of it, so the station hears back instead of timing out.
    ocpp_handshake_timeout_s: float = Field(default=30.0, gt=0)
    ocpp_max_connections: int = Field(default=0, ge=0)
    # TLS for the OCPP endpoint (security profiles 2 and 3; ``borne pki init`` makes the files):
    # the server certificate (chain, leaf first) and its key; unset: plain ws:// only. The client
    # CA verifies profile-3 station certificates; unset: ``<pki_dir>/ca.crt`` when it exists.
    ocpp_tls_cert_file: str | None = None
    ocpp_tls_key_file: str | None = None
    ocpp_tls_ca_file: str | None = None
    # Serve wss:// on this port and keep ws:// on ocpp_port (stations moving from profile 1 to
    # 2 one by one); unset: wss:// replaces ws:// on ocpp_port.
    ocpp_tls_port: int | None = None
    # Borne's certificate authority (ca.crt, ca.key) and the server certificate.
    pki_dir: str = "pki"
    heartbeat_interval_s: int = 300
    pending_retry_interval_s: int = 60
    registration_policy: RegistrationPolicy = RegistrationPolicy.REJECT
    # Accept stations without HTTP Basic credentials when they are configured with profile 0.
    allow_unsecured_stations: bool = True
    # Failed logins per station or address inside the window before further attempts are refused.
    auth_max_failures: int = 5
    auth_failure_window_s: float = 60.0

    # Group commit of transaction messages: at most this many per commit, waiting at most this long.
    commit_batch_max: int = 200
    commit_batch_wait_ms: float = 2.0

    # Session limits: how often duration limits are checked and due stop requests retried
    # (also how long a session's limits are cached by the energy and cost checks); first wait
    # before a refused stop is requested again (doubling, at most the max); how long an accepted
    # stop may take before it is requested again.
    limits_check_interval_s: float = Field(default=2.0, gt=0)
    limits_stop_retry_s: float = Field(default=10.0, gt=0)
    limits_stop_retry_max_s: float = Field(default=300.0, gt=0)
    limits_stop_confirm_s: float = Field(default=120.0, gt=0)

    # Webhooks (driver notifications): sender poll interval, per-attempt timeout, attempts before
    # dead-lettering, exponential back-off base and cap, deliveries in flight, plain http://
    # receivers allowed, wait for the CDR before session.ended goes without cost, energy-idle
    # time that means charging finished.
    webhook_poll_interval_s: float = Field(default=1.0, gt=0)
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    webhook_max_attempts: int = Field(default=10, ge=1)
    webhook_backoff_base_s: float = Field(default=5.0, gt=0)
    webhook_backoff_max_s: float = Field(default=3600.0, gt=0)
    webhook_concurrency: int = Field(default=8, ge=1)
    webhook_allow_http: bool = False
    webhook_ended_grace_s: float = Field(default=60.0, ge=0)
    webhook_idle_after_s: float = Field(default=300.0, gt=0)

    # Running cost sent to 2.0.1 stations (CostUpdated) every this many seconds; 0 turns it off.
    cost_update_interval_s: float = Field(default=60.0, ge=0)
    # A session's running cost is recomputed at most every this many seconds (meter values in
    # between coalesce); sessions with a cost limit are recomputed on every meter value.
    live_cost_min_interval_s: float = Field(default=30.0, ge=0)
    # The answer to a 2.0.1 TransactionEvent Ended waits up to this long for the session's CDR
    # so that it carries the final totalCost; 0 answers at once (totalCost then only on a retry).
    final_cost_wait_s: float = Field(default=2.0, ge=0, le=20)

    # Device model / configuration: read a station's full report (2.0.1) or configuration (1.6)
    # after an accepted boot, this long after it, unless the stored one is younger than max_age.
    device_model_refresh_on_boot: bool = False
    device_model_boot_delay_s: float = Field(default=2.0, ge=0)
    device_model_max_age_s: float = Field(default=86_400.0, ge=0)

    # Station certificates signed by Borne's CA (SignCertificate): validity; renewal asked this
    # many days before expiry, checked this often (0: never), asked again after retry; the pause
    # between the SignCertificate answer and CertificateSigned.
    station_certificate_days: int = Field(default=365, ge=1)
    certificate_renew_before_days: float = Field(default=30.0, ge=0)
    certificate_renewal_check_interval_s: float = Field(default=3600.0, ge=0)
    certificate_renewal_retry_s: float = Field(default=86_400.0, gt=0)
    certificate_delivery_delay_s: float = Field(default=0.2, ge=0)

    # Reservations: how often expired ones are marked (1.6 stations do not report it).
    reservation_sweep_interval_s: float = Field(default=30.0, gt=0)
    # Firmware campaigns: how often the runner looks for work; the timeout of the update call
    # (None: the gateway's call timeout).
    firmware_poll_interval_s: float = Field(default=5.0, gt=0)
    firmware_call_timeout_s: float | None = Field(default=None, gt=0)

    # Where stations reach Borne's HTTP server (log and diagnostics uploads go to
    # <public_base_url>/uploads/...), where uploads are kept, the largest one, how long an
    # upload URL stays valid.
    public_base_url: str = "http://127.0.0.1:8000"
    uploads_dir: str = "uploads"
    upload_max_bytes: int = Field(default=104_857_600, gt=0)
    upload_token_ttl_s: float = Field(default=86_400.0, gt=0)

    # OCPI roaming (docs/ocpi.md): the public base URL partners reach Borne's OCPI endpoints at
    # (the operator API's server, path /ocpi), Borne's CPO identity, the largest page served,
    # session updates pushed to partners at most this often, outbox sender timing.
    ocpi_base_url: str = "http://127.0.0.1:8000/ocpi"
    ocpi_country_code: str = Field(default="NL", pattern=r"^[A-Z]{2}$")
    ocpi_party_id: str = Field(default="BRN", pattern=r"^[A-Z0-9]{3}$")
    ocpi_business_name: str = "Borne"
    ocpi_max_page_limit: int = Field(default=100, ge=1, le=1000)
    ocpi_session_update_interval_s: float = Field(default=60.0, ge=0)
    ocpi_request_timeout_s: float = Field(default=10.0, gt=0)
    ocpi_outbox_poll_interval_s: float = Field(default=1.0, gt=0)
    ocpi_outbox_backoff_base_s: float = Field(default=2.0, gt=0)
    ocpi_outbox_backoff_max_s: float = Field(default=600.0, gt=0)
    ocpi_outbox_max_attempts: int = Field(default=50, ge=1)
    ocpi_command_timeout_s: float = Field(default=60.0, gt=0)

    log_level: str = "INFO"
    log_json: bool = False
