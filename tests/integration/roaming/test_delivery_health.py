"""What deliveries tell the roaming domain: partner health in the operator's view, and the PUT
that repairs a partner lacking a location."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import borne.models  # noqa: F401  (every table for create_all)
from borne.core.deps import Deps
from borne.ocpi.outbox import Due, Outcome
from borne.roaming.delivery_health import DeliveryHealth
from borne.roaming.locations_push import LocationsPusher
from borne.roaming.models import Partner

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)


class RecordingLocations:
    def __init__(self) -> None:
        self.puts: list[tuple[int, str]] = []

    async def push_location_to(self, partner_id: int, location_id: str) -> int:
        self.puts.append((partner_id, location_id))
        return 1


def due(partner_id: int, method: str, module: str, path: str, n: int = 1) -> Due:
    return Due(n, partner_id, f"{module}:k", method, module, "RECEIVER", path, None, "{}", "c", 1)


async def test_health_and_the_put_after_an_unknown_location(deps: Deps) -> None:
    async with deps.db.unit_of_work() as uow:
        for name in ("up", "down"):
            uow.session.add(Partner(name=name, status="registered", created_at=T0, updated_at=T0))
        await uow.commit()
    locations = RecordingLocations()
    health = DeliveryHealth(deps.db, deps.clock, cast(LocationsPusher, cast(Any, locations)))
    later = T0 + timedelta(minutes=5)
    await health.after_round(
        [
            (due(1, "PUT", "sessions", "/NL/BRN/1"), Outcome(1, later, True, 200, 1000)),
            (
                due(2, "PATCH", "locations", "/NL/BRN/LOC-9/EVSE-1", 2),
                Outcome(2, later, False, 404, 2003, "unknown location", None),
            ),
            # a retryable failure of another kind: health only, no repair
            (
                due(2, "PATCH", "locations", "/NL/BRN/LOC-8/EVSE-1", 3),
                Outcome(3, later, False, 503, None, "unavailable", later),
            ),
        ]
    )
    async with deps.db.unit_of_work() as uow:
        up = await uow.session.get(Partner, 1)
        down = await uow.session.get(Partner, 2)
        assert up is not None and down is not None
        assert up.last_success_at == later and up.last_error is None
        assert down.last_success_at is None and down.last_error_at == later
        assert down.last_error is not None and "PATCH locations" in down.last_error
    assert locations.puts == [(2, "LOC-9")]
