"""Imports every domain's models so that ``Base.metadata`` knows all tables (Alembic, tests)."""

from __future__ import annotations

import borne.authorization.models
import borne.stations.models
import borne.transactions.models  # noqa: F401
from borne.core.db import Base

__all__ = ["Base"]
