"""Security profiles 2 and 3 over real TLS (R26): the ``ocpp`` package's ChargePoint on a
``websockets`` client with an ``ssl.SSLContext`` that trusts Borne's CA, against the real server
(``ocpp_tls_*`` settings; ``ocpp_tls_port`` keeps ws:// beside wss://).

Profile 2 is TLS + Basic password; profile 3 is TLS + a client certificate from Borne's CA whose
CN is the station id, without password. Refused: a certificate of another station (403 at the
upgrade), an expired or untrusted one (the TLS handshake ends), a profile-2 station over ws://
and a profile-3 station without certificate (403: no downgrade), a TLS 1.1 client.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from helpers import (
    PASSWORD,
    BorneServer,
    Station16,
    Station201,
    basic_auth,
    create_station,
    get_json,
    start_server,
    stop_server,
    unique_id,
)
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from borne.pki import (
    CertificateAuthority,
    chain_pem,
    check_csr,
    create_ca,
    issue_client_certificate,
    issue_server_certificate,
    sign_csr,
)

TIMEOUT = 10
# What a client sees when the server ends the TLS handshake (alert, reset or EOF, depending on
# the TLS version and on when the client notices).
HANDSHAKE_FAILED = (ssl.SSLError, ConnectionError, EOFError, InvalidHandshake, TimeoutError)


@dataclass
class Pki:
    dir: Path
    ca: CertificateAuthority

    @property
    def ca_file(self) -> Path:
        return self.dir / "ca.crt"

    def station_files(self, name: str, cert_pem: bytes, key_pem: bytes) -> tuple[Path, Path]:
        cert, key = self.dir / f"{name}.crt", self.dir / f"{name}.key"
        cert.write_bytes(cert_pem)
        key.write_bytes(key_pem)
        return cert, key

    def client_cert(self, cn: str, *, ca: CertificateAuthority | None = None, **kw: Any) -> Any:
        issuer = ca or self.ca
        return self.station_files(
            f"client-{len(list(self.dir.iterdir()))}", *issue_client_certificate(issuer, cn, **kw)
        )


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca = create_ca("Borne E2E CA", valid_days=30)
    ca.save(tmp_path / "pki")
    cert_pem, key_pem = issue_server_certificate(ca, ["localhost", "127.0.0.1"], valid_days=30)
    (tmp_path / "pki" / "server.crt").write_bytes(cert_pem + ca.cert_pem)
    (tmp_path / "pki" / "server.key").write_bytes(key_pem)
    return Pki(tmp_path / "pki", ca)


def tls_settings(pki: Pki) -> dict[str, Any]:
    return {
        "ocpp_tls_cert_file": str(pki.dir / "server.crt"),
        "ocpp_tls_key_file": str(pki.dir / "server.key"),
        "ocpp_tls_ca_file": str(pki.ca_file),
    }


@pytest.fixture
async def server(db_url: str, pki: Pki) -> AsyncIterator[BorneServer]:
    """ws:// on the OCPP port and wss:// beside it."""
    borne = await start_server(db_url, ocpp_tls_port=0, **tls_settings(pki))
    try:
        assert borne.runtime.gateway.tls and borne.ocpp_wss_url, "TLS settings not wired"
        yield borne
    finally:
        await stop_server(borne)


def client_context(
    pki: Pki, cert: tuple[Path, Path] | None = None, *, max_version: ssl.TLSVersion | None = None
) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca_file))
    if cert is not None:
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    if max_version is not None:
        context.maximum_version = max_version
    return context


async def open_wss(
    server: BorneServer,
    station_id: str,
    context: ssl.SSLContext,
    *,
    password: str | None = None,
    subprotocol: str = "ocpp2.0.1",
) -> ClientConnection:
    assert server.ocpp_wss_url is not None
    return await connect(
        f"{server.ocpp_wss_url}/{station_id}",
        ssl=context,
        server_hostname="localhost",
        subprotocols=[Subprotocol(subprotocol)],
        additional_headers=basic_auth(station_id, password) if password else None,
        open_timeout=TIMEOUT,
        close_timeout=2,
    )


