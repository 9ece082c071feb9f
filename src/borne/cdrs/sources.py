"""What a CDR is built from, read from the database: the transaction, its meter values, its
charging states, the station's meter and location. Read-only; one place for these queries.

Charging states: a 2.0.1 transaction's ``chargingState`` changes come from its TransactionEvent
log; a 1.6 transaction's from the connector's StatusNotification history (Charging,
SuspendedEV, SuspendedEVSE, Finishing), including the last status before the start.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from borne.cdrs.builder import SignedValue
from borne.cdrs.periods import CHARGING_SIGNALS, Instant, MeterData, Reading, StateChange
from borne.locations import service as locations
from borne.stations.models import ConnectorStatusHistory, Station
from borne.transactions.models import (
    ENERGY_REGISTER,
    MeterValueSample,
    Transaction,
    TransactionEventLog,
)
from borne.transactions.samples import (
    FLAG_BACKWARDS,
    FLAG_FUTURE,
    FLAG_NOT_A_NUMBER,
    FLAG_OUTSIDE,
    SampleIn,
    energy_wh,
)

POWER = "Power.Active.Import"
CURRENT = "Current.Import"
#: Samples carrying one of these flags are left out of periods (R13: stored, flagged, and not
#: billed).
EXCLUDED_FLAGS = frozenset(
    {FLAG_BACKWARDS, FLAG_FUTURE, FLAG_OUTSIDE, FLAG_NOT_A_NUMBER, "unknown_transaction"}
)
# Plain columns, not ORM entities: a long session has thousands of values.
_COLUMNS = (
    MeterValueSample.timestamp,
    MeterValueSample.measurand,
    MeterValueSample.phase,
    MeterValueSample.unit,
    MeterValueSample.multiplier,
    MeterValueSample.context,
    MeterValueSample.value,
    MeterValueSample.raw_value,
    MeterValueSample.format,
    MeterValueSample.signed,
    MeterValueSample.flags,
)
_POWER_FACTOR = {None: Decimal(1), "W": Decimal(1), "kW": Decimal(1000)}
_CURRENT_FACTOR = {None: Decimal(1), "A": Decimal(1)}
_NATURE = {"Transaction.Begin": "Start", "Transaction.End": "End"}


@dataclass(frozen=True)
class SessionData:
    meter: MeterData
    signed: tuple[SignedValue, ...]
    #: The latest timestamp of any reading or state change (the running cost is computed up to
    #: it).
    last_data_at: datetime | None


def _scaled(row: Any, factors: dict[str | None, Decimal]) -> Decimal | None:
    if row.value is None:
        return None
    factor = factors.get(row.unit)
    if factor is None:
        return None
    value: Decimal = row.value * factor
    return value.scaleb(row.multiplier) if row.multiplier else value


def _instants(rows: Iterable[Any], factors: dict[str | None, Decimal]) -> list[Instant]:
    """Phase-less values as they are; per-phase values summed per timestamp (when no phase-less
    value was sent at that timestamp)."""
    total: dict[datetime, Decimal] = {}
    phases: dict[datetime, Decimal] = defaultdict(Decimal)
    for row in rows:
        value = _scaled(row, factors)
        if value is None:
            continue
        if row.phase is None:
            total[row.timestamp] = value
        elif row.phase in ("L1", "L2", "L3", "L1-N", "L2-N", "L3-N"):
            phases[row.timestamp] += value
    for ts, value in phases.items():
        total.setdefault(ts, value)
    return [Instant(ts, v) for ts, v in sorted(total.items())]


async def load_session(session: AsyncSession, tx: Transaction, end: datetime) -> SessionData:
    start = tx.started_at or tx.created_at
    m = MeterValueSample
    rows: list[Any] = list(
        (
            await session.execute(
                select(*_COLUMNS).where(m.transaction_pk == tx.id).order_by(m.timestamp, m.id)
            )
        ).all()
    )
    usable = [r for r in rows if not EXCLUDED_FLAGS.intersection(r.flags or ())]
    readings: list[Reading] = []
    for r in usable:
        if r.measurand != ENERGY_REGISTER or r.value is None:
            continue
        wh = energy_wh(
            SampleIn(
                r.timestamp,
                r.raw_value,
                r.value,
                r.measurand,
                r.phase,
                unit=r.unit,
                multiplier=r.multiplier,
            )
        )
        if wh is not None:
            readings.append(Reading(r.timestamp, wh))
    power = _instants((r for r in usable if r.measurand == POWER), _POWER_FACTOR)
    current = _instants(
        (r for r in usable if r.measurand == CURRENT), {None: Decimal(1), "A": Decimal(1)}
    )
    states = await _states(session, tx, start, end)
    signed = tuple(_signed(r) for r in rows if r.signed or r.format == "SignedData")
    times = [r.timestamp for r in usable] + [s.timestamp for s in states]
    meter = MeterData(
        start=start,
        end=end,
        meter_start_wh=tx.meter_start_wh,
        meter_stop_wh=tx.meter_stop_wh,
        readings=readings,
        power_w=power,
        current_a=current,
        states=states,
    )
    return SessionData(meter, signed, max(times, default=None))


def _signed(row: Any) -> SignedValue:
    nature = _NATURE.get(row.context or "", "Intermediate")
    data: dict[str, Any] = row.signed or {}
    return SignedValue(
        nature=nature,
        plain_data=row.raw_value,
        signed_data=str(data.get("signedMeterData", row.raw_value)),
        encoding_method=data.get("encodingMethod") or data.get("signingMethod"),
        public_key=data.get("publicKey"),
    )


async def _states(
    session: AsyncSession, tx: Transaction, start: datetime, end: datetime
) -> list[StateChange]:
    if tx.ocpp_version.startswith("1.6"):
        # 1.6 connector N is recorded as EVSE N, connector 1 in the status history.
        h = ConnectorStatusHistory
        where = (
            h.station_id == tx.station_id,
            h.evse_id == (tx.connector_id or 0),
            h.connector_id == (1 if tx.connector_id else 0),
            h.status.in_(tuple(CHARGING_SIGNALS)),
        )
        before = (
            await session.execute(
                select(h.timestamp, h.status)
                .where(*where, h.timestamp <= start)
                .order_by(h.timestamp.desc(), h.id.desc())
                .limit(1)
            )
        ).all()
        during = (
            await session.execute(
                select(h.timestamp, h.status)
                .where(*where, h.timestamp > start, h.timestamp <= end)
                .order_by(h.timestamp, h.id)
            )
        ).all()
        rows: list[tuple[datetime, str | None]] = [(t, st) for t, st in (*before, *during)]
    else:
        log = TransactionEventLog
        rows = [
            (t, st)
            for t, st in (
                await session.execute(
                    select(log.timestamp, log.charging_state)
                    .where(log.transaction_pk == tx.id, log.charging_state.is_not(None))
                    .order_by(log.timestamp, log.seq_no)
                )
            ).all()
        ]
    return [
        StateChange(ts, CHARGING_SIGNALS[status])
        for ts, status in rows
        if status is not None and status in CHARGING_SIGNALS
    ]


async def meter_id(session: AsyncSession, station_id: str) -> str | None:
    station = await session.get(Station, station_id)
    if station is None:
        return None
    return station.meter_serial_number


class _Reader:
    """A read-only unit for the locations service (it only reads through ``session``)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add_event(self, event: object) -> None:  # pragma: no cover - reads publish nothing
        raise RuntimeError("read-only")


