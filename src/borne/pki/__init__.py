"""Borne's own certificate authority for OCPP security profiles 2 and 3 (R26).

A pure crypto library on ``cryptography``: create and store the CA, issue the gateway's server
certificate, check and sign charging-station CSRs (SignCertificate), validate client chains.
The CA key is ECDSA P-256: small certificates, fast handshakes on constrained chargers, and
accepted by OCPP (2.0.1 and the 1.6 security whitepaper allow ECC keys of 224 bits or more).
"""

from borne.pki.ca import (
    CertificateAuthority,
    create_ca,
    issue_client_certificate,
    issue_server_certificate,
    load_ca,
)
from borne.pki.chain import CertificateInvalid, verify_client_certificate
from borne.pki.csr import CsrRejected, chain_pem, check_csr, sign_csr

__all__ = [
    "CertificateAuthority",
    "CertificateInvalid",
    "CsrRejected",
    "chain_pem",
    "check_csr",
    "create_ca",
    "issue_client_certificate",
    "issue_server_certificate",
    "load_ca",
    "sign_csr",
    "verify_client_certificate",
]
