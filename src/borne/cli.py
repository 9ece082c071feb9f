"""The ``borne`` command: run the server, migrate, seed the demo, simulate stations."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated

import typer
from rich.console import Console

from borne import __version__
from borne.pki.cli import pki_app
from borne.roaming.cli import partner_app

app = typer.Typer(
    help="Borne: an open-source EV-charging platform (OCPP CSMS, OCPI roaming).",
    no_args_is_help=True,
    add_completion=False,
)
demo_app = typer.Typer(help="The demo network.", no_args_is_help=True)
app.add_typer(demo_app, name="demo")
app.add_typer(partner_app, name="partner")
app.add_typer(pki_app, name="pki")
console = Console(stderr=True)


def _settings() -> object:
    from pydantic import ValidationError

    from borne.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        console.print(f"[red]invalid configuration:[/red]\n{exc}")
        raise typer.Exit(2) from None


def _run_async(coro: object) -> None:
    try:
        import uvloop

        uvloop.run(coro)  # type: ignore[arg-type]
    except ImportError:  # pragma: no cover - uvloop is not on every platform
        asyncio.run(coro)  # type: ignore[arg-type]


@app.command()
def run(
    migrate: Annotated[bool, typer.Option(help="Apply database migrations first.")] = True,
) -> None:
    """Start Borne: the OCPP gateway and the operator API."""
    from borne.bootstrap import serve
    from borne.logging_setup import configure_logging
    from borne.migrate import upgrade
    from borne.settings import Settings

    settings = _settings()
    assert isinstance(settings, Settings)
    configure_logging(settings.log_level, json=settings.log_json)
    if migrate:
        upgrade(settings.database_url)
    try:
        _run_async(serve(settings))
    except KeyboardInterrupt:
        console.print("stopped")


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (BORNE_DATABASE_URL)."""
    from borne.migrate import upgrade
    from borne.settings import Settings

    settings = _settings()
    assert isinstance(settings, Settings)
    upgrade(settings.database_url)
    console.print(f"database at {_safe_url(settings.database_url)} is up to date")


@demo_app.command("seed")
def demo_seed() -> None:
    """Create the demo stations and id tokens (idempotent)."""
    from borne.bootstrap import build_plain_database
    from borne.core.clock import SystemClock
    from borne.demo import SECURE_PASSWORD, SECURE_STATION, seed_demo
    from borne.settings import Settings

    settings = _settings()
    assert isinstance(settings, Settings)

    async def main() -> None:
        db = build_plain_database(settings)
        try:
            report = await seed_demo(db, SystemClock())
        finally:
            await db.dispose()
        for name in report.created:
            console.print(f"created {name}")
        if not report.created:
            console.print("demo network already present")

    asyncio.run(main())
    console.print(
        "connect simulated stations with: borne simulate --stations 2 --ocpp 1.6 (or --ocpp 2.0.1)"
    )
    console.print(
        f"secured demo station {SECURE_STATION} uses HTTP Basic password {SECURE_PASSWORD!r}"
    )


@app.command()
def simulate(  # noqa: PLR0917 (typer maps each option to a parameter)
    stations: Annotated[int, typer.Option(min=1, help="How many stations.")] = 1,
    ocpp: Annotated[str, typer.Option(help="OCPP version: 1.6 or 2.0.1.")] = "1.6",
    url: Annotated[str, typer.Option(help="Borne's OCPP URL, without the station id.")] = (
        "ws://127.0.0.1:9000/ocpp"
    ),
    id_prefix: Annotated[
        str | None, typer.Option(help="Station id prefix (default SIM16- / SIM201-).")
    ] = None,
    password: Annotated[str | None, typer.Option(help="HTTP Basic password.")] = None,
    id_tag: Annotated[
        str | None,
        typer.Option(
            help="Driver id tag; {index} = station number (default T16-/T201-{index:04d})."
        ),
    ] = None,
    sessions: Annotated[int, typer.Option(help="Sessions per station; 0 = continuous.")] = 1,
    session_duration: Annotated[float, typer.Option(help="Seconds per session.")] = 30.0,
    meter_interval: Annotated[float, typer.Option(help="Seconds between meter values.")] = 5.0,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
) -> None:
    """Run simulated charging stations against Borne (or any CSMS)."""
    from borne.simulator import SimulationConfig
    from borne.simulator import simulate as run_sim

    if ocpp not in ("1.6", "2.0.1"):
        console.print("[red]--ocpp must be 1.6 or 2.0.1[/red]")
        raise typer.Exit(2)
    prefix = id_prefix or ("SIM16-" if ocpp == "1.6" else "SIM201-")
    tag = id_tag or ("T16-{index:04d}" if ocpp == "1.6" else "T201-{index:04d}")
    try:
        cfg = SimulationConfig(
            url=url,
            stations=stations,
            ocpp_version=ocpp,  # type: ignore[arg-type]
            id_prefix=prefix,
            password=password,
            id_tag=tag,
            sessions=None if sessions == 0 else sessions,
            session_duration=session_duration,
            meter_interval=meter_interval,
            duration=duration,
        )
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    report = run_sim(cfg)
    sys.stdout.write(json.dumps(report.summary(), indent=2) + "\n")


@app.command()
def version() -> None:
    """Print Borne's version."""
    sys.stdout.write(f"borne {__version__}\n")


def _safe_url(url: str) -> str:
    """The database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main() -> None:
    app()
