"""CDR use cases: issue a transaction's CDR, credit (and re-issue) one, read them, and the
running cost of a session. Writes take a unit of work and never commit.

* :func:`issue_cdr` is idempotent: one CDR per transaction (``issue_key`` ``tx:<pk>``); a
  second call returns the first CDR and publishes nothing.
* No tariff resolves (or the tariff cannot price the session): the CDR is issued at zero cost
  and its explanation says why.
* A CDR is never changed. :func:`credit_cdr` issues its credit CDR (``<id>-C``, negated
  ``total_cost``) and, with ``reissue``, a corrected CDR computed from the data as it is now.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from borne.authorization.service import find_token
from borne.cdrs.builder import (
    BuiltCdr,
    CdrInput,
    CdrParty,
    build_cdr,
    credit_document,
    negate_amount,
)
from borne.cdrs.events import CdrIssued, SessionCostUpdated
from borne.cdrs.models import KIND_CORRECTION, KIND_CREDIT, KIND_ORIGINAL, Cdr, SessionCost
from borne.cdrs.periods import Segmentation, Thresholds, segment
from borne.cdrs.sources import SessionData, cdr_location, load_session, meter_id
from borne.core.errors import Conflict, InvalidInput, NotFound
from borne.locations import service as locations
from borne.tariffs import Amount, OcpiVersion, dumps_exact, price_session
from borne.tariffs.service import ResolvedTariff, resolve_tariff
from borne.transactions.models import ACTIVE, Transaction

T = TypeVar("T")
MAX_LIMIT = 500


class Unit(Protocol):
    """A unit of work or a group-commit batch."""

    @property
    def session(self) -> AsyncSession: ...

    def add_event(self, event: object) -> None: ...


TariffAudience = Callable[[AsyncSession, Transaction], Awaitable[str | None]]


@dataclass(frozen=True)
class CdrConfig:
    party: CdrParty = field(default_factory=CdrParty)
    #: Currency of a CDR or running cost that no tariff prices.
    default_currency: str = "EUR"
    #: Whose session is it, for tariffs scoped to a roaming partner: the partner key
    #: (``CC*PPP``) of the transaction's token owner, None for Borne's own drivers. Wired by
    #: composition (the roaming domain knows which tokens are partners').
    tariff_audience: TariffAudience | None = None


@dataclass(frozen=True)
class RunningCost:
    currency: str
    total_excl: Decimal | None
    total_incl: Decimal | None
    energy_wh: Decimal | None
    updated_at: datetime


@dataclass(frozen=True)
class CdrView:
    cdr_id: str
    kind: str
    transaction_pk: int
    station_id: str
    transaction_id: str
    evse_id: int | None
    connector_id: int | None
    credit: bool
    credit_reference_id: str | None
    replaces_cdr_id: str | None
    reason: str | None
    currency: str
    start_date_time: datetime
    end_date_time: datetime
    total_excl: Decimal | None
    total_incl: Decimal | None
    total_energy_kwh: Decimal
    total_time_h: Decimal
    total_parking_h: Decimal
    tariff_id: str | None
    issued_at: datetime
    versions: tuple[OcpiVersion, ...]


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


def view_of(row: Cdr) -> CdrView:
    versions: tuple[OcpiVersion, ...] = ("2.3.0",) if row.ocpi_221 is None else ("2.2.1", "2.3.0")
    return CdrView(
        cdr_id=row.cdr_id,
        kind=row.kind,
        transaction_pk=row.transaction_pk,
        station_id=row.station_id,
        transaction_id=row.transaction_id,
        evse_id=row.evse_id,
        connector_id=row.connector_id,
        credit=row.credit,
        credit_reference_id=row.credit_reference_id,
        replaces_cdr_id=row.replaces_cdr_id,
        reason=row.reason,
        currency=row.currency,
        start_date_time=row.start_date_time,
        end_date_time=row.end_date_time,
        total_excl=row.total_excl,
        total_incl=row.total_incl,
        total_energy_kwh=row.total_energy_kwh,
        total_time_h=row.total_time_h,
        total_parking_h=row.total_parking_h,
        tariff_id=row.tariff_id,
        issued_at=row.issued_at,
        versions=versions,
    )


def new_cdr_id() -> str:
    """16 characters: unique, and short enough for ``-C`` (credit) within OCPI's 39."""
    return uuid.uuid4().hex[:16].upper()


