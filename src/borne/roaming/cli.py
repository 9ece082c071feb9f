"""``borne partner``: create OCPI partners (token A), list them, register Borne with one.

Heavy imports happen inside the commands, so ``borne --help`` stays fast. A token is printed
on stdout only where it is the answer (``create``); everything else goes to stderr.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console

if TYPE_CHECKING:
    from borne.roaming.config import RoamingContext

T = TypeVar("T")

partner_app = typer.Typer(help="OCPI roaming partners.", no_args_is_help=True)
console = Console(stderr=True)


def _run(work: Callable[[RoamingContext], Awaitable[T]]) -> T:
    """Run ``work`` with a roaming context built from the settings, then release it."""
    from pydantic import ValidationError

    from borne.core.bus import InProcessBus
    from borne.core.clock import SystemClock
    from borne.core.db import create_engine, create_session_factory
    from borne.core.supervisor import Supervisor
    from borne.core.uow import Database
    from borne.ocpi.client import OcpiClient
    from borne.roaming.config import RoamingConfig, RoamingContext
    from borne.roaming.events import PartnerRegistered
    from borne.roaming.journal import PushJournal
    from borne.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        console.print(f"[red]invalid configuration:[/red]\n{exc}")
        raise typer.Exit(2) from None

    async def main() -> T:
        engine = create_engine(settings.database_url, echo=settings.database_echo)
        bus = InProcessBus(Supervisor())
        db = Database(engine, create_session_factory(engine), bus)
        # A registration made here is recorded for the server's push journal, which then
        # sends the new partner every tariff and location (the pushers live in the server).
        PushJournal(db, SystemClock()).record_only(bus, PartnerRegistered)
        client = OcpiClient(timeout_s=settings.ocpi_request_timeout_s)
        ctx = RoamingContext(
            db=db, clock=SystemClock(), config=RoamingConfig.from_settings(settings), client=client
        )
        try:
            return await work(ctx)
        finally:
            await client.aclose()
            await db.dispose()

    return asyncio.run(main())


def _fail(exc: Exception) -> typer.Exit:
    console.print(f"[red]{getattr(exc, 'message', exc)}[/red]")
    return typer.Exit(1)


@partner_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The partner's name.")],
    token_base64: Annotated[
        bool, typer.Option(help="Send Borne's token base64-encoded (OCPI 2.2+).")
    ] = True,
    accept_raw_tokens: Annotated[
        bool, typer.Option(help="Also accept the partner's token sent without base64.")
    ] = False,
) -> None:
    """Create a partner and print its token A (shown only now) and Borne's versions URL."""
    from borne.core.errors import BorneError
    from borne.roaming import partners as svc

    async def work(ctx: RoamingContext) -> dict[str, object]:
        async with ctx.db.unit_of_work() as uow:
            view, token_a = await svc.create_partner(
                uow,
                name=name,
                now=ctx.clock.now(),
                token_base64=token_base64,
                accept_raw_tokens=accept_raw_tokens,
            )
            await uow.commit()
        return {
            "id": view.id,
            "name": view.name,
            "token": token_a,
            "ocpi_versions_url": ctx.config.versions_url,
        }

    try:
        out = _run(work)
    except BorneError as exc:
        raise _fail(exc) from None
    sys.stdout.write(json.dumps(out, indent=2) + "\n")
    console.print(
        "give the token and the versions URL to the partner; the token is not shown again"
    )


@partner_app.command("list")
def list_() -> None:
    """Every partner: status, version, roles, endpoints, last success and last error."""
    from borne.roaming import partners as svc
    from borne.roaming.schemas import PartnerOut

    async def work(ctx: RoamingContext) -> list[PartnerOut]:
        async with ctx.db.unit_of_work() as uow:
            return [PartnerOut.of(v) for v in await svc.list_partners(uow)]

    rows = [p.model_dump(mode="json") for p in _run(work)]
    sys.stdout.write(json.dumps(rows, indent=2) + "\n")


@partner_app.command("register")
def register(
    partner_id: Annotated[int, typer.Argument(help="Borne's id of the partner.")],
    versions_url: Annotated[str, typer.Option(help="The partner's OCPI versions URL.")],
    token: Annotated[
        str,
        typer.Option(
            envvar="BORNE_PARTNER_TOKEN",
            prompt="Token A given by the partner",
            hide_input=True,
            help="The token A the partner gave (or env BORNE_PARTNER_TOKEN).",
        ),
    ],
) -> None:
    """Register Borne with a partner (Borne's server must be running: the partner calls back)."""
    from borne.core.errors import BorneError
    from borne.roaming import credentials as handshake
    from borne.roaming.schemas import PartnerOut

    async def work(ctx: RoamingContext) -> PartnerOut:
        view = await handshake.register_with(
            ctx, partner_id=partner_id, versions_url=versions_url, token_a=token
        )
        return PartnerOut.of(view)

    try:
        out = _run(work)
    except BorneError as exc:
        raise _fail(exc) from None
    sys.stdout.write(out.model_dump_json(indent=2) + "\n")
