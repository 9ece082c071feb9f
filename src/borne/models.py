"""Imports every domain's models so that ``Base.metadata`` knows all tables (Alembic, tests)."""

from __future__ import annotations

from borne.core.db import Base

__all__ = ["Base"]
