"""Settings of the reservations domain (``BORNE_RESERVATION_*``, wired by ``bootstrap``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReservationsConfig:
    # How often reservations past their expiry are marked expired (1.6 stations never say so;
    # reads compute it at once, the sweep makes it durable and publishes the change).
    sweep_interval_s: float = 30.0
