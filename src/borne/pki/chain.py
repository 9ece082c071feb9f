"""Validating a station certificate outside a TLS handshake (the handshake itself is checked by
OpenSSL, see ``borne.ocpp.tls``): for tools and for certificates a station reports.

Borne's CAs are roots that sign station certificates directly (path length 0), so a chain is
the certificate plus one trusted CA that issued it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import NameOID


class CertificateInvalid(Exception):
    """A certificate that does not authenticate a station; ``reason`` is safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def verify_client_certificate(
    certificate: x509.Certificate,
    trusted: Sequence[x509.Certificate],
    *,
    station_id: str | None = None,
    now: datetime | None = None,
) -> str:
    """The certificate's CN when it was issued by one of ``trusted`` (signature checked), is
    within its validity period at ``now``, is not a CA, and (given ``station_id``) names that
    station; else ``CertificateInvalid``."""
    moment = now if now is not None else datetime.now(UTC)
    if not any(_issued_by(certificate, ca, moment) for ca in trusted):
        raise CertificateInvalid("certificate not issued by a trusted CA")
    if moment < certificate.not_valid_before_utc:
        raise CertificateInvalid("certificate not yet valid")
    if moment > certificate.not_valid_after_utc:
        raise CertificateInvalid("certificate expired")
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
        if constraints.value.ca:
            raise CertificateInvalid("a CA certificate cannot identify a station")
    except x509.ExtensionNotFound:
        pass
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1:
        raise CertificateInvalid("certificate subject must have exactly one CN")
    common_name = str(names[0].value)
    if station_id is not None and common_name != station_id:
        raise CertificateInvalid("certificate CN is not the station id")
    return common_name


def _issued_by(certificate: x509.Certificate, ca: x509.Certificate, moment: datetime) -> bool:
    if not ca.not_valid_before_utc <= moment <= ca.not_valid_after_utc:
        return False
    try:
        certificate.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
