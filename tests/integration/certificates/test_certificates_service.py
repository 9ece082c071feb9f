"""The certificates domain on a real database (SQLite and PostgreSQL): issued certificates and
their delivery, renewal due dates, installed ids, the CSR signer, profile-upgrade guards."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

import borne.certificates.models  # noqa: F401  (the tables, before the schema is created)
from borne.certificates import operations, service
from borne.certificates.config import CertificatesConfig, fixed_ca
from borne.certificates.hashdata import HashData, hash_data
from borne.certificates.models import IssuedCertificate
from borne.certificates.renewal import RenewalLoop
from borne.certificates.signing import CertificateSigner
from borne.commands.results import CommandResult
from borne.core.deps import Deps
from borne.core.errors import Conflict, NotFound, StationNotConnected
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.versions import OcppVersion
from borne.pki import CertificateAuthority, create_ca
from borne.stations import admin
from borne.stations.models import SecurityEvent

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PASSWORD = "correct-horse-battery-1"


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return create_ca("Borne Test CA")


async def _station(deps: Deps, station_id: str, profile: int = 1) -> None:
    async with deps.db.unit_of_work() as uow:
        await admin.create_station(
            uow,
            station_id=station_id,
            now=NOW,
            security_profile=profile,
            password=PASSWORD if profile else None,
            password_iterations=1000,
        )
        await uow.commit()


def _cert(station_id: str, serial: str, not_after: datetime) -> service.NewCertificate:
    return service.NewCertificate(
        station_id=station_id,
        certificate_type=service.STATION_CERTIFICATE,
        serial_number=serial,
        subject=f"CN={station_id}",
        not_before=NOW - timedelta(days=1),
        not_after=not_after,
        certificate_pem="-----BEGIN CERTIFICATE-----\n...",
    )


async def _issue(deps: Deps, cert: service.NewCertificate, status: str = "Accepted") -> int:
    async with deps.db.unit_of_work() as uow:
        cid = await service.record_issued(uow, cert, now=NOW)
        await service.record_delivery(uow, certificate_id=cid, status=status, now=NOW)
        await uow.commit()
    return cid


def _csr(common_name: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


async def test_issued_certificates_and_delivery(deps: Deps) -> None:
    await _station(deps, "CS-1")
    cid = await _issue(deps, _cert("CS-1", "a1", NOW + timedelta(days=365)), status="Rejected")
    async with deps.db.unit_of_work() as uow:
        page = await service.list_issued(uow, station_id="CS-1")
        assert page.total == 1
        row = page.items[0]
        assert (row.id, row.serial_number, row.delivery_status) == (cid, "a1", "Rejected")
        with pytest.raises(NotFound):
            await service.list_issued(uow, station_id="NOPE")


async def test_renewal_due_newest_certificate_and_retry(deps: Deps) -> None:
    await _station(deps, "CS-1")
    await _station(deps, "CS-2")
    renew, retry = timedelta(days=30), timedelta(days=1)
    near = await _issue(deps, _cert("CS-1", "01", NOW + timedelta(days=10)))
    # CS-2: a near one superseded by a newer far one; a near one never delivered.
    await _issue(deps, _cert("CS-2", "02", NOW + timedelta(days=5)))
    await _issue(deps, _cert("CS-2", "03", NOW + timedelta(days=300)))
    await _issue(deps, _cert("CS-2", "04", NOW + timedelta(days=2)), status="Failed")
    async with deps.db.unit_of_work() as uow:
        due = await service.due_for_renewal(uow, now=NOW, renew_before=renew, retry_after=retry)
        assert [(d.station_id, d.certificate_id) for d in due] == [("CS-1", near)]
        await service.mark_renewal_requested(uow, certificate_id=near, now=NOW)
        await uow.commit()
    async with deps.db.unit_of_work() as uow:
        assert (
            await service.due_for_renewal(uow, now=NOW, renew_before=renew, retry_after=retry) == []
        )
        later = NOW + timedelta(days=1, seconds=1)
        due = await service.due_for_renewal(uow, now=later, renew_before=renew, retry_after=retry)
        assert [d.certificate_id for d in due] == [near]


async def test_installed_ids_upsert_replace_and_remove(deps: Deps) -> None:
    await _station(deps, "CS-1")
    a = HashData("SHA256", "AA", "BB", "0F")
    b = HashData("SHA256", "cc", "dd", "10")
    async with deps.db.unit_of_work() as uow:
        await service.store_installed(
            uow,
            station_id="CS-1",
            certificate_type="CSMSRootCertificate",
            data=a,
            now=NOW,
            subject="CN=Root A",
        )
        # The same certificate written differently (case, leading zero) is the same row.
        same = HashData("SHA256", "aa", "bb", "f")
        await service.store_installed(
            uow, station_id="CS-1", certificate_type="CSMSRootCertificate", data=same, now=NOW
        )
        await service.store_installed(
            uow, station_id="CS-1", certificate_type="ManufacturerRootCertificate", data=b, now=NOW
        )
        await uow.commit()
    async with deps.db.unit_of_work() as uow:
        rows = await service.list_installed(uow, station_id="CS-1")
        assert [(r.certificate_type, r.serial_number, r.subject) for r in rows] == [
            ("CSMSRootCertificate", "f", "CN=Root A"),
            ("ManufacturerRootCertificate", "10", None),
        ]
        # The station reports its CSMS roots: only that type is replaced, subjects kept.
        await service.replace_reported(
            uow,
            station_id="CS-1",
            types=["CSMSRootCertificate"],
            reported=[("CSMSRootCertificate", same)],
            now=NOW,
        )
        await uow.commit()
    async with deps.db.unit_of_work() as uow:
        rows = await service.list_installed(uow, station_id="CS-1")
        assert [(r.serial_number, r.source, r.subject) for r in rows] == [
            ("f", "reported", "CN=Root A"),
            ("10", "installed", None),
        ]
        assert await service.remove_installed(uow, station_id="CS-1", data=b) is True
        assert await service.remove_installed(uow, station_id="CS-1", data=b) is False
        await service.replace_reported(uow, station_id="CS-1", types=None, reported=[], now=NOW)
        await uow.commit()
    async with deps.db.unit_of_work() as uow:
        assert await service.list_installed(uow, station_id="CS-1") == []


def test_hash_data_is_ocsp_cert_id(ca: CertificateAuthority) -> None:
    cert = ca.certificate
    data = hash_data(cert, cert)
    assert data.issuer_name_hash == hashlib.sha256(cert.issuer.public_bytes()).hexdigest()
    assert data.serial_number == format(cert.serial_number, "x")
    assert len(data.issuer_key_hash) == 64


async def test_signer_signs_refuses_and_records_delivery(
    deps: Deps, ca: CertificateAuthority
) -> None:
    await _station(deps, "CS-1")
    signer = CertificateSigner(deps, CertificatesConfig(delivery_delay_s=0), fixed_ca(ca))
    outcome = await signer.sign(
        station_id="CS-1",
        certificate_type=service.STATION_CERTIFICATE,
        csr_pem=_csr("CS-1"),
        received_at=NOW,
    )
    assert outcome.accepted and outcome.chain is not None
    leaf = x509.load_pem_x509_certificates(outcome.chain.encode())[0]
    leaf.verify_directly_issued_by(ca.certificate)

    delivered = asyncio.Event()

    async def deliver(chain: str) -> CommandResult:
        delivered.set()
        return CommandResult(
            station_id="CS-1",
            ocpp_version=OcppVersion.V201,
            action="CertificateSigned",
            status="Accepted",
            raw={"status": "Accepted"},
        )

    signer.deliver_later("CS-1", outcome, deliver)
    await asyncio.wait_for(delivered.wait(), 5)

    async def offline(chain: str) -> CommandResult:
        raise StationNotConnected("station CS-1 is not connected")

    second = await signer.sign(
        station_id="CS-1",
        certificate_type=service.STATION_CERTIFICATE,
        csr_pem=_csr("CS-1"),
        received_at=NOW,
    )
    signer.deliver_later("CS-1", second, offline)
    for _ in range(100):
        async with deps.db.unit_of_work() as uow:
            rows = [
                (r.delivery_status, r.serial_number, r.delivery_detail)
                for r in await uow.session.scalars(
                    select(IssuedCertificate).order_by(IssuedCertificate.id)
                )
            ]
        if [r[0] for r in rows] == ["Accepted", "Failed"]:
            break
        await asyncio.sleep(0.02)
    assert [r[0] for r in rows] == ["Accepted", "Failed"]
    assert rows[0][1] == format(leaf.serial_number, "x")
    assert rows[1][2] == "station_not_connected"

    refused = await signer.sign(
        station_id="CS-1",
        certificate_type=service.STATION_CERTIFICATE,
        csr_pem=_csr("CS-2"),
        received_at=NOW,
    )
    assert not refused.accepted and refused.reason is not None
    no_ca = CertificateSigner(deps, CertificatesConfig(), fixed_ca(None))
    outcome = await no_ca.sign(
        station_id="CS-1",
        certificate_type=service.STATION_CERTIFICATE,
        csr_pem=_csr("CS-1"),
        received_at=NOW,
    )
    assert not outcome.accepted
    async with deps.db.unit_of_work() as uow:
        events = [(e.type, e.source) for e in await uow.session.scalars(select(SecurityEvent))]
    # Only the wrong-CN CSR is the station's fault.
    assert events == [("InvalidCsr", "csms")]


async def test_renewal_skips_offline_stations(deps: Deps) -> None:
    await _station(deps, "CS-1")
    cid = await _issue(deps, _cert("CS-1", "01", deps.clock.now() + timedelta(days=1)))
    loop = RenewalLoop(deps, OcppOutbound(deps.registry), CertificatesConfig())
    assert await loop.check_once() == 0
    async with deps.db.unit_of_work() as uow:
        row = await uow.session.get(IssuedCertificate, cid)
        assert row is not None and row.renewal_requested_at is None


async def test_profile_downgrade_refused_before_anything_is_sent(deps: Deps) -> None:
    await _station(deps, "CS-1", profile=3)
    outbound = OcppOutbound(deps.registry)  # nobody connected: a sent call would fail 409 too
    with pytest.raises(Conflict) as info:
        await operations.raise_security_profile(
            deps, outbound, station_id="CS-1", security_profile=2
        )
    assert "downgrade" in info.value.message
    assert info.value.details == {"security_profile": 3, "requested": 2}
    with pytest.raises(NotFound):
        await operations.raise_security_profile(
            deps, outbound, station_id="NOPE", security_profile=2
        )
    with pytest.raises(StationNotConnected):
        await operations.raise_security_profile(
            deps, outbound, station_id="CS-1", security_profile=3
        )
