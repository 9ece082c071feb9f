"""What the outbox's deliveries tell the roaming domain (``borne.ocpi.sender.DeliveryObserver``).

* Partner health: every answered or failed delivery updates the partner's ``last_success_at``
  or ``last_error`` (shown in the operator API), so an operator sees at a glance which links
  work, not only at registration time.
* Repair: a partner that answers an EVSE status PATCH with 2003 (unknown location) lacks the
  location; OCPI's remedy is the whole object, so the location is PUT to it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from borne.core.clock import Clock
from borne.core.uow import Database
from borne.ocpi import status
from borne.ocpi.outbox import Due, Outcome
from borne.roaming import partners
from borne.roaming.locations_push import LocationsPusher
from borne.roaming.models import Partner


class DeliveryHealth:
    def __init__(self, db: Database, clock: Clock, locations: LocationsPusher) -> None:
        self._db = db
        self._clock = clock
        self._locations = locations

    async def after_round(self, results: Sequence[tuple[Due, Outcome]]) -> None:
        succeeded: dict[int, datetime] = {}
        failed: dict[int, tuple[datetime, str]] = {}
        repairs: set[tuple[int, str]] = set()
        for due, outcome in results:
            if outcome.ok:
                succeeded[due.partner_id] = outcome.at
                continue
            failed[due.partner_id] = (
                outcome.at,
                f"{due.method} {due.module}: {outcome.error or 'failed'}",
            )
            if _unknown_location(due, outcome):
                segments = due.path.strip("/").split("/")
                if len(segments) >= 3:
                    repairs.add((due.partner_id, segments[2]))
        if succeeded or failed:
            async with self._db.unit_of_work() as uow:
                for partner_id in succeeded.keys() | failed.keys():
                    partner = await uow.session.get(Partner, partner_id)
                    if partner is None:
                        continue
                    if partner_id in succeeded:
                        partners.record_success(partner, succeeded[partner_id])
                    if partner_id in failed:
                        at, message = failed[partner_id]
                        partners.record_error(partner, message, at)
                await uow.commit()
        for partner_id, location_id in sorted(repairs):
            await self._locations.push_location_to(partner_id, location_id)


def _unknown_location(due: Due, outcome: Outcome) -> bool:
    return (
        due.module == "locations"
        and due.method == "PATCH"
        and outcome.retry_at is None
        and outcome.status_code == status.UNKNOWN_LOCATION
    )
