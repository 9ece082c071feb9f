"""Charging-station CSRs (SignCertificate): check them, sign them with Borne's CA.

OCPP binds a station certificate to the station: its subject CN is the charging-station id
(the organization O, the CSO's name, is optional). A CSR is refused unless it is a well-formed
PEM PKCS#10 request whose self-signature verifies with a SHA-2 hash, whose key is RSA of at
least 2048 bits or ECDSA on P-256/P-384/P-521, whose CN is exactly the station id, and which does
not ask to be a CA. The reason of a refusal names the rule, never the CSR's content.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from borne.pki.ca import CertificateAuthority, build_leaf

# OCPP 2.0.1 SignCertificateRequest.csr is at most 5500 characters; leave room for 1.6 stations.
MAX_CSR_CHARS = 10_000
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192
ALLOWED_CURVES = frozenset({"secp256r1", "secp384r1", "secp521r1"})
ALLOWED_HASHES = (hashes.SHA256, hashes.SHA384, hashes.SHA512)
# Subject attributes carried from the CSR into the certificate; others are dropped.
KEPT_ATTRIBUTES = (NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME, NameOID.COUNTRY_NAME)


class CsrRejected(Exception):
    """A CSR that Borne will not sign; ``reason`` is safe to log and to show the operator."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_csr(pem: str, *, station_id: str) -> x509.CertificateSigningRequest:
    """The parsed CSR when every rule holds, else ``CsrRejected``."""
    if len(pem) > MAX_CSR_CHARS:
        raise CsrRejected("CSR too long")
    try:
        csr = x509.load_pem_x509_csr(pem.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise CsrRejected("not a PEM certificate signing request") from None
    try:
        hash_algorithm = csr.signature_hash_algorithm
    except UnsupportedAlgorithm:
        hash_algorithm = None
    if not isinstance(hash_algorithm, ALLOWED_HASHES):
        raise CsrRejected("CSR signature hash not allowed (SHA-256, SHA-384 or SHA-512)")
    try:
        signature_ok = csr.is_signature_valid
    except Exception:  # an unparsable key or signature is as bad as a wrong one
        signature_ok = False
    if not signature_ok:
        raise CsrRejected("CSR signature does not verify")
    _check_key(csr)
    common_names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(common_names) != 1 or common_names[0].value != station_id:
        raise CsrRejected("CSR subject CN must be the charging station id")
    try:
        extensions = csr.extensions
    except ValueError:
        raise CsrRejected("CSR extensions are malformed") from None
    for extension in extensions:
        if isinstance(extension.value, x509.BasicConstraints) and extension.value.ca:
            raise CsrRejected("CSR asks for a CA certificate")
    return csr


def sign_csr(
    ca: CertificateAuthority, csr: x509.CertificateSigningRequest, *, valid_days: int = 365
) -> x509.Certificate:
    """A charging-station certificate (TLS client) for a CSR that passed ``check_csr``.

    Only the CSR's subject (CN, O, C) and public key are used; its extensions are not copied:
    Borne decides what the certificate may do."""
    public_key = csr.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise CsrRejected("CSR key type not allowed (RSA or ECDSA)")
    subject = x509.Name(
        [attribute for attribute in csr.subject if attribute.oid in KEPT_ATTRIBUTES]
    )
    return build_leaf(
        ca,
        subject,
        public_key,
        usage=ExtendedKeyUsageOID.CLIENT_AUTH,
        valid_days=valid_days,
    )


def chain_pem(cert: x509.Certificate, ca: CertificateAuthority) -> str:
    """The certificate chain a station installs: its certificate, then the CA's (PEM)."""
    leaf = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
    return leaf + ca.cert_pem.decode("ascii")


def _check_key(csr: x509.CertificateSigningRequest) -> None:
    try:
        key = csr.public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise CsrRejected("CSR key type not allowed (RSA or ECDSA)") from None
    if isinstance(key, rsa.RSAPublicKey):
        if not MIN_RSA_BITS <= key.key_size <= MAX_RSA_BITS:
            raise CsrRejected(f"CSR RSA key must have {MIN_RSA_BITS} to {MAX_RSA_BITS} bits")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in ALLOWED_CURVES:
            raise CsrRejected("CSR EC key must be on P-256, P-384 or P-521")
    else:
        raise CsrRejected("CSR key type not allowed (RSA or ECDSA)")
