"""Station certificates end to end: the ``ocpp`` package's ChargePoint (1.6 security whitepaper
and 2.0.1) over a real socket against the real server, with Borne's own CA.

- SignCertificate with a CSR built with ``cryptography`` → Accepted → CertificateSigned carries
  a chain whose leaf verifies against Borne's CA; a wrong-CN CSR → Rejected + security event;
- InstallCertificate / GetInstalledCertificateIds / DeleteCertificate round trips, the station
  computing its own hash data;
- the renewal trigger for a certificate near expiry;
- security-profile upgrade (1.6 ChangeConfiguration, 2.0.1 SetNetworkProfile) and downgrade
  refused with 409.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID
from fastapi import Depends
from helpers import (
    PASSWORD,
    TIMEOUT,
    BorneServer,
    Station16,
    Station201,
    create_station,
    get_json,
    items,
    open_ws,
    start_server,
    stop_server,
    unique_id,
)
from ocpp.routing import on
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

import borne.certificates.models  # noqa: F401  (registers the tables before create_all)
from borne.api_security import require_api_key
from borne.certificates.config import CertificatesConfig, fixed_ca
from borne.certificates.runtime import Certificates, build_certificates
from borne.ocpp.versions import OcppVersion
from borne.pki import (
    CertificateAuthority,
    chain_pem,
    check_csr,
    create_ca,
    issue_server_certificate,
    sign_csr,
)

FAST = CertificatesConfig(delivery_delay_s=0.05, renewal_check_interval_s=0)


# ------------------------------------------------------------------------------ server


def certificate_settings(config: CertificatesConfig, pki_dir: Path) -> dict[str, Any]:
    """The settings the lead maps onto ``CertificatesConfig`` (ignored until they exist)."""
    return {
        "pki_dir": str(pki_dir),
        "station_certificate_days": config.station_certificate_days,
        "certificate_renew_before_days": config.renew_before_days,
        "certificate_renewal_check_interval_s": config.renewal_check_interval_s,
        "certificate_renewal_retry_s": config.renewal_retry_s,
        "certificate_delivery_delay_s": config.delivery_delay_s,
    }


@contextlib.asynccontextmanager
async def borne_with_certificates(
    db_url: str,
    ca: CertificateAuthority | None,
    config: CertificatesConfig = FAST,
    **settings: Any,
) -> AsyncIterator[tuple[BorneServer, Certificates | None]]:
    """Borne with the certificates domain and ``ca`` (None: no CA): wired here as
    ``bootstrap`` will wire it, or by ``bootstrap`` itself from the same settings."""
    with tempfile.TemporaryDirectory() as tmp:
        pki_dir = Path(tmp) / "pki"
        if ca is not None:
            ca.save(pki_dir)
        overrides = {**certificate_settings(config, pki_dir), **settings}
        borne = await start_server(db_url, **overrides)
        runtime = borne.runtime
        certs: Certificates | None = None
        try:
            if runtime.routers[OcppVersion.V201].handler_for("SignCertificate") is None:
                certs = build_certificates(
                    runtime.deps, runtime.outbound, runtime.routers, config, fixed_ca(ca)
                )
                runtime.app.include_router(
                    certs.router, prefix="/api/v1", dependencies=[Depends(require_api_key)]
                )
                certs.renewal.start()
            yield borne, certs
        finally:
            await stop_server(borne)


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return create_ca("Borne E2E CA")


# ----------------------------------------------------------------------------- stations


def _hash_data(cert: x509.Certificate) -> dict[str, str]:
    """The station's own computation of a root's CertificateHashData (OCSP CertID)."""
    req = ocsp.OCSPRequestBuilder().add_certificate(cert, cert, hashes.SHA256()).build()
    return {
        "hash_algorithm": "SHA256",
        "issuer_name_hash": req.issuer_name_hash.hex(),
        "issuer_key_hash": req.issuer_key_hash.hex(),
        "serial_number": format(req.serial_number, "x"),
    }


class _CertStore:
    def _init_store(self) -> None:
        self.roots: dict[str, tuple[str, x509.Certificate]] = {}  # serial → (type, cert)

    def _install(self, certificate_type: str, certificate: str) -> None:
        cert = x509.load_pem_x509_certificate(certificate.encode())
        self.roots[_hash_data(cert)["serial_number"]] = (certificate_type, cert)

    def _listed(self, types: list[str] | None) -> list[tuple[str, dict[str, str]]]:
        return [
            (kind, _hash_data(cert))
            for kind, cert in self.roots.values()
            if types is None or kind in types
        ]

    def _delete(self, certificate_hash_data: dict[str, Any]) -> str:
        serial = certificate_hash_data["serial_number"]
        return "Accepted" if self.roots.pop(serial, None) is not None else "NotFound"


class CertStation16(Station16, _CertStore):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._init_store()

    @on("CertificateSigned")
    def on_certificate_signed(self, **kw: Any) -> Any:
        return self._reply("CertificateSigned", kw, {"status": "Accepted"})

    @on("ExtendedTriggerMessage")
    def on_extended_trigger(self, **kw: Any) -> Any:
        return self._reply("ExtendedTriggerMessage", kw, {"status": "Accepted"})

    @on("InstallCertificate")
    def on_install(self, **kw: Any) -> Any:
        self._install(kw["certificate_type"], kw["certificate"])
        return self._reply("InstallCertificate", kw, {"status": "Accepted"})

    @on("GetInstalledCertificateIds")
    def on_get_installed(self, **kw: Any) -> Any:
        listed = [h for _, h in self._listed([kw["certificate_type"]])]
        default: dict[str, Any] = {"status": "Accepted" if listed else "NotFound"}
        if listed:
            default["certificate_hash_data"] = listed
        return self._reply("GetInstalledCertificateIds", kw, default)

    @on("DeleteCertificate")
    def on_delete(self, **kw: Any) -> Any:
        status = self._delete(kw["certificate_hash_data"])
        return self._reply("DeleteCertificate", kw, {"status": status})


class CertStation201(Station201, _CertStore):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._init_store()

    @on("CertificateSigned")
    def on_certificate_signed(self, **kw: Any) -> Any:
        return self._reply("CertificateSigned", kw, {"status": "Accepted"})

    @on("InstallCertificate")
    def on_install(self, **kw: Any) -> Any:
        self._install(kw["certificate_type"], kw["certificate"])
        return self._reply("InstallCertificate", kw, {"status": "Accepted"})

    @on("GetInstalledCertificateIds")
    def on_get_installed(self, **kw: Any) -> Any:
        listed = self._listed(kw.get("certificate_type"))
        default: dict[str, Any] = {"status": "Accepted" if listed else "NotFound"}
        if listed:
            default["certificate_hash_data_chain"] = [
                {"certificate_type": kind, "certificate_hash_data": h} for kind, h in listed
            ]
        return self._reply("GetInstalledCertificateIds", kw, default)

    @on("DeleteCertificate")
    def on_delete(self, **kw: Any) -> Any:
        status = self._delete(kw["certificate_hash_data"])
        return self._reply("DeleteCertificate", kw, {"status": status})

    @on("SetNetworkProfile")
    def on_set_network_profile(self, **kw: Any) -> Any:
        return self._reply("SetNetworkProfile", kw, {"status": "Accepted"})


@contextlib.asynccontextmanager
async def station(
    borne: BorneServer, version: str, station_id: str
) -> AsyncIterator[CertStation16 | CertStation201]:
    """A booted station of ``version`` ("1.6" or "2.0.1"), created at profile 1."""
    async with borne.api() as api:
        await create_station(api, station_id, profile=1, password=PASSWORD)
    subprotocol = "ocpp1.6" if version == "1.6" else "ocpp2.0.1"
    ws = await open_ws(borne, station_id, subprotocol, PASSWORD)
    cp: CertStation16 | CertStation201 = (
        CertStation16(station_id, ws) if version == "1.6" else CertStation201(station_id, ws)
    )
    task = asyncio.get_running_loop().create_task(cp.start())
    try:
        await cp.boot()
        yield cp
    finally:
        task.cancel()
        await ws.close()
        await asyncio.gather(task, return_exceptions=True)


def make_csr(common_name: str) -> tuple[str, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "E2E CPO"),
                ]
            )
        )
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode(), key


async def sign_certificate(cp: CertStation16 | CertStation201, csr: str) -> str:
    if isinstance(cp, CertStation16):
        answer = await cp.call(call16.SignCertificate(csr=csr))
    else:
        answer = await cp.call(
            call201.SignCertificate(csr=csr, certificate_type="ChargingStationCertificate")
        )
    status: str = answer.status
    return status


async def until(check: Any, timeout: float = TIMEOUT) -> Any:
    """Poll ``check()`` (async) until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


