"""Operator API models of tariffs: request envelopes, answers, previews and price displays.

Bodies are read as exact JSON (numbers become Decimal, never float) and answers are written the
same way (``ExactJSONResponse``), so a price of ``0.2500`` comes back as ``0.2500``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Generic, Literal, TypeVar

from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from borne.core.errors import InvalidInput
from borne.locations.service import ConnectorView
from borne.tariffs.breakdown import Amount, PricedLine, PricedSession
from borne.tariffs.ocpi_tariff import OcpiVersion, PriceLimit, dumps_exact, tariff_to_ocpi
from borne.tariffs.periods import ChargingPeriod, SessionUsage
from borne.tariffs.service import AssignmentTarget, AssignmentView, TariffView
from borne.tariffs.transparency import PriceNow, UnitPrice

T = TypeVar("T")
_INT = 2**31 - 1
_SIXTY = Decimal(60)


class ExactJSONResponse(JSONResponse):
    """JSON whose numbers are written straight from Decimal (``dumps_exact``)."""

    def render(self, content: Any) -> bytes:
        return dumps_exact(content).encode("utf-8")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- requests


class TariffIn(Body):
    """A tariff to store: the OCPI object (2.2.1 or 2.3.0 shape) and how it is scoped."""

    tariff: dict[str, Any] = Field(description="the OCPI Tariff object, 2.2.1 or 2.3.0 shape")
    version: OcpiVersion | None = Field(
        None, description="the shape of `tariff`; detected when absent"
    )
    partner: str | None = Field(
        None, description="only for this roaming partner, party key CC*PPP (e.g. NL*ABC)"
    )
    token_group: str | None = Field(
        None, description="only for id tokens of this group (groupIdToken / parentIdTag)"
    )
    ad_hoc: bool = Field(False, description="the no-contract tariff, used where no other applies")


class TariffPatch(Body):
    """Only the fields given change; ``partner`` / ``token_group`` null removes the scope."""

    tariff: dict[str, Any] | None = None
    version: OcpiVersion | None = None
    partner: str | None = None
    token_group: str | None = None
    ad_hoc: bool | None = None


class AssignmentIn(Body):
    """Exactly one target: ``location_id``; ``station_id`` + ``evse_id`` (an EVSE);
    ``station_id`` + ``evse_id`` + ``connector_id`` (a connector); or ``default: true`` (the
    network's ad hoc tariff)."""

    location_id: str | None = Field(None, min_length=1, max_length=36)
    station_id: str | None = Field(None, min_length=1, max_length=48)
    evse_id: int | None = Field(None, ge=1, le=_INT)
    connector_id: int | None = Field(None, ge=1, le=_INT)
    default: bool = False

    def target(self) -> AssignmentTarget:
        return AssignmentTarget(
            location_id=self.location_id,
            station_id=self.station_id,
            evse_id=self.evse_id,
            connector_id=self.connector_id,
            default=self.default,
        ).check()


class SimpleUsage(Body):
    """A session in four numbers: charge for ``duration_minutes`` (delivering ``energy_kwh``)
    then park for ``parking_minutes``."""

    energy_kwh: Decimal = Field(Decimal(0), ge=0, le=100_000, allow_inf_nan=False)
    duration_minutes: Decimal = Field(ge=0, le=525_600, allow_inf_nan=False)
    parking_minutes: Decimal = Field(Decimal(0), ge=0, le=525_600, allow_inf_nan=False)
    max_power_kw: Decimal | None = Field(None, ge=0, le=100_000, allow_inf_nan=False)
    max_current_a: Decimal | None = Field(None, ge=0, le=100_000, allow_inf_nan=False)

    def to_usage(self, start: datetime) -> SessionUsage:
        charge_end = start + timedelta(minutes=float(self.duration_minutes))
        periods = [
            ChargingPeriod(
                start=start,
                energy_kwh=self.energy_kwh,
                time_h=self.duration_minutes / _SIXTY,
                max_power=self.max_power_kw,
                max_current=self.max_current_a,
            )
        ]
        end = charge_end
        if self.parking_minutes:
            periods.append(
                ChargingPeriod(start=charge_end, parking_h=self.parking_minutes / _SIXTY)
            )
            end = charge_end + timedelta(minutes=float(self.parking_minutes))
        return SessionUsage(periods=tuple(periods), end=end)


class PreviewIn(Body):
    """What to price: a tariff (inline, or ``tariff_id`` of a stored one; not with
    ``/tariffs/{id}/preview``), when, where (``time_zone``, or ``location_id`` / ``station_id``
    for their time zone; UTC when none is given), and either ``usage`` or OCPI
    ``charging_periods`` with ``end``."""

    tariff: dict[str, Any] | None = None
    version: OcpiVersion | None = None
    tariff_id: int | None = Field(None, ge=1)
    start: AwareDatetime | None = Field(None, description="session start (required with `usage`)")
    time_zone: str | None = Field(None, min_length=1, max_length=64)
    location_id: str | None = Field(None, min_length=1, max_length=36)
    station_id: str | None = Field(None, min_length=1, max_length=48)
    usage: SimpleUsage | None = None
    charging_periods: list[dict[str, Any]] | None = Field(None, max_length=10_000)
    end: AwareDatetime | None = Field(None, description="session end, with `charging_periods`")
    reservation_expired: bool = False

    def session_usage(self) -> SessionUsage:
        def refuse(field: str, reason: str) -> InvalidInput:
            return InvalidInput(
                f"invalid preview: {field}: {reason}",
                details={"errors": [{"field": field, "reason": reason}]},
            )

        if (self.usage is None) == (self.charging_periods is None):
            raise refuse("usage", "give either usage or charging_periods")
        if self.usage is not None:
            if self.start is None:
                raise refuse("start", "required with usage")
            return self.usage.to_usage(self.start)
        if self.end is None:
            raise refuse("end", "required with charging_periods")
        return SessionUsage.from_ocpi(
            self.charging_periods or [], self.end, reservation_expired=self.reservation_expired
        )


# --------------------------------------------------------------------------- answers


class AmountOut(BaseModel):
    excl: Decimal | None = Field(description="before taxes; null: unknown")
    incl: Decimal | None = Field(description="after taxes; null: unknown")

    @classmethod
    def of(cls, a: Amount) -> AmountOut:
        return cls(excl=a.excl, incl=a.incl)


class AssignmentOut(BaseModel):
    tariff_id: int
    level: Literal["connector", "evse", "location", "default"]
    location_id: str | None
    station_id: str | None
    evse_id: int | None
    connector_id: int | None
    created_at: datetime

    @classmethod
    def of(cls, a: AssignmentView) -> AssignmentOut:
        return cls(
            tariff_id=a.record_id,
            level=a.level,
            location_id=a.location_id,
            station_id=a.station_id,
            evse_id=a.evse_id,
            connector_id=a.connector_id,
            created_at=a.created_at,
        )


class TariffOut(BaseModel):
    id: int = Field(description="Borne's record id (used in these URLs)")
    ocpi_id: str
    country_code: str
    party_id: str
    currency: str
    origin_version: OcpiVersion = Field(description="the shape the tariff came in")
    partner: str | None
    token_group: str | None
    ad_hoc: bool
    start_date_time: datetime | None
    end_date_time: datetime | None
    created_at: datetime
    last_updated: datetime
    version: OcpiVersion = Field(description="the shape of `tariff` in this answer")
    tariff: dict[str, Any] = Field(description="the OCPI Tariff object")
    assignments: list[AssignmentOut]

    @classmethod
    def of(cls, v: TariffView, version: OcpiVersion = "2.3.0") -> TariffOut:
        t = v.tariff
        return cls(
            id=v.record_id,
            ocpi_id=t.id,
            country_code=t.country_code,
            party_id=t.party_id,
            currency=t.currency,
            origin_version=v.origin_version,
            partner=v.partner,
            token_group=v.token_group,
            ad_hoc=v.ad_hoc,
            start_date_time=t.start_date_time,
            end_date_time=t.end_date_time,
            created_at=v.created_at,
            last_updated=v.last_updated,
            version=version,
            tariff=tariff_to_ocpi(t, version),
            assignments=[AssignmentOut.of(a) for a in v.assignments],
        )


class ValidationOut(BaseModel):
    ok: bool
    detected_version: OcpiVersion
    tariff: dict[str, Any] = Field(description="the canonical 2.3.0 form that would be stored")


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int


class LineOut(BaseModel):
    period_index: int
    start: datetime
    end: datetime
    dimension: str
    category: str
    quantity: Decimal = Field(description="kWh, hours, or 1 (FLAT)")
    billed_quantity: Decimal
    element_index: int | None = Field(description="null: no element applies, free")
    price: Decimal | None
    vat: Decimal | None
    step_size: int | None
    cost: AmountOut
    rule: str

    @classmethod
    def of(cls, line: PricedLine) -> LineOut:
        return cls(
            period_index=line.period_index,
            start=line.start,
            end=line.end,
            dimension=line.dimension.value,
            category=line.category.value,
            quantity=_tidy(line.quantity),
            billed_quantity=_tidy(line.billed_quantity),
            element_index=line.element_index,
            price=line.price,
            vat=line.vat,
            step_size=line.step_size,
            cost=AmountOut(excl=_opt(line.cost.excl), incl=_opt(line.cost.incl)),
            rule=line.rule,
        )


class LimitOut(BaseModel):
    limit: str
    side: str
    before: Decimal
    after: Decimal


class PreviewOut(BaseModel):
    tariff_id: str = Field(description="the OCPI tariff id")
    record_id: int | None = Field(description="the stored tariff priced, if any")
    currency: str
    time_zone: str
    lines: list[LineOut]
    category_totals: dict[str, AmountOut] = Field(description="rounded, adding up to the total")
    total_before_limits: AmountOut
    limits: list[LimitOut] = Field(description="min_price / max_price that bound the total")
    total: AmountOut
    total_exact: AmountOut
    rounding_rule: str
    explanation: str
    ocpi_costs: dict[str, Any] | None = Field(
        description="the CDR cost fields in the 2.3.0 shape (null if before-tax is unknown)"
    )

    @classmethod
    def of(cls, p: PricedSession, record_id: int | None) -> PreviewOut:
        try:
            costs: dict[str, Any] | None = p.to_ocpi_costs("2.3.0")
        except ValueError:
            costs = None
        return cls(
            tariff_id=p.tariff_id,
            record_id=record_id,
            currency=p.currency,
            time_zone=p.time_zone,
            lines=[LineOut.of(line) for line in p.lines],
            category_totals={c.value: AmountOut.of(a) for c, a in p.category_totals.items()},
            total_before_limits=AmountOut.of(p.total_before_limits),
            limits=[
                LimitOut(limit=x.limit, side=x.side, before=_tidy(x.before), after=x.after)
                for x in p.limits
            ],
            total=AmountOut.of(p.total),
            total_exact=AmountOut(excl=_opt(p.total_exact.excl), incl=_opt(p.total_exact.incl)),
            rounding_rule=p.rounding_rule,
            explanation=p.explain(),
            ocpi_costs=costs,
        )


def _tidy(value: Decimal) -> Decimal:
    """Drop the trailing zeros of the engine's 1e-20 quantum (0.75000… → 0.75)."""
    tidy = value.normalize()
    return tidy if tidy.as_tuple().exponent <= 0 else tidy.quantize(Decimal(1))  # type: ignore[operator]


def _opt(value: Decimal | None) -> Decimal | None:
    return None if value is None else _tidy(value)


class UnitPriceOut(BaseModel):
    after_minutes: int = Field(description="from this many minutes into a session started now")
    after_kwh: Decimal | None = Field(
        default=None,
        description="set: once this much energy (kWh) is charged in a session started now "
        "(after_minutes is then 0); null: a time-based price",
    )
    element_index: int | None = Field(description="null: nothing prices it then, free")
    excl: Decimal | None = Field(description="per kWh / per hour / per session, before taxes")
    incl: Decimal | None = Field(description="after taxes; null: unknown")
    per_minute_excl: Decimal | None = None
    per_minute_incl: Decimal | None = None
    vat: Decimal | None
    step_size: int | None
    rule: str

    @classmethod
    def of(cls, u: UnitPrice) -> UnitPriceOut:
        timed = u.dimension.value in ("TIME", "PARKING_TIME")

        def minute(v: Decimal | None) -> Decimal | None:
            return (
                None if v is None or not timed else _tidy((v / _SIXTY).quantize(Decimal("1e-10")))
            )

        return cls(
            after_minutes=u.after_minutes,
            after_kwh=u.after_kwh,
            element_index=u.element_index,
            excl=u.excl,
            incl=u.incl,
            per_minute_excl=minute(u.excl),
            per_minute_incl=minute(u.incl),
            vat=u.vat,
            step_size=u.step_size,
            rule=u.rule,
        )


class TariffRefOut(BaseModel):
    id: int
    ocpi_id: str
    level: str = Field(description="where it is assigned: connector, evse, location, default")
    partner: str | None
    token_group: str | None
    ad_hoc: bool


def _first(units: tuple[UnitPrice, ...]) -> UnitPriceOut | None:
    first = units[0] if units else None
    ok = first is not None and first.after_minutes == 0 and first.after_kwh is None
    return UnitPriceOut.of(units[0]) if ok else None


def _limit(limit: PriceLimit | None) -> AmountOut | None:
    return None if limit is None else AmountOut(excl=limit.before_taxes, incl=limit.after_taxes)


class ConnectorPriceOut(BaseModel):
    evse_id: int
    connector_id: int
    status: str | None = Field(description="the connector's last reported status")
    evse_uid: str | None
    standard: str | None
    power_type: str | None
    max_power_kw: Decimal | None
    tariff: TariffRefOut | None = Field(description="null: no tariff applies (price unknown)")
    time_zone: str
    local_time: str | None = Field(description="`at` in the location's time zone (ISO 8601)")
    currency: str | None
    tax_included: str | None = Field(description="2.3.0 tax_included; null: 2.2.1 VAT model")
    price_per_kwh: UnitPriceOut | None = Field(description="energy price now")
    price_per_minute: UnitPriceOut | None = Field(description="charging time price now")
    parking_per_minute: UnitPriceOut | None = Field(description="parking time price now")
    start_fee: UnitPriceOut | None = Field(description="FLAT, once per session")
    energy: list[UnitPriceOut] = Field(
        description="energy prices now, later (after_minutes) and past kWh thresholds (after_kwh)"
    )
    charging_time: list[UnitPriceOut]
    parking_time: list[UnitPriceOut]
    min_price: AmountOut | None
    max_price: AmountOut | None
    vat_rates: list[Decimal]
    text_shows_taxes_included: bool
    text: str

    @classmethod
    def of(
        cls,
        *,
        evse_id: int,
        connector_id: int,
        status: str | None,
        descriptor: ConnectorView | None,
        max_power_kw: Decimal | None,
        tariff: TariffRefOut | None,
        time_zone: str,
        currency: str | None,
        tax_included: str | None,
        now: PriceNow | None,
    ) -> ConnectorPriceOut:
        return cls(
            evse_id=evse_id,
            connector_id=connector_id,
            status=status,
            evse_uid=None if descriptor is None else descriptor.evse_uid,
            standard=None if descriptor is None else descriptor.standard,
            power_type=None if descriptor is None else descriptor.power_type,
            max_power_kw=max_power_kw,
            tariff=tariff,
            time_zone=time_zone,
            local_time=None if now is None else now.local_time.isoformat(),
            currency=currency,
            tax_included=tax_included,
            price_per_kwh=None if now is None else _first(now.energy),
            price_per_minute=None if now is None else _first(now.charging_time),
            parking_per_minute=None if now is None else _first(now.parking_time),
            start_fee=None if now is None or now.flat is None else UnitPriceOut.of(now.flat),
            energy=[] if now is None else [UnitPriceOut.of(u) for u in now.energy],
            charging_time=[] if now is None else [UnitPriceOut.of(u) for u in now.charging_time],
            parking_time=[] if now is None else [UnitPriceOut.of(u) for u in now.parking_time],
            min_price=None if now is None else _limit(now.min_price),
            max_price=None if now is None else _limit(now.max_price),
            vat_rates=[] if now is None else list(now.vat_rates),
            text_shows_taxes_included=False if now is None else now.shows_taxes_included,
            text="No tariff applies: price unknown" if now is None else now.text,
        )


class StationPricesOut(BaseModel):
    station_id: str
    at: datetime = Field(description="prices for a session starting at this instant")
    token_group: str | None
    partner: str | None
    connectors: list[ConnectorPriceOut]