# ----------------------------------------------------------------------------- computing


@dataclass(frozen=True)
class _Gathered:
    resolved: ResolvedTariff | None
    time_zone: str
    data: SessionData

    def segmentation(self, end: datetime | None = None) -> Segmentation:
        meter = self.data.meter if end is None else replace(self.data.meter, end=end)
        return segment(
            meter, Thresholds.of(None if self.resolved is None else self.resolved.tariff)
        )


async def _gather(
    session: AsyncSession, tx: Transaction, end: datetime, config: CdrConfig
) -> _Gathered:
    """The tariff (resolved at the session start), its time zone, and the session's data up to
    ``end``."""
    start = tx.started_at or tx.created_at
    # A tariff scoped to the driver's token group, or to the roaming partner whose driver it
    # is, wins over the station's general one.
    token = await find_token(session, tx.id_token) if tx.id_token else None
    partner = None
    if token is None and config.tariff_audience is not None:
        partner = await config.tariff_audience(session, tx)
    resolved = await resolve_tariff(
        session,
        station_id=tx.station_id,
        evse_id=tx.evse_id,
        connector_id=_connector(tx),
        at=start,
        token_group=None if token is None else token.group_id_token,
        partner=partner,
    )
    if resolved is not None:
        tz = resolved.time_zone
    else:
        tz = await locations.location_time_zone(session, tx.station_id)
    return _Gathered(resolved, tz, await load_session(session, tx, end))


def _connector(tx: Transaction) -> int | None:
    """The 2.0.1 connector of a transaction (a 1.6 connector N is EVSE N, connector 1)."""
    if tx.ocpp_version.startswith("1.6"):
        return 1 if tx.connector_id else None
    return tx.connector_id


async def _build(
    session: AsyncSession, tx: Transaction, cdr_id: str, now: datetime, config: CdrConfig
) -> tuple[BuiltCdr, ResolvedTariff | None]:
    gathered = await _gather(session, tx, tx.stopped_at or now, config)
    resolved = gathered.resolved
    seg = gathered.segmentation()
    reason = (
        f"no tariff is assigned to station {tx.station_id} (EVSE {tx.evse_id}, connector "
        f"{_connector(tx)}) at {seg.start.isoformat()}"
    )
    built = build_cdr(
        CdrInput(
            cdr_id=cdr_id,
            station_id=tx.station_id,
            transaction_id=tx.transaction_id,
            evse_id=tx.evse_id,
            connector_id=_connector(tx),
            id_token=tx.id_token,
            id_token_type=tx.id_token_type,
            remote_start_id=tx.remote_start_id,
            segmentation=seg,
            tariff=None if resolved is None else resolved.tariff,
            time_zone=gathered.time_zone,
            issued_at=now,
            no_tariff_reason=reason,
            meter_id=await meter_id(session, tx.station_id),
            location=await cdr_location(session, tx.station_id, tx.evse_id, _connector(tx)),
            signed=gathered.data.signed,
            party=config.party,
            default_currency=config.default_currency,
        )
    )
    return built, resolved


def _row(
    built: BuiltCdr,
    tx: Transaction,
    resolved: ResolvedTariff | None,
    *,
    kind: str,
    issue_key: str,
    now: datetime,
    seg_start: datetime,
    seg_end: datetime,
) -> Cdr:
    return Cdr(
        cdr_id=built.cdr_id,
        issue_key=issue_key,
        kind=kind,
        transaction_pk=tx.id,
        station_id=tx.station_id,
        transaction_id=tx.transaction_id,
        evse_id=tx.evse_id,
        connector_id=_connector(tx),
        credit=False,
        currency=built.currency,
        start_date_time=seg_start,
        end_date_time=seg_end,
        total_excl=built.total.excl,
        total_incl=built.total.incl,
        total_energy_kwh=built.total_energy_kwh,
        total_time_h=built.total_time_h,
        total_parking_h=built.total_parking_h,
        tariff_record_id=None if resolved is None else resolved.record_id,
        tariff_id=built.tariff_id,
        ocpi_221=built.documents["2.2.1"],
        ocpi_230=built.documents["2.3.0"] or "{}",
        explanation=built.explanation,
        issued_at=now,
    )