VERSIONS = pytest.mark.parametrize("version", ["1.6", "2.0.1"])


# -------------------------------------------------------------------------------- tests


@VERSIONS
async def test_sign_certificate_delivers_a_chain_signed_by_borne_ca(
    db_url: str, ca: CertificateAuthority, version: str
) -> None:
    async with borne_with_certificates(db_url, ca) as (borne, _):
        sid = unique_id("CERT")
        async with station(borne, version, sid) as cp:
            csr, key = make_csr(sid)
            assert await sign_certificate(cp, csr) == "Accepted"
            signed = await cp.received("CertificateSigned")
            chain = x509.load_pem_x509_certificates(signed["certificate_chain"].encode())
            leaf = chain[0]
            leaf.verify_directly_issued_by(ca.certificate)
            assert chain[-1] == ca.certificate  # the full chain, up to Borne's CA
            assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == sid
            assert leaf.public_key() == key.public_key()
            if version == "2.0.1":
                assert signed["certificate_type"] == "ChargingStationCertificate"

            async with borne.api() as api:

                async def delivered() -> Any:
                    page = await items(api, f"/stations/{sid}/certificates/issued")
                    return page if page and page[0]["delivery_status"] == "Accepted" else None

                issued = await until(delivered)
            assert issued[0]["serial_number"] == format(leaf.serial_number, "x")
            assert issued[0]["certificate_type"] == "ChargingStationCertificate"


