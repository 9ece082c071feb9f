"""``borne partner``: create prints token A once; list never shows a token."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

import borne.models  # every table on Base.metadata
import borne.roaming.models  # noqa: F401
from borne.core.db import Base
from borne.roaming.cli import partner_app


async def _schema(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await engine.dispose()


def test_create_then_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    asyncio.run(_schema(url))
    monkeypatch.setenv("BORNE_DATABASE_URL", url)
    monkeypatch.setenv("BORNE_OCPI_BASE_URL", "https://borne.example/ocpi")
    runner = CliRunner()

    created = runner.invoke(partner_app, ["create", "Acme eMSP", "--accept-raw-tokens"])
    assert created.exit_code == 0, created.output
    out = json.loads(created.stdout)
    assert out["name"] == "Acme eMSP"
    assert out["ocpi_versions_url"] == "https://borne.example/ocpi/versions"
    assert len(out["token"]) >= 32

    listed = runner.invoke(partner_app, ["list"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["status"], r["accept_raw_tokens"]) for r in rows] == [
        ("Acme eMSP", "pending", True)
    ]
    assert out["token"] not in listed.stdout