async def _find(session: AsyncSession, issue_key: str) -> Cdr | None:
    return (
        await session.execute(select(Cdr).where(Cdr.issue_key == issue_key))
    ).scalar_one_or_none()


async def _issue(
    unit: Unit,
    tx: Transaction,
    *,
    kind: str,
    issue_key: str,
    now: datetime,
    config: CdrConfig,
    replaces: str | None = None,
    reason: str | None = None,
) -> Cdr:
    built, resolved = await _build(unit.session, tx, new_cdr_id(), now, config)
    if built.documents["2.3.0"] is None:
        raise InvalidInput(f"transaction {tx.id}: the CDR cannot be written as OCPI 2.3.0")
    start = tx.started_at or tx.created_at
    row = _row(
        built,
        tx,
        resolved,
        kind=kind,
        issue_key=issue_key,
        now=now,
        seg_start=start,
        seg_end=max(tx.stopped_at or now, start),
    )
    row.replaces_cdr_id = replaces
    row.reason = reason
    unit.session.add(row)
    await unit.session.flush()
    await _store_cost(
        unit,
        tx,
        RunningCost(
            built.currency, built.total.excl, built.total.incl, built.total_energy_kwh * 1000, now
        ),
        tariff_record_id=row.tariff_record_id,
        as_of=row.end_date_time,
        final=True,
    )
    unit.add_event(_issued(row))
    return row


def _issued(row: Cdr) -> CdrIssued:
    return CdrIssued(
        cdr_id=row.cdr_id,
        transaction_pk=row.transaction_pk,
        station_id=row.station_id,
        currency=row.currency,
        total_excl=row.total_excl,
        total_incl=row.total_incl,
        credit=row.credit,
    )


# ---------------------------------------------------------------------------- use cases


async def issue_cdr(
    unit: Unit, *, transaction_pk: int, now: datetime, config: CdrConfig | None = None
) -> CdrView:
    """The CDR of an ended transaction, issued once (idempotent)."""
    existing = await _find(unit.session, f"tx:{transaction_pk}")
    if existing is not None:
        return view_of(existing)
    tx = await unit.session.get(Transaction, transaction_pk)
    if tx is None:
        raise NotFound(f"transaction {transaction_pk} not found")
    if tx.state == ACTIVE:
        raise Conflict(f"transaction {transaction_pk} has not ended")
    row = await _issue(
        unit,
        tx,
        kind=KIND_ORIGINAL,
        issue_key=f"tx:{transaction_pk}",
        now=now,
        config=config or CdrConfig(),
    )
    return view_of(row)