@VERSIONS
async def test_csr_with_wrong_common_name_is_rejected(
    db_url: str, ca: CertificateAuthority, version: str
) -> None:
    async with borne_with_certificates(db_url, ca) as (borne, _):
        sid = unique_id("CERT")
        async with station(borne, version, sid) as cp:
            csr, _key = make_csr("SOMEONE-ELSE")
            assert await sign_certificate(cp, csr) == "Rejected"
            async with borne.api() as api:
                events = await items(api, f"/stations/{sid}/security-events")
                assert [e["type"] for e in events] == ["InvalidCsr"]
                assert "CN" in events[0]["tech_info"]
                assert await items(api, f"/stations/{sid}/certificates/issued") == []
            await asyncio.sleep(0.3)
            assert cp.calls["CertificateSigned"] == []


async def test_without_a_ca_every_csr_is_rejected(db_url: str) -> None:
    async with borne_with_certificates(db_url, None) as (borne, _):
        sid = unique_id("CERT")
        async with station(borne, "2.0.1", sid) as cp:
            csr, _key = make_csr(sid)
            assert await sign_certificate(cp, csr) == "Rejected"


@VERSIONS
async def test_install_list_and_delete_root_certificates(
    db_url: str, ca: CertificateAuthority, version: str
) -> None:
    other_root = create_ca("Manufacturer Root").certificate
    other_pem = other_root.public_bytes(serialization.Encoding.PEM).decode()
    async with borne_with_certificates(db_url, ca) as (borne, _), borne.api() as api:
        sid = unique_id("CERT")
        async with station(borne, version, sid) as cp:
            base = f"/stations/{sid}/certificates"
            # Borne's own CA as the CSMS root (no PEM in the body).
            r = await api.post(f"{base}/install", json={})
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "Accepted"
            sent = await cp.received("InstallCertificate")
            expected_type = (
                "CentralSystemRootCertificate" if version == "1.6" else "CSMSRootCertificate"
            )
            assert sent["certificate_type"] == expected_type
            assert x509.load_pem_x509_certificate(sent["certificate"].encode()) == ca.certificate
            assert r.json()["hash_data"] == _hash_data(ca.certificate)

            r = await api.post(
                f"{base}/install",
                json={"certificate_type": "ManufacturerRootCertificate", "certificate": other_pem},
            )
            assert r.json()["status"] == "Accepted", r.text
            stored = await get_json(api, base)
            assert {(c["certificate_type"], c["source"]) for c in stored} == {
                ("CSMSRootCertificate", "installed"),
                ("ManufacturerRootCertificate", "installed"),
            }

            # The station's own list (its own hashes) agrees with what Borne stored.
            r = await api.post(f"{base}/installed-ids", json={})
            assert r.status_code == 200, r.text
            listed = r.json()
            assert listed["status"] == "Accepted"
            assert sorted(
                c["hash_data"]["serial_number"] for c in listed["certificates"]
            ) == sorted(c["serial_number"] for c in stored)
            after = await get_json(api, base)
            assert {c["source"] for c in after} == {"reported"}
            assert {c["subject"] for c in after} == {"CN=Borne E2E CA", "CN=Manufacturer Root"}

            r = await api.post(f"{base}/delete", json=_hash_data(other_root))
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "Accepted"
            await cp.received("DeleteCertificate")
            remaining = await get_json(api, base)
            assert [c["certificate_type"] for c in remaining] == ["CSMSRootCertificate"]

            # A certificate the station does not hold: NotFound, and Borne forgets it too.
            r = await api.post(f"{base}/delete", json=_hash_data(other_root))
            assert r.json()["status"] == "NotFound"


