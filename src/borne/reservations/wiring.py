"""Everything ``bootstrap`` needs to switch reservations on, in one call (tests reuse it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter

from borne.core.deps import Deps
from borne.ocpp.router import Router
from borne.reservations import api, ocpp_v201
from borne.reservations.config import ReservationsConfig
from borne.reservations.subscribers import ReservationTracker


@dataclass(frozen=True)
class ReservationsWiring:
    tracker: ReservationTracker
    api_router: APIRouter
    start: Callable[[], object]  # append to ``Runtime.starters``


def install(deps: Deps, v201_router: Router, config: ReservationsConfig) -> ReservationsWiring:
    """Register the 2.0.1 handler and the subscriber; the caller mounts ``api_router`` under
    /api/v1 and runs ``start`` with the runtime (the expiry sweep, supervised)."""
    ocpp_v201.register(v201_router, deps)
    tracker = ReservationTracker(deps, config)
    tracker.subscribe(deps.bus)

    def start() -> object:
        return deps.supervisor.keep_running(tracker.run, name="reservations-sweep")

    return ReservationsWiring(tracker, api.router, start)