async def credit_cdr(
    unit: Unit,
    *,
    cdr_id: str,
    reason: str,
    reissue: bool = False,
    now: datetime,
    config: CdrConfig | None = None,
) -> tuple[CdrView, CdrView | None]:
    """Credit a CDR (and with ``reissue`` issue its correction from today's data)."""
    session = unit.session
    original = await _get(session, cdr_id)
    if original.credit:
        raise Conflict(f"CDR {cdr_id} is a credit CDR: it cannot be credited")
    if await _find(session, f"credit:{cdr_id}") is not None:
        raise Conflict(f"CDR {cdr_id} is already credited")
    credit_id = f"{cdr_id}-C"
    docs: dict[OcpiVersion, str | None] = {}
    sources: tuple[tuple[OcpiVersion, str | None], ...] = (
        ("2.2.1", original.ocpi_221),
        ("2.3.0", original.ocpi_230),
    )
    for version, text in sources:
        if text is None:
            docs[version] = None
            continue
        doc = json.loads(text, parse_float=Decimal)
        docs[version] = dumps_exact(
            credit_document(doc, credit_id=credit_id, issued_at=now, remark=reason)
        )
    negated = negate_amount(Amount(original.total_excl, original.total_incl))
    credit = Cdr(
        cdr_id=credit_id,
        issue_key=f"credit:{cdr_id}",
        kind=KIND_CREDIT,
        transaction_pk=original.transaction_pk,
        station_id=original.station_id,
        transaction_id=original.transaction_id,
        evse_id=original.evse_id,
        connector_id=original.connector_id,
        credit=True,
        credit_reference_id=cdr_id,
        reason=reason,
        currency=original.currency,
        start_date_time=original.start_date_time,
        end_date_time=original.end_date_time,
        total_excl=negated.excl,
        total_incl=negated.incl,
        total_energy_kwh=original.total_energy_kwh,
        total_time_h=original.total_time_h,
        total_parking_h=original.total_parking_h,
        tariff_record_id=original.tariff_record_id,
        tariff_id=original.tariff_id,
        ocpi_221=docs["2.2.1"],
        ocpi_230=docs["2.3.0"] or "{}",
        explanation=(
            f"Credit CDR {credit_id} of CDR {cdr_id}, issued {now.isoformat()}: {reason}\n"
            f"total_cost is the original's negated: {negated.excl} excl. / {negated.incl} incl. "
            f"{original.currency}.\n\nThe credited CDR's explanation:\n{original.explanation}"
        ),
        issued_at=now,
    )
    session.add(credit)
    await session.flush()
    unit.add_event(_issued(credit))
    correction = None
    if reissue:
        tx = await session.get(Transaction, original.transaction_pk)
        if tx is None or tx.state == ACTIVE:
            raise Conflict(f"transaction {original.transaction_pk} cannot be priced again")
        row = await _issue(
            unit,
            tx,
            kind=KIND_CORRECTION,
            issue_key=f"reissue:{cdr_id}",
            now=now,
            config=config or CdrConfig(),
            replaces=cdr_id,
            reason=reason,
        )
        correction = view_of(row)
    return view_of(credit), correction


async def _get(session: AsyncSession, cdr_id: str) -> Cdr:
    row = (await session.execute(select(Cdr).where(Cdr.cdr_id == cdr_id))).scalar_one_or_none()
    if row is None:
        raise NotFound(f"CDR {cdr_id} not found")
    return row


async def get_cdr(unit: Unit, cdr_id: str) -> CdrView:
    return view_of(await _get(unit.session, cdr_id))


async def cdr_document(unit: Unit, cdr_id: str, version: OcpiVersion) -> str:
    """The OCPI CDR exactly as issued, JSON text."""
    row = await _get(unit.session, cdr_id)
    text = row.ocpi_221 if version == "2.2.1" else row.ocpi_230
    if text is None:
        raise InvalidInput(
            f"CDR {cdr_id} has no OCPI {version} form (its tariff's prices include taxes or "
            "the before-tax amount is unknown)",
            details={"field": "version"},
        )
    return text


async def cdr_explanation(unit: Unit, cdr_id: str) -> str:
    return (await _get(unit.session, cdr_id)).explanation


def _conditions(
    station_id: str | None,
    date_from: datetime | None,
    date_to: datetime | None,
    transaction_pk: int | None,
    credit: bool | None,
) -> list[Any]:
    conds: list[Any] = []
    if station_id is not None:
        conds.append(Cdr.station_id == station_id)
    if date_from is not None:
        conds.append(Cdr.issued_at >= date_from)
    if date_to is not None:
        conds.append(Cdr.issued_at < date_to)
    if transaction_pk is not None:
        conds.append(Cdr.transaction_pk == transaction_pk)
    if credit is not None:
        conds.append(Cdr.credit == credit)
    return conds


