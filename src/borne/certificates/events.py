"""Domain events of the certificates domain, published after commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class CertificateIssued:
    """Borne's CA signed a station's CSR (delivery through CertificateSigned follows)."""

    station_id: str
    certificate_type: str
    serial_number: str
    not_after: datetime


@dataclass(frozen=True)
class SecurityProfileRaised:
    """A station accepted a higher security profile; Borne now requires it."""

    station_id: str
    previous_profile: int
    security_profile: int
