"""Operator API models of session limits.

Amounts and energy are decimals sent as JSON strings (``"12.50"``) or numbers; answers carry
strings, which keep every digit. ``max_cost`` is in ``currency`` and includes taxes.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from borne.limits.service import Enforcement, Limits, LimitsView, SessionLimits, TokenLimits


def plain(value: Decimal) -> str:
    """Positional notation: PostgreSQL hands ``20000`` back as ``Decimal("2E+4")``."""
    return format(value, "f")


Exact = Annotated[Decimal, PlainSerializer(plain, return_type=str, when_used="json")]
Amount = Annotated[
    Decimal, Field(gt=0, max_digits=18, decimal_places=4), PlainSerializer(plain, return_type=str)
]
Energy = Annotated[
    Decimal, Field(gt=0, max_digits=18, decimal_places=3), PlainSerializer(plain, return_type=str)
]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, e.g. EUR")]


class LimitsIn(BaseModel):
    """The limits to set; a limit left out or null is lifted (PUT replaces them all)."""

    model_config = ConfigDict(extra="forbid")

    max_cost: Amount | None = Field(None, description="in `currency`, taxes included")
    currency: Currency | None = None
    max_energy_wh: Energy | None = Field(None, description="energy delivered in the session, Wh")
    max_duration_s: int | None = Field(
        None, gt=0, le=31 * 24 * 3600, description="seconds since the session started"
    )

    def to_limits(self) -> Limits:
        return Limits(self.max_cost, self.currency, self.max_energy_wh, self.max_duration_s)


class LimitsOut(BaseModel):
    max_cost: Exact | None
    currency: str | None
    max_energy_wh: Exact | None
    max_duration_s: int | None

    @classmethod
    def of(cls, limits: Limits) -> LimitsOut:
        return cls(
            max_cost=limits.max_cost,
            currency=limits.currency,
            max_energy_wh=limits.max_energy_wh,
            max_duration_s=limits.max_duration_s,
        )


class EnforcementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str = Field(description="the limit that fired: cost | energy | duration")
    reason: str = Field(description="the stop reason: limit:cost | limit:energy | limit:duration")
    limit_value: Exact
    value_at_trigger: Exact = Field(description="the session's value when the limit was reached")
    currency: str | None
    triggered_at: datetime
    stop_requested_at: datetime | None = Field(description="when the station accepted the stop")
    last_status: str | None = Field(description="the station's answer to the last request")
    last_error: str | None = Field(description="why the last request got no answer")
    last_attempt_at: datetime | None
    attempts: int
    next_attempt_at: datetime | None
    closed: bool = Field(description="the transaction has ended")
    stopped_at: datetime | None

    @classmethod
    def of(cls, enforcement: Enforcement) -> EnforcementOut:
        return cls.model_validate(enforcement)


class SessionLimitsOut(BaseModel):
    transaction_pk: int
    limits: LimitsOut | None = Field(description="null when the session has no limits")
    source: str | None = Field(description="operator | token | ocpi")
    updated_at: datetime | None
    enforcement: EnforcementOut | None = Field(description="null until a limit is reached")

    @classmethod
    def of(cls, view: LimitsView) -> SessionLimitsOut:
        limits: SessionLimits | None = view.limits
        return cls(
            transaction_pk=view.transaction_pk,
            limits=None if limits is None else LimitsOut.of(limits.limits),
            source=None if limits is None else limits.source,
            updated_at=None if limits is None else limits.updated_at,
            enforcement=None if view.enforcement is None else EnforcementOut.of(view.enforcement),
        )


class TokenLimitsOut(BaseModel):
    id_token: str
    limits: LimitsOut
    updated_at: datetime

    @classmethod
    def of(cls, token: TokenLimits) -> TokenLimitsOut:
        return cls(
            id_token=token.id_token, limits=LimitsOut.of(token.limits), updated_at=token.updated_at
        )
