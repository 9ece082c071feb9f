"""A transaction's charging periods and tariff → an OCPI CDR (2.2.1 and 2.3.0) and its explanation.

Pure: no I/O, no clock. :func:`build_cdr` prices the segmented session with the tariff engine and
writes both OCPI versions as exact JSON text (Decimals never pass through float), which the
service stores as they are: a CDR is immutable once issued. :func:`credit_document` derives a
credit CDR from an issued one.

Shape notes (docs/cdrs.md):

* ``charging_periods`` are the engine's priced pieces: a period per segment of
  :mod:`borne.cdrs.periods`, cut again where a tariff element boundary falls inside it. The
  k-th period is the k-th "Period" of the explanation. Dimensions: ENERGY (kWh) and TIME (h)
  while charging, PARKING_TIME (h) while parked, MIN/MAX_POWER (kW) and MIN/MAX_CURRENT (A) when
  known; ``tariff_id`` when an element of the tariff priced something in that period.
* Volumes are written with 4 decimals (the OCPI ``number`` default), ROUND_HALF_UP; the price is
  computed from the exact volumes.
* ``total_time`` is the whole session (charging and parked); ``total_parking_time`` the parked
  part; ``total_energy`` the energy of all periods (kWh).
* Costs come from :meth:`borne.tariffs.PricedSession.to_ocpi_costs`: 2.2.1 ``{excl_vat,
  incl_vat}``, 2.3.0 ``{before_taxes, taxes[]}``. Without a tariff the CDR costs zero.
* A CDR that has no exact 2.2.1 form (tax-inclusive tariff, before-tax amount unknown) is stored
  for 2.3.0 only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from itertools import groupby
from typing import Any

from borne.cdrs.periods import Segment, Segmentation
from borne.core.errors import InvalidInput
from borne.tariffs import (
    Amount,
    OcpiVersion,
    PricedLine,
    PricedSession,
    Tariff,
    TariffDimensionType,
    dumps_exact,
    price_session,
    round_money,
    tariff_to_ocpi,
)

VERSIONS: tuple[OcpiVersion, ...] = ("2.2.1", "2.3.0")
ZERO = Decimal(0)
_VOLUME = Decimal("0.0001")

#: OCPP id token types → OCPI TokenType (2.3.0 adds EMAID; 2.2.1 calls it APP_USER/OTHER).
_TOKEN_TYPES = {
    "ISO14443": "RFID",
    "ISO15693": "RFID",
    "Central": "OTHER",
    "KeyCode": "OTHER",
    "Local": "OTHER",
    "MacAddress": "OTHER",
    "NoAuthorization": "AD_HOC_USER",
    "eMAID": "EMAID",
}


@dataclass(frozen=True)
class CdrParty:
    """The CPO that owns the CDR (and, for Borne's own tokens, the token)."""

    country_code: str = "ZZ"
    party_id: str = "BRN"


@dataclass(frozen=True)
class SignedValue:
    nature: str  # Start | End | Intermediate
    plain_data: str
    signed_data: str
    encoding_method: str | None = None
    public_key: str | None = None


@dataclass(frozen=True)
class CdrInput:
    cdr_id: str
    station_id: str
    transaction_id: str
    evse_id: int | None
    connector_id: int | None
    id_token: str | None
    id_token_type: str | None
    remote_start_id: int | None
    segmentation: Segmentation
    tariff: Tariff | None
    time_zone: str
    issued_at: datetime
    #: Why no tariff applies, when ``tariff`` is None (said in the explanation).
    no_tariff_reason: str = "no tariff is assigned to this station"
    meter_id: str | None = None
    #: An OCPI CdrLocation object, or None when the station has no location.
    location: Mapping[str, Any] | None = None
    signed: Sequence[SignedValue] = ()
    party: CdrParty = CdrParty()
    #: The currency of a CDR priced by no tariff.
    default_currency: str = "EUR"


@dataclass(frozen=True)
class BuiltCdr:
    cdr_id: str
    currency: str
    total: Amount
    total_energy_kwh: Decimal
    total_time_h: Decimal
    total_parking_h: Decimal
    tariff_id: str | None
    #: Exact JSON text per OCPI version; None when the CDR has no form in that version.
    documents: Mapping[OcpiVersion, str | None]
    explanation: str


# ------------------------------------------------------------------------------ building


def build_cdr(inp: CdrInput) -> BuiltCdr:
    seg = inp.segmentation
    priced: PricedSession | None = None
    reason = inp.no_tariff_reason
    if inp.tariff is not None:
        try:
            priced = price_session(inp.tariff, seg.usage(), inp.time_zone)
        except InvalidInput as exc:
            reason = f"tariff {inp.tariff.id} could not price this session: {exc.message}"
    tariff = inp.tariff if priced is not None else None
    currency = priced.currency if priced is not None else inp.default_currency
    periods = _periods(seg, priced, tariff)
    total = priced.total if priced is not None else Amount(ZERO, ZERO)
    documents: dict[OcpiVersion, str | None] = {}
    for version in VERSIONS:
        try:
            documents[version] = dumps_exact(
                _document(inp, version, currency, periods, priced, tariff)
            )
        except (InvalidInput, ValueError):
            documents[version] = None
    return BuiltCdr(
        cdr_id=inp.cdr_id,
        currency=currency,
        total=total,
        total_energy_kwh=seg.energy_wh / 1000,
        total_time_h=_total_hours(seg),
        total_parking_h=seg.parking_hours,
        tariff_id=None if tariff is None else tariff.id,
        documents=documents,
        explanation=_explanation(inp, priced, reason, periods),
    )


def _total_hours(seg: Segmentation) -> Decimal:
    return seg.charging_hours + seg.parking_hours


@dataclass(frozen=True)
class _Period:
    start: datetime
    end: datetime
    kind: str
    dimensions: tuple[tuple[str, Decimal], ...]
    tariff_id: str | None


def _dims(
    seg: Segment, energy_kwh: Decimal, time_h: Decimal, parking_h: Decimal
) -> tuple[tuple[str, Decimal], ...]:
    dims: list[tuple[str, Decimal]] = []
    if seg.kind == "charging":
        dims += [("ENERGY", energy_kwh), ("TIME", time_h)]
    else:
        if energy_kwh:
            dims.append(("ENERGY", energy_kwh))
        dims.append(("PARKING_TIME", parking_h))
    for name, value in (
        ("MIN_CURRENT", seg.min_current),
        ("MAX_CURRENT", seg.max_current),
        ("MIN_POWER", seg.min_power),
        ("MAX_POWER", seg.max_power),
    ):
        if value is not None:
            dims.append((name, value))
    return tuple(dims)


def _periods(
    seg: Segmentation, priced: PricedSession | None, tariff: Tariff | None
) -> list[_Period]:
    out: list[_Period] = []
    if priced is not None and priced.lines:
        for (index, _piece), group in groupby(
            priced.lines, key=lambda ln: (ln.period_index, ln.piece_index)
        ):
            lines = list(group)
            source = seg.segments[index]

            def qty(dim: TariffDimensionType, of: list[PricedLine] = lines) -> Decimal:
                return sum((ln.quantity for ln in of if ln.dimension is dim), ZERO)

            priced_here = any(ln.element_index is not None for ln in lines)
            out.append(
                _Period(
                    start=lines[0].start,
                    end=lines[0].end,
                    kind=source.kind,
                    dimensions=_dims(
                        source,
                        qty(TariffDimensionType.ENERGY),
                        qty(TariffDimensionType.TIME),
                        qty(TariffDimensionType.PARKING_TIME),
                    ),
                    tariff_id=tariff.id if tariff is not None and priced_here else None,
                )
            )
        return out
    for s in seg.segments:
        if s.end == s.start and s.energy_wh == 0 and len(seg.segments) > 1:
            continue
        hours = s.hours
        charging = s.kind == "charging"
        dims = _dims(
            s, s.energy_wh / 1000, hours if charging else ZERO, ZERO if charging else hours
        )
        out.append(_Period(s.start, s.end, s.kind, dims, None))
    return out


def _volume(value: Decimal) -> Decimal:
    return value.quantize(_VOLUME, rounding=ROUND_HALF_UP).normalize() + ZERO


def _dt(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _zero_price(version: OcpiVersion) -> dict[str, Any]:
    if version == "2.2.1":
        return {"excl_vat": ZERO, "incl_vat": ZERO}
    return {"before_taxes": ZERO, "taxes": []}


def _token(inp: CdrInput, version: OcpiVersion) -> dict[str, Any]:
    uid = inp.id_token or "UNKNOWN"
    kind = _TOKEN_TYPES.get(inp.id_token_type or "", "OTHER")
    if kind == "EMAID" and version == "2.2.1":
        kind = "APP_USER"
    return {
        "country_code": inp.party.country_code,
        "party_id": inp.party.party_id,
        "uid": uid[:36],
        "type": kind,
        "contract_id": uid[:36],
    }


def _location(inp: CdrInput) -> dict[str, Any]:
    if inp.location is not None:
        return dict(inp.location)
    evse = "#NA" if inp.evse_id is None else str(inp.evse_id)
    return {
        "id": inp.station_id[:36],
        "evse_uid": f"{inp.station_id}*{evse}"[:36],
        "evse_id": f"{inp.station_id}*{evse}"[:48],
        "connector_id": "#NA" if inp.connector_id is None else str(inp.connector_id),
    }


def _signed(inp: CdrInput) -> dict[str, Any] | None:
    if not inp.signed:
        return None
    first = inp.signed[0]
    out: dict[str, Any] = {"encoding_method": (first.encoding_method or "UNKNOWN")[:36]}
    if first.public_key:
        out["public_key"] = first.public_key[:512]
    out["signed_values"] = [
        {"nature": v.nature, "plain_data": v.plain_data[:5000], "signed_data": v.signed_data[:5000]}
        for v in inp.signed
    ]
    return out


def _document(  # noqa: PLR0917
    inp: CdrInput,
    version: OcpiVersion,
    currency: str,
    periods: list[_Period],
    priced: PricedSession | None,
    tariff: Tariff | None,
) -> dict[str, Any]:
    seg = inp.segmentation
    costs = priced.to_ocpi_costs(version) if priced is not None else {}
    tariffs = [tariff_to_ocpi(tariff, version)] if tariff is not None else []
    doc: dict[str, Any] = {
        "country_code": (tariff.country_code if tariff else inp.party.country_code),
        "party_id": (tariff.party_id if tariff else inp.party.party_id),
        "id": inp.cdr_id,
        "start_date_time": _dt(seg.start),
        "end_date_time": _dt(seg.end),
        "cdr_token": _token(inp, version),
        "auth_method": "COMMAND" if inp.remote_start_id is not None else "WHITELIST",
        "cdr_location": _location(inp),
    }
    if inp.meter_id:
        doc["meter_id"] = inp.meter_id[:255]
    doc["currency"] = currency
    if tariffs:
        doc["tariffs"] = tariffs
    doc["charging_periods"] = [
        {
            "start_date_time": _dt(p.start),
            "dimensions": [{"type": t, "volume": _volume(v)} for t, v in p.dimensions],
            **({"tariff_id": p.tariff_id} if p.tariff_id else {}),
        }
        for p in periods
    ] or [{"start_date_time": _dt(seg.start), "dimensions": [{"type": "TIME", "volume": ZERO}]}]
    signed = _signed(inp)
    if signed is not None:
        doc["signed_data"] = signed
    doc["total_cost"] = costs.get("total_cost", _zero_price(version))
    if "total_fixed_cost" in costs:
        doc["total_fixed_cost"] = costs["total_fixed_cost"]
    doc["total_energy"] = _volume(seg.energy_wh / 1000)
    if "total_energy_cost" in costs:
        doc["total_energy_cost"] = costs["total_energy_cost"]
    doc["total_time"] = _volume(_total_hours(seg))
    if "total_time_cost" in costs:
        doc["total_time_cost"] = costs["total_time_cost"]
    if seg.parking_hours:
        doc["total_parking_time"] = _volume(seg.parking_hours)
    if "total_parking_cost" in costs:
        doc["total_parking_cost"] = costs["total_parking_cost"]
    if "total_reservation_cost" in costs:
        doc["total_reservation_cost"] = costs["total_reservation_cost"]
    doc["last_updated"] = _dt(inp.issued_at)
    return doc


# --------------------------------------------------------------------------- explanation


def _explanation(
    inp: CdrInput, priced: PricedSession | None, reason: str, periods: list[_Period]
) -> str:
    seg = inp.segmentation
    head = [
        f"CDR {inp.cdr_id}: station {inp.station_id}, transaction {inp.transaction_id}, "
        f"{_dt(seg.start)} -> {_dt(seg.end)}.",
        f"Energy {_volume(seg.energy_wh / 1000)} kWh; charging "
        f"{_volume(seg.charging_hours)} h, parked {_volume(seg.parking_hours)} h "
        "(parked = no energy flowing).",
    ]
    head += [f"Note: {n}." for n in seg.notes]
    if priced is not None:
        head.append(
            "The k-th 'Period' below is the CDR's k-th charging period "
            "(a period cut at a tariff boundary is listed as N.1, N.2)."
        )
        return "\n".join([*head, priced.explain()])
    head.append(f"No tariff applied: {reason}. The CDR is issued at zero cost.")
    for k, p in enumerate(periods, start=1):
        dims = ", ".join(f"{t} {_volume(v)}" for t, v in p.dimensions)
        head.append(f"  Period {k}: {_dt(p.start)} -> {_dt(p.end)} {p.kind}: {dims}; free")
    head.append(f"  Total: 0 {inp.default_currency}")
    return "\n".join(head)


# ------------------------------------------------------------------------------ credits


def credit_document(
    original: Mapping[str, Any], *, credit_id: str, issued_at: datetime, remark: str | None
) -> dict[str, Any]:
    """The credit CDR of ``original`` (an issued CDR, parsed with Decimals): all its data, a new
    id, ``credit``/``credit_reference_id``, and the negated ``total_cost`` (OCPI: only
    ``total_cost`` carries negative amounts)."""
    doc = dict(original)
    doc["id"] = credit_id
    doc["total_cost"] = _negate(original["total_cost"])
    doc["credit"] = True
    doc["credit_reference_id"] = original["id"]
    if remark:
        doc["remark"] = remark[:255]
    doc["last_updated"] = _dt(issued_at)
    return doc


def _negate(price: Any) -> Any:
    if isinstance(price, Decimal):
        return -price + ZERO
    if isinstance(price, Mapping):
        return {k: (v if k == "name" else _negate(v)) for k, v in price.items()}
    if isinstance(price, list):
        return [_negate(v) for v in price]
    return price


def negate_amount(amount: Amount) -> Amount:
    return Amount(
        None if amount.excl is None else -amount.excl + ZERO,
        None if amount.incl is None else -amount.incl + ZERO,
    )


def rounded_total(amount: Amount, currency: str) -> Amount:
    return Amount(
        None if amount.excl is None else round_money(amount.excl, currency),
        None if amount.incl is None else round_money(amount.incl, currency),
    )