@contextlib.asynccontextmanager
async def charge_point(
    server: BorneServer,
    station_id: str,
    context: ssl.SSLContext,
    *,
    password: str | None = None,
    version: str = "ocpp2.0.1",
) -> AsyncIterator[Any]:
    ws = await open_wss(server, station_id, context, password=password, subprotocol=version)
    cp = (Station201 if version == "ocpp2.0.1" else Station16)(station_id, ws)
    task = asyncio.get_running_loop().create_task(cp.start())
    try:
        yield cp
    finally:
        task.cancel()
        await ws.close()
        await asyncio.gather(task, return_exceptions=True)


async def boot(cp: Any) -> str:
    if isinstance(cp, Station201):
        return str((await cp.boot()).status)
    from ocpp.v16 import call as call16

    result = await cp.call(
        call16.BootNotification(charge_point_vendor="E2E", charge_point_model="TLS")
    )
    return str(result.status)


async def new_station(server: BorneServer, profile: int, *, password: bool = True) -> str:
    station_id = unique_id(f"SP{profile}")
    async with server.api() as api:
        await create_station(
            api, station_id, profile=profile, password=PASSWORD if password else None
        )
    return station_id


async def refused_status(coro: Any) -> int:
    with pytest.raises(InvalidStatus) as refused:
        ws = await coro
        await ws.close()
    return int(refused.value.response.status_code)


async def connected(server: BorneServer, station_id: str) -> bool:
    async with server.api() as api:
        detail = await get_json(api, f"/stations/{station_id}")
    return bool(detail.get("connected"))


# ------------------------------------------------------------------------------ accepted


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
async def test_profile_2_station_connects_over_tls_with_its_password(
    server: BorneServer, pki: Pki, version: str
) -> None:
    station_id = await new_station(server, 2)
    async with charge_point(
        server, station_id, client_context(pki), password=PASSWORD, version=version
    ) as cp:
        assert await boot(cp) == "Accepted"
        ws = cp._connection
        assert ws.transport.get_extra_info("ssl_object").version() in {"TLSv1.2", "TLSv1.3"}


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
async def test_profile_3_station_connects_with_its_certificate_and_no_password(
    server: BorneServer, pki: Pki, version: str
) -> None:
    station_id = await new_station(server, 3, password=False)  # the certificate is enough
    cert = pki.client_cert(station_id)
    async with charge_point(server, station_id, client_context(pki, cert), version=version) as cp:
        assert await boot(cp) == "Accepted"


async def test_certificate_signed_from_the_stations_csr_authenticates_it(
    server: BorneServer, pki: Pki
) -> None:
    """The SignCertificate path: the station keeps its key, Borne's CA signs its CSR, the
    chain returned (leaf + CA) is what the station presents."""
    station_id = await new_station(server, 3)
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, station_id)]))
        .sign(key, hashes.SHA256())
    )
    pem = csr.public_bytes(serialization.Encoding.PEM).decode()
    certificate = sign_csr(pki.ca, check_csr(pem, station_id=station_id), valid_days=5)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cert = pki.station_files("csr-signed", chain_pem(certificate, pki.ca).encode(), key_pem)
    async with charge_point(server, station_id, client_context(pki, cert)) as cp:
        assert await boot(cp) == "Accepted"


async def test_profile_1_station_may_move_up_to_tls(server: BorneServer, pki: Pki) -> None:
    station_id = await new_station(server, 1)
    async with charge_point(server, station_id, client_context(pki), password=PASSWORD) as cp:
        assert await boot(cp) == "Accepted"


# ------------------------------------------------------------------------------- refused


async def test_certificate_of_another_station_is_refused(server: BorneServer, pki: Pki) -> None:
    station_id = await new_station(server, 3)
    other = pki.client_cert(unique_id("OTHER"))
    status = await refused_status(open_wss(server, station_id, client_context(pki, other)))
    assert status == 403
    # not even with the right password beside it
    status = await refused_status(
        open_wss(server, station_id, client_context(pki, other), password=PASSWORD)
    )
    assert status == 403
    assert not await connected(server, station_id)
    async with server.api() as api:
        events = (await get_json(api, f"/stations/{station_id}/security-events"))["items"]
    assert [e["type"] for e in events] == ["InvalidCsmsLogin", "InvalidCsmsLogin"]  # R25
    assert all("CN is not the station id" in e["tech_info"] for e in events)


