"""Tunables of the diagnostics domain, built from settings by ``bootstrap``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DiagnosticsConfig:
    # Where uploaded log files are kept (created on first upload); the database holds metadata.
    uploads_dir: Path = Path("./uploads")
    # The base URL stations reach Borne's HTTP server at: upload locations are built from it.
    public_base_url: str = "http://127.0.0.1:8000"
    # Largest upload accepted (the whole request body, multipart framing included).
    upload_max_bytes: int = 100 * 1024 * 1024
    # How long an upload URL stays valid after the request was sent; stations retry with
    # ``retries`` x ``retryInterval``, so this outlives them comfortably.
    upload_token_ttl_s: float = 24 * 3600.0
    # Timeout of the OCPP calls (None: the gateway's call timeout).
    call_timeout_s: float | None = None

    def upload_location(self, token: str) -> str:
        """The URL given to the station; it may append a file name (HTTP PUT) or POST to it."""
        return f"{self.public_base_url.rstrip('/')}/uploads/{token}/"
