"""The 2.0.1 ISO 15118 certificate messages a station sends to the CSMS.

- GetCertificateStatus (M06): the station asks the OCSP status of a certificate. For a
  certificate of Borne's own CA Borne answers itself: an RFC 6960 response signed by the CA
  (a CA may sign its own OCSP responses), ``good`` for a certificate Borne issued, ``unknown``
  for a serial it never issued. Other issuers (a V2G root, a mobility operator) need their OCSP
  responder, which Borne does not query: ``Failed``.
- Get15118EVCertificate (M01/M02): installing an EV contract certificate needs a contract
  certificate pool (a V2G PKI provider); none is configured, so ``Failed`` with the reason.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from sqlalchemy import select

from borne.certificates.config import CaSource
from borne.certificates.hashdata import ALGORITHMS, HashData, algorithm_of, hash_data, serial_hex
from borne.certificates.models import IssuedCertificate
from borne.core.deps import Deps
from borne.pki import CertificateAuthority

# Responses are valid this long: stations cache them and staple them in ISO 15118 sessions.
OCSP_VALIDITY = timedelta(days=1)


@dataclass(frozen=True)
class StatusAnswer:
    accepted: bool
    ocsp_result: str | None = None  # base64 of the DER OCSPResponse
    reason: str | None = None


class CertificateStatus:
    def __init__(self, deps: Deps, ca: CaSource) -> None:
        self._deps = deps
        self._ca = ca

    async def status(self, request: HashData, *, now: datetime) -> StatusAnswer:
        ca = self._ca()
        if ca is None or request.hash_algorithm not in ALGORITHMS:
            return StatusAnswer(False, reason="UnknownIssuer")
        ours = hash_data(ca.certificate, ca.certificate, request.hash_algorithm)
        if ours.key[:3] != request.key[:3]:
            return StatusAnswer(False, reason="UnknownIssuer")
        serial = request.key[3]
        async with self._deps.db.unit_of_work() as uow:
            pem = await uow.session.scalar(
                select(IssuedCertificate.certificate_pem)
                .where(IssuedCertificate.serial_number == serial)
                .limit(1)
            )
        der = _response(ca, request, pem, now)
        return StatusAnswer(True, ocsp_result=base64.b64encode(der).decode("ascii"))


def _response(ca: CertificateAuthority, request: HashData, pem: str | None, now: datetime) -> bytes:
    algorithm = algorithm_of(request.hash_algorithm)
    builder = ocsp.OCSPResponseBuilder()
    if pem is not None:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
        builder = builder.add_response(
            cert=cert,
            issuer=ca.certificate,
            algorithm=algorithm,
            cert_status=ocsp.OCSPCertStatus.GOOD,
            this_update=now,
            next_update=now + OCSP_VALIDITY,
            revocation_time=None,
            revocation_reason=None,
        )
    else:
        builder = builder.add_response_by_hash(
            issuer_name_hash=bytes.fromhex(request.issuer_name_hash),
            issuer_key_hash=bytes.fromhex(request.issuer_key_hash),
            serial_number=int(serial_hex(request.serial_number), 16),
            algorithm=algorithm,
            cert_status=ocsp.OCSPCertStatus.UNKNOWN,
            this_update=now,
            next_update=now + OCSP_VALIDITY,
            revocation_time=None,
            revocation_reason=None,
        )
    response = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, ca.certificate).sign(
        ca.key, algorithm_of("SHA256")
    )
    return response.public_bytes(Encoding.DER)
