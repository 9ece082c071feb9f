"""The certificate authority: create, store, load; issue server and client certificates.

On disk (``CertificateAuthority.save``/``load_ca``): ``ca.crt`` (PEM, 0644) and ``ca.key``
(PEM, PKCS#8, unencrypted, 0600; the directory itself 0700 when created here). Saving never
replaces existing files unless ``overwrite=True``: losing the CA key orphans every station
certificate it signed.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT_FILE = "ca.crt"
CA_KEY_FILE = "ca.key"
# Certificates start a little in the past: a station whose clock lags must not see them as
# not yet valid.
BACKDATE = timedelta(minutes=5)

CaKey: TypeAlias = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey: TypeAlias = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


@dataclass(frozen=True)
class CertificateAuthority:
    certificate: x509.Certificate
    key: CaKey

    @property
    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        """The private key, PEM PKCS#8 (a method, so that it is never printed by accident)."""
        return _key_pem(self.key)

    def save(self, dir: Path, *, overwrite: bool = False) -> None:
        """Write ``ca.crt`` and ``ca.key`` (mode 0600) into ``dir``; ``FileExistsError`` when
        either exists and ``overwrite`` is false."""
        dir = Path(dir)
        if not dir.exists():
            dir.mkdir(mode=0o700, parents=True)
        cert_path, key_path = dir / CA_CERT_FILE, dir / CA_KEY_FILE
        if not overwrite:
            for path in (cert_path, key_path):
                if path.exists():
                    raise FileExistsError(f"{path} exists; not overwriting it")
        write_private(key_path, self.key_pem())
        write_public(cert_path, self.cert_pem)

    def __repr__(self) -> str:  # never the key
        return f"CertificateAuthority({self.certificate.subject.rfc4514_string()!r})"


def create_ca(common_name: str, *, valid_days: int = 3650) -> CertificateAuthority:
    """A new self-signed root CA with an ECDSA P-256 key."""
    if not common_name.strip():
        raise ValueError("the CA needs a common name")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertificateAuthority(certificate, key)


def load_ca(dir: Path) -> CertificateAuthority:
    """The CA stored in ``dir`` (also an operator-supplied one: RSA or EC key, PEM)."""
    dir = Path(dir)
    certificate = x509.load_pem_x509_certificate((dir / CA_CERT_FILE).read_bytes())
    key = serialization.load_pem_private_key((dir / CA_KEY_FILE).read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError("the CA key must be an EC or RSA key")
    if _spki(key.public_key()) != _spki(certificate.public_key()):
        raise ValueError("the CA key does not belong to the CA certificate")
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        raise ValueError("the CA certificate is not a CA (no basic constraints)") from None
    if not constraints.value.ca:
        raise ValueError("the CA certificate is not a CA")
    return CertificateAuthority(certificate, key)


def issue_server_certificate(
    ca: CertificateAuthority, hostnames: Sequence[str], *, valid_days: int = 825
) -> tuple[bytes, bytes]:
    """A TLS server certificate for the OCPP endpoint: ``(cert_pem, key_pem)``.

    ``hostnames`` are DNS names or IP addresses (subject alternative names, which is what TLS
    clients check); the first one is also the CN. 825 days: the longest validity clients that
    follow the CA/Browser rules accept."""
    if not hostnames:
        raise ValueError("a server certificate needs at least one hostname or IP address")
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName([_general_name(h) for h in hostnames])
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])])
    certificate = build_leaf(
        ca,
        subject,
        key.public_key(),
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        valid_days=valid_days,
        san=san,
    )
    return certificate.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def issue_client_certificate(
    ca: CertificateAuthority,
    station_id: str,
    *,
    valid_days: int = 365,
    not_valid_before: datetime | None = None,
    organization: str | None = None,
) -> tuple[bytes, bytes]:
    """A charging-station (TLS client) certificate with CN = ``station_id``, for tests and
    tools (stations normally send a CSR: ``borne.pki.csr``). ``not_valid_before`` in the past
    with a short ``valid_days`` makes an expired certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, station_id)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    certificate = build_leaf(
        ca,
        x509.Name(attributes),
        key.public_key(),
        usage=ExtendedKeyUsageOID.CLIENT_AUTH,
        valid_days=valid_days,
        not_valid_before=not_valid_before,
    )
    return certificate.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def build_leaf(
    ca: CertificateAuthority,
    subject: x509.Name,
    public_key: PublicKey,
    *,
    usage: x509.ObjectIdentifier,
    valid_days: int,
    san: x509.SubjectAlternativeName | None = None,
    not_valid_before: datetime | None = None,
) -> x509.Certificate:
    """An end-entity certificate signed by ``ca``, never valid beyond the CA itself."""
    if valid_days < 1:
        raise ValueError("valid_days must be at least 1")
    start = not_valid_before if not_valid_before is not None else datetime.now(UTC) - BACKDATE
    end = min(start + BACKDATE + timedelta(days=valid_days), ca.certificate.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=isinstance(public_key, rsa.RSAPublicKey),
                data_encipherment=False,
                key_agreement=isinstance(public_key, ec.EllipticCurvePublicKey),
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    if san is not None:
        builder = builder.add_extension(san, critical=False)
    return builder.sign(ca.key, hashes.SHA256())


def write_private(path: Path, data: bytes) -> None:
    """Write a secret: created with mode 0600 (never readable by others, not even briefly)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), 0o600)  # an existing file keeps its mode on O_CREAT
        out.write(data)


def write_public(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o644)


def _spki(public_key: CertificatePublicKeyTypes) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _key_pem(key: CaKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)