async def test_install_refuses_a_non_root_and_a_v2g_root_on_16(
    db_url: str, ca: CertificateAuthority
) -> None:
    from borne.pki import issue_client_certificate

    leaf_pem, _ = issue_client_certificate(ca, "SOME-STATION")
    root_pem = ca.cert_pem.decode()
    async with borne_with_certificates(db_url, ca) as (borne, _), borne.api() as api:
        sid = unique_id("CERT")
        async with station(borne, "1.6", sid) as cp:
            base = f"/stations/{sid}/certificates"
            r = await api.post(f"{base}/install", json={"certificate": leaf_pem.decode()})
            assert r.status_code == 422, r.text
            r = await api.post(
                f"{base}/install",
                json={"certificate_type": "V2GRootCertificate", "certificate": root_pem},
            )
            assert r.status_code == 422, r.text
            assert "1.6" in r.json()["error"]["message"]
            assert cp.calls["InstallCertificate"] == []


@VERSIONS
async def test_renewal_is_triggered_before_expiry(
    db_url: str, ca: CertificateAuthority, version: str
) -> None:
    # Certificates valid 1 day, renewed 2 days before expiry: due as soon as delivered.
    config = CertificatesConfig(
        station_certificate_days=1,
        renew_before_days=2,
        renewal_check_interval_s=0.1,
        delivery_delay_s=0.05,
    )
    async with borne_with_certificates(db_url, ca, config) as (borne, _):
        sid = unique_id("CERT")
        async with station(borne, version, sid) as cp:
            csr, _key = make_csr(sid)
            assert await sign_certificate(cp, csr) == "Accepted"
            await cp.received("CertificateSigned")
            if version == "1.6":
                trigger = await cp.received("ExtendedTriggerMessage")
                assert trigger["requested_message"] == "SignChargePointCertificate"
            else:
                trigger = await cp.received("TriggerMessage")
                assert trigger["requested_message"] == "SignChargingStationCertificate"
            # Asked once per retry period, not at every round.
            await asyncio.sleep(0.5)
            action = "ExtendedTriggerMessage" if version == "1.6" else "TriggerMessage"
            assert len(cp.calls[action]) == 1
            async with borne.api() as api:
                issued = await items(api, f"/stations/{sid}/certificates/issued")
            assert issued[0]["renewal_requested_at"] is not None


