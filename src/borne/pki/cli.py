"""``borne pki``: Borne's certificate authority on disk.

``borne pki init`` puts into one directory (``BORNE_PKI_DIR``, default ``./pki``): ``ca.crt`` and
``ca.key`` (the CA; an existing one, Borne's or the operator's, is kept), ``server.crt`` (the
gateway's certificate followed by the CA's) and ``server.key``. Keys are written with mode 0600
and never replaced without ``--force``; their content is never printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from borne.pki.ca import (
    CA_CERT_FILE,
    CA_KEY_FILE,
    create_ca,
    issue_client_certificate,
    issue_server_certificate,
    load_ca,
    write_private,
    write_public,
)

SERVER_CERT_FILE = "server.crt"
SERVER_KEY_FILE = "server.key"

pki_app = typer.Typer(help="Borne's certificate authority (OCPP security profiles 2 and 3).")

DirOption = Annotated[
    Path, typer.Option("--dir", envvar="BORNE_PKI_DIR", help="Where the CA and keys live.")
]


@pki_app.command("init")
def init(  # noqa: PLR0917 (typer maps each option to a parameter)
    dir: DirOption = Path("pki"),
    hostname: Annotated[
        list[str] | None,
        typer.Option(
            "--hostname",
            help="DNS name or IP address stations use to reach the OCPP endpoint (repeatable).",
        ),
    ] = None,
    common_name: Annotated[str, typer.Option(help="The CA's common name.")] = "Borne CA",
    ca_days: Annotated[int, typer.Option(min=1, help="CA validity in days.")] = 3650,
    server_days: Annotated[int, typer.Option(min=1, help="Server certificate validity.")] = 825,
    force: Annotated[
        bool, typer.Option(help="Replace an existing CA and server certificate and keys.")
    ] = False,
) -> None:
    """Create the CA (unless one is there) and the OCPP server certificate."""
    hosts = hostname or ["localhost", "127.0.0.1"]
    server_cert, server_key = dir / SERVER_CERT_FILE, dir / SERVER_KEY_FILE
    if not force and (server_cert.exists() or server_key.exists()):
        typer.echo(f"{server_cert} or {server_key} exists; use --force to replace it", err=True)
        raise typer.Exit(1)
    has_ca = (dir / CA_CERT_FILE).exists() or (dir / CA_KEY_FILE).exists()
    if has_ca and not force:
        try:
            ca = load_ca(dir)
        except (OSError, ValueError) as exc:
            typer.echo(f"cannot use the CA in {dir}: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"using the existing CA in {dir} ({ca.certificate.subject.rfc4514_string()})")
    else:
        ca = create_ca(common_name, valid_days=ca_days)
        ca.save(dir, overwrite=force)
        typer.echo(f"created CA {common_name!r} in {dir}")
    cert_pem, key_pem = issue_server_certificate(ca, hosts, valid_days=server_days)
    write_private(server_key, key_pem)
    write_public(server_cert, cert_pem + ca.cert_pem)
    typer.echo(f"server certificate for {', '.join(hosts)}: {server_cert}")
    typer.echo("serve wss:// with:")
    typer.echo(f"  BORNE_OCPP_TLS_CERT_FILE={server_cert}")
    typer.echo(f"  BORNE_OCPP_TLS_KEY_FILE={server_key}")
    typer.echo(f"  BORNE_OCPP_TLS_CA_FILE={dir / CA_CERT_FILE}")
    typer.echo(f"stations trust {dir / CA_CERT_FILE}")


@pki_app.command("client-cert")
def client_cert(  # noqa: PLR0917 (typer maps each option to a parameter)
    station_id: Annotated[str, typer.Argument(help="The station id (the certificate CN).")],
    out: Annotated[Path, typer.Option(help="Directory for <station_id>.crt and .key.")] = Path("."),
    dir: DirOption = Path("pki"),
    days: Annotated[int, typer.Option(min=1, help="Validity in days.")] = 365,
    organization: Annotated[str | None, typer.Option(help="Subject O (the CSO).")] = None,
    force: Annotated[bool, typer.Option(help="Replace existing files.")] = False,
) -> None:
    """Issue a station (TLS client) certificate for tests and tools (profile 3)."""
    cert_path, key_path = out / f"{station_id}.crt", out / f"{station_id}.key"
    if not force and (cert_path.exists() or key_path.exists()):
        typer.echo(f"{cert_path} or {key_path} exists; use --force to replace it", err=True)
        raise typer.Exit(1)
    try:
        ca = load_ca(dir)
    except (OSError, ValueError) as exc:
        typer.echo(f"cannot use the CA in {dir}: {exc}", err=True)
        raise typer.Exit(1) from None
    cert_pem, key_pem = issue_client_certificate(
        ca, station_id, valid_days=days, organization=organization
    )
    out.mkdir(parents=True, exist_ok=True)
    write_private(key_path, key_pem)
    write_public(cert_path, cert_pem + ca.cert_pem)
    typer.echo(f"station certificate for {station_id}: {cert_path} (key {key_path})")
