"""Fixtures shared by every suite: databases (SQLite and PostgreSQL) and the runtime pieces.

``db_url`` is parametrised over SQLite and, when ``BORNE_TEST_DATABASE_URL`` is set, PostgreSQL.
With ``BORNE_TEST_REQUIRE_POSTGRES=1`` (CI) an unreachable PostgreSQL fails instead of skipping.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from borne.core.bus import InProcessBus
from borne.core.clock import SystemClock
from borne.core.db import Base, create_engine, create_session_factory
from borne.core.deps import Deps
from borne.core.group_commit import GroupCommitter
from borne.core.registry import LocalRegistry
from borne.core.supervisor import Supervisor
from borne.core.uow import Database

PG_URL = os.environ.get("BORNE_TEST_DATABASE_URL", "")
REQUIRE_PG = os.environ.get("BORNE_TEST_REQUIRE_POSTGRES") == "1"


def _backends() -> list[object]:
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]


@pytest.fixture(params=_backends())
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "postgres" and not PG_URL:
        if REQUIRE_PG:
            pytest.fail("BORNE_TEST_REQUIRE_POSTGRES=1 but BORNE_TEST_DATABASE_URL is not set")
        pytest.skip("PostgreSQL suite off: set BORNE_TEST_DATABASE_URL to run it")
    return name


@pytest.fixture
async def db_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database with Borne's schema, on the parametrised backend."""
    import borne.models  # noqa: F401  (registers every table on Base.metadata)

    url = f"sqlite+aiosqlite:///{tmp_path / 'borne.db'}" if backend == "sqlite" else PG_URL
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            if backend == "postgres":
                await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
            await conn.run_sync(Base.metadata.create_all)
    except OSError as exc:  # PostgreSQL unreachable
        await engine.dispose()
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL unreachable at {url}: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    await engine.dispose()
    yield url


@pytest.fixture
async def deps(db_url: str) -> AsyncIterator[Deps]:
    """The runtime pieces domain code needs, on a fresh database, with group commit running."""
    supervisor = Supervisor()
    bus = InProcessBus(supervisor)
    engine = create_engine(db_url)
    factory = create_session_factory(engine)
    committer = GroupCommitter(factory, bus, supervisor, max_batch=100, max_wait_ms=0.5)
    committer.start()
    d = Deps(
        db=Database(engine, factory, bus),
        committer=committer,
        clock=SystemClock(),
        bus=bus,
        registry=LocalRegistry(),
        supervisor=supervisor,
    )
    try:
        yield d
    finally:
        await committer.stop()
        await supervisor.shutdown()
        await engine.dispose()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Report how many PostgreSQL variants ran; ``.ci/run`` fails when none did."""
    passed = [r for r in terminalreporter.stats.get("passed", []) if "[postgres" in r.nodeid]
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "[postgres" in r.nodeid]
    terminalreporter.write_line(f"postgres-suite: {len(passed)} passed, {len(skipped)} skipped")