async def list_cdrs(
    unit: Unit,
    *,
    station_id: str | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    transaction_pk: int | None = None,
    credit: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[CdrView]:
    """CDRs issued in ``[date_from, date_to)`` (``issued_at``, OCPI's ``last_updated``), oldest
    first, so a paged crawl while CDRs are being issued sees each once."""
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise InvalidInput(f"limit must be 1..{MAX_LIMIT} and offset >= 0")
    conds = _conditions(station_id, date_from, date_to, transaction_pk, credit)
    total = await unit.session.scalar(select(func.count(Cdr.id)).where(*conds))
    rows = await unit.session.scalars(
        select(Cdr).where(*conds).order_by(Cdr.issued_at, Cdr.id).limit(limit).offset(offset)
    )
    return Page([view_of(r) for r in rows], int(total or 0), limit, offset)


async def export_rows(
    unit: Unit,
    *,
    station_id: str | None,
    date_from: datetime | None,
    date_to: datetime | None,
    after_id: int,
    chunk: int,
) -> Sequence[Cdr]:
    """A chunk of CDR rows for an export, by internal id after ``after_id``."""
    conds = _conditions(station_id, date_from, date_to, None, None)
    rows = await unit.session.scalars(
        select(Cdr).where(*conds, Cdr.id > after_id).order_by(Cdr.id).limit(chunk)
    )
    return list(rows)


# --------------------------------------------------------------------------- running cost


async def running_cost(session: AsyncSession, transaction_pk: int) -> RunningCost | None:
    """The latest running cost of a transaction (final once its CDR is issued); None when
    nothing was priced yet."""
    row = await session.get(SessionCost, transaction_pk)
    if row is None:
        return None
    return RunningCost(row.currency, row.total_excl, row.total_incl, row.energy_wh, row.updated_at)


async def has_final_cost(session: AsyncSession, transaction_pk: int) -> bool:
    row = await session.get(SessionCost, transaction_pk)
    return row is not None and row.final


async def _store_cost(
    unit: Unit,
    tx: Transaction,
    cost: RunningCost,
    *,
    tariff_record_id: int | None,
    as_of: datetime,
    final: bool,
) -> bool:
    """Upsert the session's cost; True (and SessionCostUpdated) when it changed."""
    row = await unit.session.get(SessionCost, tx.id)
    if row is None:
        row = SessionCost(transaction_pk=tx.id, station_id=tx.station_id)
        unit.session.add(row)
    elif row.final and not final:
        return False
    changed = (row.currency, row.total_excl, row.total_incl, row.energy_wh, row.final) != (
        cost.currency,
        cost.total_excl,
        cost.total_incl,
        cost.energy_wh,
        final,
    )
    row.currency = cost.currency
    row.total_excl, row.total_incl, row.energy_wh = cost.total_excl, cost.total_incl, cost.energy_wh
    row.tariff_record_id = tariff_record_id
    row.as_of = as_of
    row.final = final
    row.updated_at = cost.updated_at
    if changed:
        unit.add_event(
            SessionCostUpdated(
                transaction_pk=tx.id,
                station_id=tx.station_id,
                currency=cost.currency,
                total_excl=cost.total_excl,
                total_incl=cost.total_incl,
                energy_wh=cost.energy_wh,
                at=cost.updated_at,
            )
        )
    return changed


async def update_running_cost(
    unit: Unit, *, transaction_pk: int, now: datetime, config: CdrConfig | None = None
) -> RunningCost | None:
    """Price the session as far as the station has reported it (up to its latest reading or
    state change) and store it. A session whose CDR is issued keeps its final cost."""
    session = unit.session
    cfg = config or CdrConfig()
    tx = await session.get(Transaction, transaction_pk)
    if tx is None:
        return None
    stored = await session.get(SessionCost, transaction_pk)
    if stored is not None and stored.final:
        return await running_cost(session, transaction_pk)
    start = tx.started_at or tx.created_at
    gathered = await _gather(session, tx, tx.stopped_at or now, cfg)
    as_of = tx.stopped_at or max(gathered.data.last_data_at or start, start)
    seg = gathered.segmentation(as_of)
    resolved = gathered.resolved
    cost = RunningCost(cfg.default_currency, Decimal(0), Decimal(0), seg.energy_wh, now)
    record_id = None
    if resolved is not None:
        try:
            priced = price_session(resolved.tariff, seg.usage(), gathered.time_zone)
        except InvalidInput:
            priced = None
        if priced is not None:
            record_id = resolved.record_id
            cost = replace(
                cost,
                currency=priced.currency,
                total_excl=priced.total.excl,
                total_incl=priced.total.incl,
            )
    await _store_cost(unit, tx, cost, tariff_record_id=record_id, as_of=as_of, final=False)
    return cost