async def test_renew_now_from_the_operator_api(db_url: str, ca: CertificateAuthority) -> None:
    async with borne_with_certificates(db_url, ca) as (borne, _), borne.api() as api:
        sid = unique_id("CERT")
        async with station(borne, "2.0.1", sid) as cp:
            r = await api.post(f"/stations/{sid}/certificates/renew", json={})
            assert r.status_code == 200, r.text
            trigger = await cp.received("TriggerMessage")
            assert trigger["requested_message"] == "SignChargingStationCertificate"


async def test_security_profile_upgrade_16_and_downgrade_refused(
    db_url: str, ca: CertificateAuthority
) -> None:
    async with borne_with_certificates(db_url, ca) as (borne, _), borne.api() as api:
        sid = unique_id("CERT")
        async with station(borne, "1.6", sid) as cp:
            r = await api.post(f"/stations/{sid}/security-profile", json={"security_profile": 2})
            assert r.status_code == 200, r.text
            assert r.json()["applied"] is True
            change = await cp.received("ChangeConfiguration")
            assert change == {"key": "SecurityProfile", "value": "2"}
            assert (await get_json(api, f"/stations/{sid}"))["security_profile"] == 2

            r = await api.post(f"/stations/{sid}/security-profile", json={"security_profile": 1})
            assert r.status_code == 409, r.text
            assert "downgrade" in r.json()["error"]["message"]
            assert len(cp.calls["ChangeConfiguration"]) == 1
            assert (await get_json(api, f"/stations/{sid}"))["security_profile"] == 2


async def test_security_profile_upgrade_201(db_url: str, ca: CertificateAuthority) -> None:
    async with borne_with_certificates(db_url, ca) as (borne, _), borne.api() as api:
        sid = unique_id("CERT")
        async with station(borne, "2.0.1", sid) as cp:
            body = {
                "security_profile": 3,
                "csms_url": "wss://csms.example/ocpp",
                "configuration_slot": 2,
            }
            r = await api.post(f"/stations/{sid}/security-profile", json=body)
            assert r.status_code == 200, r.text
            out = r.json()
            assert out["applied"] is True
            assert [s["action"] for s in out["steps"]] == [
                "SetNetworkProfile",
                "SetVariables",
                "Reset",
            ]
            profile = await cp.received("SetNetworkProfile")
            assert profile["configuration_slot"] == 2
            assert profile["connection_data"]["security_profile"] == 3
            assert profile["connection_data"]["ocpp_csms_url"] == "wss://csms.example/ocpp"
            variables = await cp.received("SetVariables")
            data = variables["set_variable_data"][0]
            assert data["variable"]["name"] == "NetworkConfigurationPriority"
            assert data["attribute_value"] == "2"
            assert (await cp.received("Reset"))["type"] == "OnIdle"
            assert (await get_json(api, f"/stations/{sid}"))["security_profile"] == 3

            # Downgrade refused, nothing sent; a station that refuses keeps its profile.
            body["security_profile"] = 2
            r = await api.post(f"/stations/{sid}/security-profile", json=body)
            assert r.status_code == 409
            assert len(cp.calls["SetNetworkProfile"]) == 1


async def test_security_profile_refused_by_station_is_not_applied(
    db_url: str, ca: CertificateAuthority
) -> None:
    async with borne_with_certificates(db_url, ca) as (borne, _), borne.api() as api:
        sid = unique_id("CERT")
        async with station(borne, "2.0.1", sid) as cp:
            cp.answers["SetNetworkProfile"] = {"status": "Rejected"}
            body = {"security_profile": 2, "csms_url": "wss://csms.example/ocpp"}
            r = await api.post(f"/stations/{sid}/security-profile", json=body)
            assert r.status_code == 200, r.text
            assert r.json()["applied"] is False
            assert r.json()["status"] == "Rejected"
            assert cp.calls["SetVariables"] == []
            assert (await get_json(api, f"/stations/{sid}"))["security_profile"] == 1
            # Profile 2 needs wss://.
            body["csms_url"] = "ws://csms.example/ocpp"
            r = await api.post(f"/stations/{sid}/security-profile", json=body)
            assert r.status_code == 422


