"""Domain events of the reservations domain, published after commit."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReservationChanged:
    """A reservation's stored status changed (answered, used, expired, cancelled...)."""

    reservation_pk: int
    reservation_id: int  # the OCPP id
    station_id: str
    status: str
    reason: str | None
    transaction_pk: int | None


@dataclass(frozen=True)
class ReservationViolated:
    """A transaction of another token started on an EVSE/connector reserved at the time."""

    reservation_pk: int
    station_id: str
    transaction_pk: int
