"""TLS for the OCPP endpoint: security profiles 2 (TLS + Basic) and 3 (TLS + client certificate).

The server context accepts TLS 1.2 and 1.3 only (R26). With a client CA, a client certificate
is *optional* at the TLS level, because profile-2 stations on the same port present none; but a
certificate that is presented must chain to that CA and be within its validity period, or
OpenSSL ends the handshake before any HTTP is read (an invalid, expired or untrusted certificate
never reaches the upgrade). Whether a station *needs* one, and whether its CN is the station id,
is decided at the upgrade (``borne.ocpp.gateway``, the station directory).
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from borne.ocpp.directory import TlsPeer


def server_context(
    cert_file: str | Path, key_file: str | Path, client_ca_file: str | Path | None = None
) -> ssl.SSLContext:
    """The gateway's TLS context: ``cert_file`` may hold the chain (leaf first)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    context.load_cert_chain(str(cert_file), str(key_file))
    if client_ca_file is not None:
        context.load_verify_locations(cafile=str(client_ca_file))
        context.verify_mode = ssl.CERT_OPTIONAL
    else:
        context.verify_mode = ssl.CERT_NONE
    return context


def peer_of(transport: Any) -> TlsPeer | None:
    """The TLS facts of a connection's transport; None when it is plain TCP."""
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        return None
    # Only a certificate OpenSSL verified against the client CA shows up here (CERT_OPTIONAL).
    certificate = ssl_object.getpeercert()
    if not certificate:
        return TlsPeer(client_cn=None, has_certificate=False)
    return TlsPeer(client_cn=common_name(certificate), has_certificate=True)


def common_name(certificate: dict[str, Any]) -> str | None:
    """The subject CN of a ``getpeercert()`` dict; None unless there is exactly one."""
    names = [
        value for rdn in certificate.get("subject", ()) for key, value in rdn if key == "commonName"
    ]
    return str(names[0]) if len(names) == 1 else None


def client_ca_file(configured: str | Path | None, pki_dir: str | Path) -> Path | None:
    """The CA that profile-3 station certificates must chain to: the configured file, else
    Borne's own CA (``<pki_dir>/ca.crt``, the one that signs stations' CSRs) when it exists."""
    if configured:
        return Path(configured)
    default = Path(pki_dir) / "ca.crt"
    return default if default.is_file() else None
