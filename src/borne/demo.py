"""The demo network that `make run` seeds: stations and tokens to try Borne at once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from borne.authorization import service as tokens
from borne.core.clock import Clock
from borne.core.errors import Conflict
from borne.core.uow import Database, UnitOfWork
from borne.stations import admin

# Unsecured (profile 0) so `borne simulate` connects without credentials; one secured station
# shows security profile 1. `borne simulate` names its stations SIM16-0001… / SIM201-0001… and
# gives station N the tag T16-000N / T201-000N, so simulated stations never share a tag.
DEMO_COUNT = 5
DEMO_STATIONS_V16 = [f"SIM16-{i:04d}" for i in range(1, DEMO_COUNT + 1)]
DEMO_STATIONS_V201 = [f"SIM201-{i:04d}" for i in range(1, DEMO_COUNT + 1)]
SECURE_STATION = "DEMO-SECURE-01"
SECURE_PASSWORD = "demo-password-0123456789"  # demo only; real stations get their own
DEMO_TOKENS = {
    **{f"T16-{i:04d}": "Accepted" for i in range(1, DEMO_COUNT + 1)},
    **{f"T201-{i:04d}": "Accepted" for i in range(1, DEMO_COUNT + 1)},
    "SIMTAG0001": "Accepted",
    "DEMO-TAG-1": "Accepted",
    "DEMO-TAG-2": "Accepted",
    "DEMO-BLOCKED": "Blocked",
}


Step = Callable[[UnitOfWork], Awaitable[object]]


@dataclass
class SeedReport:
    created: list[str]
    existing: list[str]


async def seed_demo(db: Database, clock: Clock) -> SeedReport:
    """Create the demo stations and id tokens; running it again changes nothing."""
    report = SeedReport([], [])
    now = clock.now()
    for station_id in [*DEMO_STATIONS_V16, *DEMO_STATIONS_V201]:
        await _once(db, report, f"station {station_id}", _station(station_id, now, 0, None))
    await _once(
        db, report, f"station {SECURE_STATION}", _station(SECURE_STATION, now, 1, SECURE_PASSWORD)
    )
    for value, status in DEMO_TOKENS.items():
        await _once(db, report, f"id token {value}", _token(value, status, now))
    await _once(
        db,
        report,
        "id token DEMO-EXPIRED",
        _token("DEMO-EXPIRED", "Accepted", now, expiry=now - timedelta(days=1)),
    )
    return report


def _station(station_id: str, now: datetime, profile: int, password: str | None) -> Step:
    async def step(unit: UnitOfWork) -> object:
        return await admin.create_station(
            unit,
            station_id=station_id,
            now=now,
            security_profile=profile,
            password=password,
        )

    return step


def _token(value: str, status: str, now: datetime, expiry: datetime | None = None) -> Step:
    async def step(unit: UnitOfWork) -> object:
        return await tokens.create_id_token(
            unit,
            id_token=value,
            now=now,
            status=status,
            expiry_date=expiry,
            label="demo",
        )

    return step


async def _once(db: Database, report: SeedReport, name: str, step: Step) -> None:
    async with db.unit_of_work() as uow:
        try:
            await step(uow)
        except Conflict:
            report.existing.append(name)
            return
        await uow.commit()
    report.created.append(name)