async def test_certificate_status_ocsp_and_15118_contract_certificates(
    db_url: str, ca: CertificateAuthority
) -> None:
    """GetCertificateStatus: Borne answers OCSP for its own CA; Get15118EVCertificate fails
    cleanly without a contract-certificate pool."""
    async with borne_with_certificates(db_url, ca) as (borne, _):
        sid = unique_id("CERT")
        async with station(borne, "2.0.1", sid) as cp:
            csr, _key = make_csr(sid)
            assert await sign_certificate(cp, csr) == "Accepted"
            chain = (await cp.received("CertificateSigned"))["certificate_chain"]
            leaf = x509.load_pem_x509_certificates(chain.encode())[0]
            data = _hash_data(ca.certificate)  # issuer hashes of Borne's CA

            async def status(serial: int, **over: str) -> Any:
                request = {**data, "serial_number": format(serial, "x"), **over}
                request["responder_url"] = "http://ocsp.example"
                return await cp.call(call201.GetCertificateStatus(ocsp_request_data=request))

            answer = await status(leaf.serial_number)
            assert answer.status == "Accepted"
            response = ocsp.load_der_ocsp_response(base64.b64decode(answer.ocsp_result))
            assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
            assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
            assert response.serial_number == leaf.serial_number
            public = ca.certificate.public_key()
            assert isinstance(public, ec.EllipticCurvePublicKey)
            public.verify(
                response.signature,
                response.tbs_response_bytes,
                ec.ECDSA(response.signature_hash_algorithm),
            )
            answer = await status(leaf.serial_number + 1)
            unknown = ocsp.load_der_ocsp_response(base64.b64decode(answer.ocsp_result))
            assert unknown.certificate_status == ocsp.OCSPCertStatus.UNKNOWN
            foreign = await status(leaf.serial_number, issuer_key_hash="00" * 32)
            assert foreign.status == "Failed"
            assert foreign.status_info["reason_code"] == "UnknownIssuer"

            ev = await cp.call(
                call201.Get15118EVCertificate(
                    iso15118_schema_version="urn:iso:15118:2:2013:MsgDef",
                    action="Install",
                    exi_request="AAAA",
                )
            )
            assert ev.status == "Failed"


# ------------------------------------------------- renewal and reconnection over real TLS


def _tls_settings(directory: Path, ca: CertificateAuthority) -> dict[str, Any]:
    """S1's gateway settings: wss:// beside ws://, client certificates checked against ``ca``."""
    cert_pem, key_pem = issue_server_certificate(ca, ["localhost", "127.0.0.1"], valid_days=5)
    (directory / "server.crt").write_bytes(cert_pem + ca.cert_pem)
    (directory / "server.key").write_bytes(key_pem)
    (directory / "ca.crt").write_bytes(ca.cert_pem)
    return {
        "ocpp_tls_cert_file": str(directory / "server.crt"),
        "ocpp_tls_key_file": str(directory / "server.key"),
        "ocpp_tls_ca_file": str(directory / "ca.crt"),
        "ocpp_tls_port": 0,
    }


def _client_tls(directory: Path, ca: CertificateAuthority, name: str, chain: str, key: Any) -> Any:
    """A station's TLS context: trusts Borne's CA, presents ``chain`` with ``key``."""
    cert_file, key_file = directory / f"{name}.crt", directory / f"{name}.key"
    cert_file.write_text(chain)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(cafile=str(directory / "ca.crt"))
    context.load_cert_chain(str(cert_file), str(key_file))
    return context


