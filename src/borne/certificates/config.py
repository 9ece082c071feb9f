"""Settings of the certificates domain, filled by ``bootstrap`` from ``Settings``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from borne.pki import CertificateAuthority, load_ca

log = logging.getLogger(__name__)

# Borne's CA when one is configured, else None (SignCertificate is then refused).
CaSource = Callable[[], CertificateAuthority | None]


@dataclass(frozen=True)
class CertificatesConfig:
    # Validity of the certificates Borne's CA signs for stations' CSRs.
    station_certificate_days: int = 365
    # Ask a connected station for a new CSR this many days before its certificate expires.
    renew_before_days: float = 30.0
    # How often the renewal loop looks for certificates near expiry (0 turns it off).
    renewal_check_interval_s: float = 3600.0
    # A station asked to renew that has not sent a CSR yet is asked again after this.
    renewal_retry_s: float = 86400.0
    # CertificateSigned leaves after the SignCertificate answer: this pause lets the answer go
    # first (stations ignore a certificate that overtakes the reply to their own request).
    delivery_delay_s: float = 0.2
    # Timeout of Borne's calls to stations (None: the gateway's default).
    call_timeout_s: float | None = None


def ca_from_dir(directory: Path | None) -> CaSource:
    """A ``CaSource`` reading ``ca.crt``/``ca.key`` from ``directory``, kept once loaded. Until
    a CA is there (``borne pki init`` may run after the server started) it answers None and
    warns once."""
    loaded: list[CertificateAuthority] = []
    warned: list[bool] = []

    def source() -> CertificateAuthority | None:
        if loaded:
            return loaded[0]
        if directory is None:
            return None
        try:
            loaded.append(load_ca(directory))
        except (OSError, ValueError) as exc:
            if not warned:
                warned.append(True)
                log.warning("no usable CA in %s (%s): CSRs are refused", directory, exc)
            return None
        return loaded[0]

    return source


def fixed_ca(ca: CertificateAuthority | None) -> CaSource:
    return lambda: ca