async def test_expired_certificate_ends_the_handshake(server: BorneServer, pki: Pki) -> None:
    station_id = await new_station(server, 3)
    expired = pki.client_cert(
        station_id, valid_days=1, not_valid_before=datetime.now(UTC) - timedelta(days=3)
    )
    with pytest.raises(HANDSHAKE_FAILED):
        ws = await open_wss(server, station_id, client_context(pki, expired))
        await ws.recv()  # TLS 1.3: the server's alert arrives after the client's Finished
    assert not await connected(server, station_id)


async def test_certificate_from_another_ca_ends_the_handshake(
    server: BorneServer, pki: Pki
) -> None:
    station_id = await new_station(server, 3)
    untrusted = pki.client_cert(station_id, ca=create_ca("Someone else's CA"))
    with pytest.raises(HANDSHAKE_FAILED):
        ws = await open_wss(server, station_id, client_context(pki, untrusted))
        await ws.recv()
    assert not await connected(server, station_id)


@pytest.mark.parametrize("profile", [2, 3])
async def test_secured_station_over_plain_ws_is_refused(server: BorneServer, profile: int) -> None:
    station_id = await new_station(server, profile)
    status = await refused_status(
        connect(
            f"{server.ocpp_url}/{station_id}",
            subprotocols=[Subprotocol("ocpp2.0.1")],
            additional_headers=basic_auth(station_id, PASSWORD),
            open_timeout=TIMEOUT,
        )
    )
    assert server.ocpp_url.startswith("ws://")
    assert status == 403


async def test_profile_3_station_without_certificate_is_refused(
    server: BorneServer, pki: Pki
) -> None:
    station_id = await new_station(server, 3)
    status = await refused_status(
        open_wss(server, station_id, client_context(pki), password=PASSWORD)
    )
    assert status == 403


async def test_profile_2_station_needs_its_password_over_tls(server: BorneServer, pki: Pki) -> None:
    station_id = await new_station(server, 2)
    assert await refused_status(open_wss(server, station_id, client_context(pki))) == 401
    wrong = open_wss(server, station_id, client_context(pki), password="wrong-password-0000")
    assert await refused_status(wrong) == 401


async def test_tls_1_1_client_is_refused(server: BorneServer, pki: Pki) -> None:
    station_id = await new_station(server, 2)
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.load_verify_locations(cafile=str(pki.ca_file))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # that is the point
            old.minimum_version = ssl.TLSVersion.TLSv1
            old.maximum_version = ssl.TLSVersion.TLSv1_1
        old.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 disables TLS 1.1 at level 1 and up
    except (ValueError, ssl.SSLError) as exc:
        pytest.skip(f"this OpenSSL cannot make a TLS 1.1 client: {exc}")
    with pytest.raises(HANDSHAKE_FAILED) as failed:
        await open_wss(server, station_id, old, password=PASSWORD)
    # the server ended it (reset or protocol_version alert): the client did offer TLS 1.1
    assert "no protocols available" not in str(failed.value)
    # the same client allowed TLS 1.2 connects: only the version was refused
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    ws = await open_wss(server, station_id, old, password=PASSWORD)
    await ws.close()


async def test_tls_only_gateway_serves_no_plain_ws(db_url: str, pki: Pki) -> None:
    borne = await start_server(db_url, **tls_settings(pki))
    try:
        assert borne.ocpp_url.startswith("wss://") and borne.ocpp_wss_url == borne.ocpp_url
        station_id = await new_station(borne, 2)
        plain = "ws" + borne.ocpp_url.removeprefix("wss")
        with pytest.raises((InvalidHandshake, ConnectionError, EOFError, TimeoutError)):
            ws = await connect(
                f"{plain}/{station_id}",
                subprotocols=[Subprotocol("ocpp1.6")],
                additional_headers=basic_auth(station_id, PASSWORD),
                open_timeout=3,
            )
            await ws.close()
        async with charge_point(
            borne, station_id, client_context(pki), password=PASSWORD, version="ocpp1.6"
        ) as cp:
            assert await boot(cp) == "Accepted"
    finally:
        await stop_server(borne)