@contextlib.asynccontextmanager
async def tls_station(
    borne: BorneServer, version: str, station_id: str, context: ssl.SSLContext
) -> AsyncIterator[CertStation16 | CertStation201]:
    assert borne.ocpp_wss_url is not None
    ws = await connect(
        f"{borne.ocpp_wss_url}/{station_id}",
        ssl=context,
        server_hostname="localhost",
        subprotocols=[Subprotocol("ocpp1.6" if version == "1.6" else "ocpp2.0.1")],
        open_timeout=TIMEOUT,
        close_timeout=2,
    )
    cp: CertStation16 | CertStation201 = (
        CertStation16(station_id, ws) if version == "1.6" else CertStation201(station_id, ws)
    )
    task = asyncio.get_running_loop().create_task(cp.start())
    try:
        assert (await cp.boot()).status == "Accepted"
        yield cp
    finally:
        task.cancel()
        await ws.close()
        await asyncio.gather(task, return_exceptions=True)


@VERSIONS
async def test_station_renews_its_certificate_and_reconnects_with_it_over_tls(
    db_url: str, tmp_path: Path, version: str
) -> None:
    """Profile 3 over real TLS: the station's first certificate nears expiry, Borne asks for a
    new CSR, signs it, and the station reconnects presenting the new certificate."""
    ca = create_ca("Borne TLS CA", valid_days=30)
    config = CertificatesConfig(
        station_certificate_days=20,
        renew_before_days=3,
        renewal_check_interval_s=0.1,
        delivery_delay_s=0.05,
    )
    settings = _tls_settings(tmp_path, ca)
    async with borne_with_certificates(db_url, ca, config, **settings) as (borne, _):
        sid = unique_id("TLS")
        async with borne.api() as api:
            await create_station(api, sid, profile=3, password=PASSWORD)
        # The station's first certificate (factory-installed), 1 day left: due for renewal.
        first_key = ec.generate_private_key(ec.SECP256R1())
        first = sign_csr(ca, check_csr(make_csr_for(sid, first_key), station_id=sid), valid_days=1)
        async with borne.runtime.deps.db.unit_of_work() as uow:
            await record_issued_accepted(uow, sid, first)
            await uow.commit()
        first_tls = _client_tls(tmp_path, ca, "first", chain_pem(first, ca), first_key)
        new_key = ec.generate_private_key(ec.SECP256R1())
        async with tls_station(borne, version, sid, first_tls) as cp:
            action = "ExtendedTriggerMessage" if version == "1.6" else "TriggerMessage"
            await cp.received(action)
            assert await sign_certificate(cp, make_csr_for(sid, new_key)) == "Accepted"
            signed = await cp.received("CertificateSigned")
        chain = signed["certificate_chain"]
        leaf = x509.load_pem_x509_certificates(chain.encode())[0]
        assert leaf.serial_number != first.serial_number
        assert leaf.not_valid_after_utc > first.not_valid_after_utc
        renewed_tls = _client_tls(tmp_path, ca, "renewed", chain, new_key)
        async with tls_station(borne, version, sid, renewed_tls) as cp:
            peer = cp._connection.transport.get_extra_info("ssl_object")
            assert peer.version() in {"TLSv1.2", "TLSv1.3"}
        # A certificate of another station is still refused: the CN binds it to its station.
        other = unique_id("TLS")
        async with borne.api() as api:
            await create_station(api, other, profile=3, password=PASSWORD)
        with pytest.raises(InvalidStatus):
            async with tls_station(borne, version, other, renewed_tls):
                pass


def make_csr_for(station_id: str, key: ec.EllipticCurvePrivateKey) -> str:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, station_id)]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


async def record_issued_accepted(uow: Any, station_id: str, cert: x509.Certificate) -> None:
    """Borne's record of a certificate it issued and the station accepted (as after a
    SignCertificate round trip), to start from a certificate near its expiry."""
    from borne.certificates import service

    cid = await service.record_issued(
        uow,
        service.NewCertificate(
            station_id=station_id,
            certificate_type=service.STATION_CERTIFICATE,
            serial_number=format(cert.serial_number, "x"),
            subject=cert.subject.rfc4514_string(),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        ),
        now=cert.not_valid_before_utc,
    )
    await service.record_delivery(
        uow, certificate_id=cid, status="Accepted", now=cert.not_valid_before_utc
    )
