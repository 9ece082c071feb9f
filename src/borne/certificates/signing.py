"""SignCertificate, version-agnostic: check the CSR, sign it with Borne's CA, store the
certificate, answer, then deliver the chain with CertificateSigned in a supervised task.

A CSR Borne refuses (``borne.pki.check_csr``: wrong CN, weak key, bad signature…) is answered
``Rejected`` and recorded as a CSMS security event ``InvalidCsr`` with the rule that failed
(never the CSR itself). Without a configured CA every CSR is refused (no security event: the
station did nothing wrong). The delivery outcome (the station's CertificateSigned answer, or
``Failed`` when it could not be sent) is stored on the issued certificate; a station whose
delivery failed sends a new CSR after its own retry interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from borne.certificates import service
from borne.certificates.config import CaSource, CertificatesConfig
from borne.certificates.hashdata import serial_hex, subject_of
from borne.commands.results import CommandResult
from borne.core.deps import Deps
from borne.core.errors import BorneError
from borne.pki import CsrRejected, chain_pem, check_csr, sign_csr
from borne.stations.service import record_security_event

log = logging.getLogger(__name__)

INVALID_CSR_EVENT = "InvalidCsr"
Deliver = Callable[[str], Awaitable[CommandResult]]


@dataclass(frozen=True)
class SignOutcome:
    accepted: bool
    reason: str | None = None  # why it was refused
    certificate_id: int | None = None
    chain: str | None = None  # PEM: the station's certificate, then Borne's CA


class CertificateSigner:
    def __init__(self, deps: Deps, config: CertificatesConfig, ca: CaSource) -> None:
        self._deps = deps
        self._config = config
        self._ca = ca
        self.delivered = 0

    async def sign(
        self, *, station_id: str, certificate_type: str, csr_pem: str, received_at: datetime
    ) -> SignOutcome:
        ca = self._ca()
        if ca is None:
            log.warning("CSR of %s refused: no CA configured (borne pki init)", station_id)
            return SignOutcome(False, "NoCertificateAuthority")
        try:
            csr = check_csr(csr_pem, station_id=station_id)
            cert = sign_csr(ca, csr, valid_days=self._config.station_certificate_days)
        except CsrRejected as exc:
            await self._refused(station_id, exc.reason, received_at)
            return SignOutcome(False, exc.reason)
        chain = chain_pem(cert, ca)
        async with self._deps.db.unit_of_work() as uow:
            certificate_id = await service.record_issued(
                uow, _new(station_id, certificate_type, cert), now=received_at
            )
            await uow.commit()
        log.info("signed %s of %s, serial %x", certificate_type, station_id, cert.serial_number)
        return SignOutcome(True, certificate_id=certificate_id, chain=chain)

    async def _refused(self, station_id: str, reason: str, received_at: datetime) -> None:
        log.info("CSR of %s refused: %s", station_id, reason)
        async with self._deps.db.unit_of_work() as uow:
            await record_security_event(
                uow,
                station_id=station_id,
                type=INVALID_CSR_EVENT,
                timestamp=received_at,
                received_at=received_at,
                tech_info=reason[:1000],
                source="csms",
            )
            await uow.commit()

    def deliver_later(self, station_id: str, outcome: SignOutcome, deliver: Deliver) -> None:
        """Send CertificateSigned once the SignCertificate answer has left (supervised)."""
        if not outcome.accepted or outcome.chain is None or outcome.certificate_id is None:
            return
        self._deps.supervisor.spawn(
            self._deliver(outcome.certificate_id, outcome.chain, deliver),
            name=f"certificate-signed-{station_id}",
        )

    async def _deliver(self, certificate_id: int, chain: str, deliver: Deliver) -> None:
        await asyncio.sleep(self._config.delivery_delay_s)
        detail: str | None
        try:
            result = await deliver(chain)
            status, detail = result.status, result.reason
        except BorneError as exc:
            status, detail = "Failed", exc.code
        async with self._deps.db.unit_of_work() as uow:
            await service.record_delivery(
                uow,
                certificate_id=certificate_id,
                status=status if status in ("Accepted", "Rejected") else "Failed",
                detail=detail,
                now=self._deps.clock.now(),
            )
            await uow.commit()
        self.delivered += status == "Accepted"


def _new(station_id: str, certificate_type: str, cert: x509.Certificate) -> service.NewCertificate:
    return service.NewCertificate(
        station_id=station_id,
        certificate_type=certificate_type,
        serial_number=serial_hex(cert.serial_number),
        subject=subject_of(cert),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        certificate_pem=cert.public_bytes(Encoding.PEM).decode("ascii"),
    )
