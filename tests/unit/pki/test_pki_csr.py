"""CSR checks (SignCertificate): only a well-formed, self-signed request of an allowed key whose
CN is the station id and that does not ask to be a CA is signed; the chain is leaf then CA."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from borne.pki import (
    CertificateAuthority,
    CsrRejected,
    chain_pem,
    check_csr,
    create_ca,
    sign_csr,
    verify_client_certificate,
)

STATION = "CP-42"
# An RSA-2048 CSR for CP-42 signed with SHA-1 (made with ``openssl req -sha1``; ``cryptography``
# no longer signs with SHA-1).
SHA1_CSR = """\
-----BEGIN CERTIFICATE REQUEST-----
MIICVTCCAT0CAQAwEDEOMAwGA1UEAwwFQ1AtNDIwggEiMA0GCSqGSIb3DQEBAQUA
A4IBDwAwggEKAoIBAQClhNEpy/IOYItC833pYfB0erwXUsZqSo5IhzowG3RelQk/
EImIdAXr81dxsBTe40tatGHKrzz/t5QCkFapgy7Lv+gpynQqDWlg2+Bqs0ddHUqm
gqMBtqHRpym1g2VuvomD5oVxWC6oes26uTL50xRPJBZ7nXFusX5zWzQFZZKjPbPS
JPUfVW0w5YVJxE48EhoZeMPI6utXob7bmf+9UZCuFaMfEEL/BvZDAJZ30wS8laTe
ehUpmt5Mxgy33Wkv+AabVSci/bcnQTS5t7NDRBeV2Ur/1ApA1qbooHqvEqUP/Vk2
r2M7XS9pgckrDDzjCzX6pEAnSE9yIvm0So13jQmzAgMBAAGgADANBgkqhkiG9w0B
AQUFAAOCAQEAXYpk9ku1MIN4C4bWLyiMfOywJSXt2jDzXlW1Kp2Hl0QBdk8aSjTo
rUYQJUX+UBmlgoNC3FpkLPsPmX8njzJ2MENNmNEQTGsTQT0S/JwGh+gmPRVDjIux
qiC1mWyjgMhw4p+Em2vwZbqCUGDanmcc9TF/E7E+hQC8bsGtAUEq46cMZ8sPGi88
oSVpj0xB4XbZvy9Wd10o9AkpmYJsoJY08WRr6pfvY+3q9d61RmSuxCkkkiX9ebWa
03U3oSl3b/kpK70K1gdxF3aoQjihTOktAaxUZqPchu4gZ0OhcG6gByXLTipRFgU2
fS96IwSvst+lTc71lsDJfggBvl9Bg359vA==
-----END CERTIFICATE REQUEST-----
"""


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return create_ca("Test CA")


def make_csr(
    cn: str | None = STATION,
    *,
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None = None,
    ca_flag: bool = False,
    organization: str | None = None,
    hash_algorithm: hashes.HashAlgorithm | None = None,
) -> str:
    private = key if key is not None else ec.generate_private_key(ec.SECP256R1())
    attributes = [] if cn is None else [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attributes))
    if ca_flag:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    csr = builder.sign(private, hash_algorithm or hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def rejected(pem: str, station_id: str = STATION) -> str:
    with pytest.raises(CsrRejected) as info:
        check_csr(pem, station_id=station_id)
    return info.value.reason


def test_valid_csr_is_signed_as_a_client_certificate_of_the_station(
    ca: CertificateAuthority,
) -> None:
    csr = check_csr(make_csr(organization="Borne CPO"), station_id=STATION)
    certificate = sign_csr(ca, csr, valid_days=30)
    subject = certificate.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == STATION
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Borne CPO"
    assert certificate.issuer == ca.certificate.subject
    assert certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == csr.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca is False
    usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert timedelta(days=30) <= lifetime <= timedelta(days=30, minutes=10)
    assert verify_client_certificate(certificate, [ca.certificate], station_id=STATION) == STATION


def test_rsa_2048_csr_is_accepted(ca: CertificateAuthority) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr = check_csr(make_csr(key=key), station_id=STATION)
    assert isinstance(sign_csr(ca, csr).public_key(), rsa.RSAPublicKey)


def test_chain_is_the_leaf_then_the_ca(ca: CertificateAuthority) -> None:
    certificate = sign_csr(ca, check_csr(make_csr(), station_id=STATION))
    pems = x509.load_pem_x509_certificates(chain_pem(certificate, ca).encode())
    assert pems == [certificate, ca.certificate]


@pytest.mark.parametrize("cn", ["CP-43", "cp-42", "CP-42 ", None])
def test_wrong_cn_is_rejected(cn: str | None) -> None:
    assert "CN" in rejected(make_csr(cn))


def test_two_cns_are_rejected() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, STATION),
            x509.NameAttribute(NameOID.COMMON_NAME, "CP-other"),
        ]
    )
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    assert "CN" in rejected(csr.public_bytes(serialization.Encoding.PEM).decode())


def test_bad_signature_is_rejected() -> None:
    der = bytearray(
        x509.load_pem_x509_csr(make_csr().encode()).public_bytes(serialization.Encoding.DER)
    )
    der[-3] ^= 0x55  # inside the signature value
    tampered = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM)
    assert "signature" in rejected(tampered.decode())


def test_csr_with_a_swapped_subject_does_not_verify() -> None:
    """Changing the signed content (the CN) breaks the self-signature."""
    pem = make_csr("CP-4X")
    der = bytearray(x509.load_pem_x509_csr(pem.encode()).public_bytes(serialization.Encoding.DER))
    index = der.find(b"CP-4X")
    der[index : index + 5] = b"CP-42"
    tampered = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM)
    assert "signature" in rejected(tampered.decode())


def test_ca_true_is_rejected() -> None:
    assert "CA" in rejected(make_csr(ca_flag=True))


def test_weak_rsa_key_is_rejected() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    assert "2048" in rejected(make_csr(key=key))


def test_disallowed_curve_is_rejected() -> None:
    assert "P-256" in rejected(make_csr(key=ec.generate_private_key(ec.SECP256K1())))


def test_sha1_signature_is_rejected() -> None:
    assert "hash" in rejected(SHA1_CSR)


@pytest.mark.parametrize(
    "pem",
    [
        "",
        "hello",
        "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----",
        "é" * 20,
        "A" * 20_000,
    ],
)
def test_garbage_is_rejected_without_echoing_it(pem: str) -> None:
    reason = rejected(pem)
    assert pem[:10] not in reason or not pem


def test_signed_certificate_never_outlives_the_ca() -> None:
    short = create_ca("Short CA", valid_days=10)
    certificate = sign_csr(short, check_csr(make_csr(), station_id=STATION), valid_days=365)
    assert certificate.not_valid_after_utc <= short.certificate.not_valid_after_utc
    assert certificate.not_valid_after_utc < datetime.now(UTC) + timedelta(days=11)
