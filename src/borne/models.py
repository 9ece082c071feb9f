"""Imports every domain's models so that ``Base.metadata`` knows all tables (Alembic, tests)."""

from __future__ import annotations

import borne.authorization.models
import borne.cdrs.models
import borne.certificates.models
import borne.device_model.models
import borne.diagnostics.models
import borne.display_messages.models
import borne.firmware.models
import borne.limits.models
import borne.locations.models
import borne.notifications.models
import borne.ocpi.outbox_models
import borne.reservations.models
import borne.roaming.commands_models
import borne.roaming.journal_models
import borne.roaming.models
import borne.roaming.sessions_models
import borne.roaming.tokens_models
import borne.smart_charging.models
import borne.stations.models
import borne.tariffs.models
import borne.transactions.models  # noqa: F401
from borne.core.db import Base

__all__ = ["Base"]
