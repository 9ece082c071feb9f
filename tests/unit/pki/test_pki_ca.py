"""The CA on disk, server and station certificates, chain validation and ``borne pki``."""

from __future__ import annotations

import ipaddress
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from typer.testing import CliRunner

from borne.pki import (
    CertificateInvalid,
    create_ca,
    issue_client_certificate,
    issue_server_certificate,
    load_ca,
    verify_client_certificate,
)
from borne.pki.cli import pki_app


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_ca_is_a_p256_root_saved_with_a_private_key_file(tmp_path: Path) -> None:
    ca = create_ca("Borne Test CA", valid_days=100)
    assert isinstance(ca.key, ec.EllipticCurvePrivateKey) and ca.key.curve.name == "secp256r1"
    constraints = ca.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca is True
    ca.save(tmp_path / "pki")
    assert mode(tmp_path / "pki" / "ca.key") == 0o600
    assert mode(tmp_path / "pki") == 0o700
    loaded = load_ca(tmp_path / "pki")
    assert loaded.certificate == ca.certificate
    assert loaded.key_pem() == ca.key_pem()
    assert "PRIVATE" not in repr(loaded) and "Borne Test CA" in repr(loaded)


def test_saving_never_overwrites_without_asking(tmp_path: Path) -> None:
    first = create_ca("First")
    first.save(tmp_path)
    with pytest.raises(FileExistsError):
        create_ca("Second").save(tmp_path)
    assert load_ca(tmp_path).certificate == first.certificate
    second = create_ca("Second")
    (tmp_path / "ca.key").chmod(0o644)
    second.save(tmp_path, overwrite=True)
    assert load_ca(tmp_path).certificate == second.certificate
    assert mode(tmp_path / "ca.key") == 0o600  # an existing file does not keep a looser mode


def test_load_refuses_a_key_of_another_certificate(tmp_path: Path) -> None:
    create_ca("One").save(tmp_path)
    other = create_ca("Two")
    (tmp_path / "ca.key").write_bytes(other.key_pem())
    with pytest.raises(ValueError, match="does not belong"):
        load_ca(tmp_path)


def test_server_certificate_names_hosts_and_ips() -> None:
    ca = create_ca("CA")
    cert_pem, key_pem = issue_server_certificate(ca, ["csms.example.com", "127.0.0.1"])
    certificate = x509.load_pem_x509_certificate(cert_pem)
    san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["csms.example.com"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.SERVER_AUTH]
    certificate.verify_directly_issued_by(ca.certificate)
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert key.public_key() == certificate.public_key()
    with pytest.raises(ValueError):
        issue_server_certificate(ca, [])


def test_client_certificate_chain_checks() -> None:
    ca, other = create_ca("CA"), create_ca("Other CA")
    good = x509.load_pem_x509_certificate(issue_client_certificate(ca, "CP-1")[0])
    assert good.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CP-1"
    assert verify_client_certificate(good, [ca.certificate], station_id="CP-1") == "CP-1"
    assert verify_client_certificate(good, [other.certificate, ca.certificate]) == "CP-1"
    expired = x509.load_pem_x509_certificate(
        issue_client_certificate(
            ca, "CP-1", valid_days=1, not_valid_before=datetime.now(UTC) - timedelta(days=3)
        )[0]
    )
    cases = {
        "not issued by a trusted CA": (good, [other.certificate], "CP-1"),
        "CN is not the station id": (good, [ca.certificate], "CP-2"),
        "expired": (expired, [ca.certificate], "CP-1"),
    }
    for reason, (certificate, trusted, station) in cases.items():
        with pytest.raises(CertificateInvalid, match=reason):
            verify_client_certificate(certificate, trusted, station_id=station)
    with pytest.raises(CertificateInvalid, match="a CA certificate"):
        verify_client_certificate(ca.certificate, [ca.certificate])


def test_pki_init_creates_the_ca_and_server_certificate_once(tmp_path: Path) -> None:
    app = typer.Typer()
    app.add_typer(pki_app, name="pki")
    runner = CliRunner()
    pki = tmp_path / "pki"
    args = ["pki", "init", "--dir", str(pki), "--hostname", "csms.local"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "PRIVATE KEY" not in result.output
    assert f"BORNE_OCPP_TLS_CERT_FILE={pki / 'server.crt'}" in result.output
    assert mode(pki / "ca.key") == mode(pki / "server.key") == 0o600
    ca = load_ca(pki)
    chain = x509.load_pem_x509_certificates((pki / "server.crt").read_bytes())
    assert chain[1] == ca.certificate
    chain[0].verify_directly_issued_by(ca.certificate)
    key_before = (pki / "server.key").read_bytes()

    again = runner.invoke(app, args)
    assert again.exit_code == 1
    assert (pki / "server.key").read_bytes() == key_before

    (pki / "server.crt").unlink()
    (pki / "server.key").unlink()
    reuse = runner.invoke(app, args)  # a new server certificate from the same CA
    assert reuse.exit_code == 0 and "existing CA" in reuse.output
    assert load_ca(pki).certificate == ca.certificate

    forced = runner.invoke(app, [*args, "--force"])
    assert forced.exit_code == 0
    assert load_ca(pki).certificate != ca.certificate

    station = runner.invoke(
        app, ["pki", "client-cert", "CP-9", "--dir", str(pki), "--out", str(tmp_path / "st")]
    )
    assert station.exit_code == 0, station.output
    assert mode(tmp_path / "st" / "CP-9.key") == 0o600
    leaf = x509.load_pem_x509_certificates((tmp_path / "st" / "CP-9.crt").read_bytes())[0]
    assert verify_client_certificate(leaf, [load_ca(pki).certificate], station_id="CP-9")
