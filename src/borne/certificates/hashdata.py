"""OCPP ``CertificateHashData`` of a certificate, as OCSP's CertID computes it (RFC 6960):
hash of the issuer's DER name, hash of the issuer's public key bits, the serial in hex."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509 import ocsp

from borne.core.errors import InvalidInput

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}
ALGORITHMS = frozenset(_HASHES)


def algorithm_of(name: str) -> hashes.HashAlgorithm:
    """The hash of an OCPP ``HashAlgorithmEnumType`` value."""
    return _HASHES[name]()


@dataclass(frozen=True)
class HashData:
    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Identity for comparisons: hashes are hex, compared case-insensitively."""
        return (
            self.hash_algorithm,
            self.issuer_name_hash.lower(),
            self.issuer_key_hash.lower(),
            serial_hex(self.serial_number),
        )


def serial_hex(serial: int | str) -> str:
    """Lower-case hex without leading zeros (stations differ in case and padding)."""
    if isinstance(serial, int):
        return format(serial, "x")
    return serial.lower().lstrip("0") or "0"


def parse_pem(pem: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        raise InvalidInput("certificate is not a PEM-encoded X.509 certificate") from None


def is_self_issued(cert: x509.Certificate) -> bool:
    return cert.issuer == cert.subject


def hash_data(
    cert: x509.Certificate, issuer: x509.Certificate, algorithm: str = "SHA256"
) -> HashData:
    """The hash data of ``cert`` signed by ``issuer`` (``cert`` itself for a root)."""
    request = (
        ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, algorithm_of(algorithm)).build()
    )
    return HashData(
        hash_algorithm=algorithm,
        issuer_name_hash=request.issuer_name_hash.hex(),
        issuer_key_hash=request.issuer_key_hash.hex(),
        serial_number=serial_hex(request.serial_number),
    )


def subject_of(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()[:255]
