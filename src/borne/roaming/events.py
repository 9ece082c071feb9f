"""Domain events of the roaming domain."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PartnerRegistered:
    """A partner's link became usable (registration in either direction, or resumed): pushes to
    it start with the transaction that carries this event."""

    partner_id: int
