"""Schema migrations with Alembic, configured in code so an installed Borne can migrate itself."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", database_url)
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database to ``revision``. Safe to run on every start."""
    command.upgrade(alembic_config(database_url), revision)


async def upgrade_async(database_url: str, revision: str = "head") -> None:
    # env.py runs its own event loop, so migrations happen in a worker thread.
    await asyncio.to_thread(upgrade, database_url, revision)


def revision(database_url: str, message: str) -> None:
    """Autogenerate a new revision from the models (developer command)."""
    command.revision(alembic_config(database_url), message=message, autogenerate=True)
