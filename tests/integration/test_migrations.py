"""The Alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import borne.models
from borne.migrate import upgrade_async

PG_URL = os.environ.get("BORNE_TEST_DATABASE_URL", "")


@pytest.fixture
async def empty_url(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}"
    engine = create_async_engine(PG_URL)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    return PG_URL


def _diff(conn: Connection) -> list[Any]:
    ctx = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(ctx, borne.models.Base.metadata))


async def test_upgrade_head_matches_models(empty_url: str) -> None:
    await upgrade_async(empty_url)
    engine = create_async_engine(empty_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(_diff)
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    finally:
        await engine.dispose()
    assert diff == [], f"models and migrations disagree: {diff}"
    assert version


async def test_upgrade_is_idempotent(empty_url: str) -> None:
    await upgrade_async(empty_url)
    await upgrade_async(empty_url)  # a second start must not fail or change anything