async def cdr_location(
    session: AsyncSession, station_id: str, evse_id: int | None, connector_id: int | None
) -> dict[str, Any] | None:
    """The OCPI CdrLocation of the station's location, with the EVSE and connector used; None
    when the station has no location."""
    place = await locations.locate_station(session, station_id)
    if place is None:
        return None
    loc = await locations.get_location(_Reader(session), location_id=place.location_id)
    out: dict[str, Any] = {"id": loc.id}
    if loc.name:
        out["name"] = loc.name
    out.update(address=loc.address, city=loc.city)
    if loc.postal_code:
        out["postal_code"] = loc.postal_code
    if loc.state:
        out["state"] = loc.state
    out.update(
        country=loc.country, coordinates={"latitude": loc.latitude, "longitude": loc.longitude}
    )
    evses = [e for s in loc.stations if s.station_id == station_id for e in s.evses]
    evse = next((e for e in evses if e.evse_id == evse_id), None)
    if evse is None:
        out.update(evse_uid=f"{station_id}*{evse_id}"[:36], evse_id=f"{station_id}*{evse_id}"[:48])
        out["connector_id"] = "#NA" if connector_id is None else str(connector_id)
        return out
    out.update(evse_uid=evse.evse_uid, evse_id=evse.physical_reference or evse.evse_uid)
    conn = next((c for c in evse.connectors if c.connector_id == connector_id), None)
    if conn is None and len(evse.connectors) == 1:
        conn = evse.connectors[0]
    out["connector_id"] = str(connector_id) if conn is None else str(conn.connector_id)
    if conn is not None:
        out.update(
            connector_standard=conn.standard,
            connector_format=conn.format,
            connector_power_type=conn.power_type,
        )
    return out
