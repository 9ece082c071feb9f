"""OCPI Session objects (2.2.1 and 2.3.0) from Borne's transactions.

Two layers: :func:`load_facts` reads what a session is made of (the transaction, its location
and EVSE, its running cost, its CDR once issued); :func:`session_document` and
:func:`session_patch` are pure and write the OCPI object of a version from those facts.

Decisions (docs/ocpi.md repeats them):

* ``id`` is the transaction's primary key as text: stable, unique across stations and OCPP
  versions, and known without any extra table (the CDR's ``session_id`` is the same value).
* ``country_code``/``party_id``: Borne's CPO identity (settings ``ocpi_country_code`` /
  ``ocpi_party_id``).
* ``cdr_token``: the partner's token as the partner gave it (resolved once when the session is
  first seen, kept in ``roaming_sessions``); for Borne's own tokens, Borne's party and the type
  from the OCPP id token type (RFID for ISO 14443/15693, EMAID for eMAID (APP_USER in 2.2.1),
  AD_HOC_USER for NoAuthorization, else OTHER).
* ``status``: ACTIVE until the transaction's CDR is issued, then COMPLETED with the CDR's
  ``charging_periods``, ``total_cost`` and ``total_energy``, so the last state of the session
  and the CDR always agree. Charging periods of a running session are left out (optional in
  OCPI, and a PATCH would append them: they are sent once, complete, with COMPLETED).
* ``kwh``/``total_cost`` of a running session: the stored running cost (``session_costs``);
  no ``total_cost`` before the first pricing or when the price before taxes is unknown.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from borne.cdrs import service as cdrs
from borne.cdrs.models import Cdr
from borne.cdrs.sources import meter_id
from borne.locations import service as locations
from borne.ocpi.envelope import ocpi_datetime
from borne.roaming.sessions_models import RoamingSession
from borne.tariffs import Amount
from borne.transactions.models import Transaction

ACTIVE = "ACTIVE"
COMPLETED = "COMPLETED"
_KWH = Decimal("0.0001")
_NA = "#NA"

#: OCPP id token types → OCPI TokenType (a Borne-issued token).
_TOKEN_TYPES = {
    "ISO14443": "RFID",
    "ISO15693": "RFID",
    "NoAuthorization": "AD_HOC_USER",
    "eMAID": "EMAID",
}


@dataclass(frozen=True)
class CpoIdentity:
    """Borne's own OCPI party (the owner of every Session and CDR it serves)."""

    country_code: str
    party_id: str


@dataclass(frozen=True)
class TokenOwner:
    """The partner token a session runs on, and how it was authorized."""

    partner_id: int
    country_code: str
    party_id: str
    uid: str
    type: str  # OCPI TokenType
    contract_id: str
    auth_method: str  # AUTH_REQUEST | COMMAND | WHITELIST
    authorization_reference: str | None = None


class TokenOwnerResolver(Protocol):
    """Which partner owns the token of a transaction (None: one of Borne's own tokens).

    Wired by the composition to the tokens module (partner tokens, real-time authorizations
    and START_SESSION commands with their ``authorization_reference``)."""

    async def owner_of(self, session: AsyncSession, tx: Transaction) -> TokenOwner | None: ...


class NoRoamingTokens:
    """Every token is Borne's own (no tokens module wired)."""

    async def owner_of(self, session: AsyncSession, tx: Transaction) -> TokenOwner | None:
        return None


def session_id_of(transaction_pk: int) -> str:
    return str(transaction_pk)


def transaction_pk_of(session_id: str) -> int | None:
    """The transaction of a session id, None when it cannot be one of Borne's."""
    if not session_id.isdigit() or len(session_id) > 18:
        return None
    return int(session_id)


def local_cdr_token(
    id_token: str | None, id_token_type: str | None, cpo: CpoIdentity
) -> dict[str, str]:
    """The CdrToken of a Borne-issued token (its party is Borne's); the type is fixed per
    version by :func:`session_document`."""
    uid = (id_token or "UNKNOWN")[:36]
    return {
        "country_code": cpo.country_code,
        "party_id": cpo.party_id,
        "uid": uid,
        "type": _TOKEN_TYPES.get(id_token_type or "", "OTHER"),
        "contract_id": uid,
    }


def owner_cdr_token(owner: TokenOwner) -> dict[str, str]:
    return {
        "country_code": owner.country_code,
        "party_id": owner.party_id,
        "uid": owner.uid[:36],
        "type": owner.type,
        "contract_id": owner.contract_id[:36],
    }


@dataclass(frozen=True)
class SessionFacts:
    """Everything a Session object is written from (version-independent)."""

    session_id: str
    cpo: CpoIdentity
    start: datetime
    end: datetime | None
    kwh: Decimal
    cdr_token: Mapping[str, str]
    auth_method: str
    location_id: str
    evse_uid: str
    connector_id: str
    currency: str
    status: str
    last_updated: datetime
    authorization_reference: str | None = None
    meter_id: str | None = None
    total_cost: Amount | None = None
    #: OCPI ChargingPeriod objects (JSON-ready), sent only with COMPLETED.
    charging_periods: Sequence[Mapping[str, Any]] = field(default_factory=tuple)


# ----------------------------------------------------------------------------- pure writers

#: Keys whose values are OCPI DateTimes, at any depth of a CDR (periods, tariffs, ...).
DATETIME_KEYS = frozenset({"start_date_time", "end_date_time", "last_updated", "timestamp"})


def _wire_datetime(text: str) -> str:
    try:
        return ocpi_datetime(datetime.fromisoformat(text))
    except ValueError:
        return text  # not a date: left as it is


def wire_datetimes(value: Any) -> Any:
    """``value`` with every DateTime (by key, at any depth) as Borne writes them (UTC, whole
    seconds, ``Z``). Stored CDR documents keep the stations' sub-second stamps, longer than
    the DateTime type's 25 characters (microseconds make 27)."""
    if isinstance(value, list):
        return [wire_datetimes(v) for v in value]
    if not isinstance(value, dict):
        return value
    return {
        key: _wire_datetime(item)
        if key in DATETIME_KEYS and isinstance(item, str)
        else wire_datetimes(item)
        for key, item in value.items()
    }


def _number(value: Decimal) -> float:
    # JSON numbers for the envelope (orjson) and the outbox; 4 decimals is below any meter's
    # resolution and below a cent, and float keeps such short decimals exact when printed.
    return float(value.quantize(_KWH, rounding=ROUND_HALF_UP))


def price(amount: Amount | None, version: str) -> dict[str, Any] | None:
    """An OCPI Price of the version, None when the amount before taxes is unknown."""
    if amount is None or amount.excl is None:
        return None
    if version == "2.2.1":
        out: dict[str, Any] = {"excl_vat": _number(amount.excl)}
        if amount.incl is not None:
            out["incl_vat"] = _number(amount.incl)
        return out
    taxes: list[dict[str, Any]] = []
    if amount.incl is not None and amount.incl != amount.excl:
        taxes.append({"name": "VAT", "amount": _number(amount.incl - amount.excl)})
    return {"before_taxes": _number(amount.excl), "taxes": taxes}


def _token(token: Mapping[str, str], version: str) -> dict[str, str]:
    out = dict(token)
    if version == "2.2.1" and out.get("type") == "EMAID":
        out["type"] = "APP_USER"  # 2.2.1 has no EMAID token type
    return out


def session_document(facts: SessionFacts, version: str) -> dict[str, Any]:
    """The full OCPI Session object of ``version`` (what a PUT and a GET carry)."""
    doc: dict[str, Any] = {
        "country_code": facts.cpo.country_code,
        "party_id": facts.cpo.party_id,
        "id": facts.session_id,
        "start_date_time": ocpi_datetime(facts.start),
    }
    if facts.end is not None:
        doc["end_date_time"] = ocpi_datetime(facts.end)
    doc.update(
        kwh=_number(facts.kwh),
        cdr_token=_token(facts.cdr_token, version),
        auth_method=facts.auth_method,
    )
    if facts.authorization_reference:
        doc["authorization_reference"] = facts.authorization_reference[:36]
    doc.update(
        location_id=facts.location_id[:36],
        evse_uid=facts.evse_uid[:36],
        connector_id=facts.connector_id[:36],
    )
    if facts.meter_id:
        doc["meter_id"] = facts.meter_id[:255]
    doc["currency"] = facts.currency
    if facts.charging_periods:
        doc["charging_periods"] = [dict(p) for p in facts.charging_periods]
    cost = price(facts.total_cost, version)
    if cost is not None:
        doc["total_cost"] = cost
    doc["status"] = facts.status
    doc["last_updated"] = ocpi_datetime(facts.last_updated)
    return doc


#: What each PATCH of the push carries (``last_updated`` always).
PROGRESS_FIELDS = ("kwh", "currency", "total_cost")
ENDED_FIELDS = ("end_date_time", "kwh", "currency", "total_cost")
COMPLETED_FIELDS = ("end_date_time", "kwh", "currency", "charging_periods", "total_cost", "status")


def session_patch(facts: SessionFacts, version: str, fields: Sequence[str]) -> dict[str, Any]:
    """A SessionPatch with ``fields`` (those the session has) and ``last_updated``."""
    full = session_document(facts, version)
    out = {name: full[name] for name in fields if name in full}
    out["last_updated"] = full["last_updated"]
    return out


# ----------------------------------------------------------------------------- reading facts


@dataclass(frozen=True)
class _Place:
    location_id: str
    evse_uid: str
    connector_id: str


def ocpp_connector(tx: Transaction) -> int | None:
    """The connector within the EVSE (a 1.6 connector N is EVSE N, connector 1)."""
    if tx.ocpp_version.startswith("1.6"):
        return 1 if tx.connector_id else None
    return tx.connector_id


async def _place(session: AsyncSession, tx: Transaction) -> _Place:
    connector = ocpp_connector(tx)
    evse_fallback = f"{tx.station_id}*{_NA if tx.evse_id is None else tx.evse_id}"[:36]
    conn_fallback = _NA if connector is None else str(connector)
    located = await locations.locate_station(session, tx.station_id)
    if located is None:
        # Same fallback as the CDR's CdrLocation, so a session and its CDR name one place.
        return _Place(tx.station_id[:36], evse_fallback, conn_fallback)
    connectors = [
        c for c in await locations.station_connectors(session, tx.station_id)
        if c.evse_id == tx.evse_id
    ]  # fmt: skip
    if not connectors:
        return _Place(located.location_id, evse_fallback, conn_fallback)
    match = next((c for c in connectors if c.connector_id == connector), None)
    if match is None and len(connectors) == 1:
        match = connectors[0]
    return _Place(
        located.location_id,
        connectors[0].evse_uid,
        conn_fallback if match is None else str(match.connector_id),
    )


async def final_cdr(session: AsyncSession, transaction_pk: int) -> Cdr | None:
    """The transaction's current CDR: the latest issued one that is not a credit."""
    return (
        await session.scalars(
            select(Cdr)
            .where(Cdr.transaction_pk == transaction_pk, Cdr.credit.is_(False))
            .order_by(Cdr.issued_at.desc(), Cdr.id.desc())
            .limit(1)
        )
    ).first()


async def load_facts(
    session: AsyncSession,
    tx: Transaction,
    *,
    cpo: CpoIdentity,
    cdr_token: Mapping[str, str],
    auth_method: str,
    authorization_reference: str | None,
    last_updated: datetime,
    default_currency: str = "EUR",
) -> SessionFacts:
    place = await _place(session, tx)
    start = tx.started_at or tx.created_at
    common: dict[str, Any] = {
        "session_id": session_id_of(tx.id),
        "cpo": cpo,
        "start": start,
        "end": tx.stopped_at,
        "cdr_token": cdr_token,
        "auth_method": auth_method,
        "authorization_reference": authorization_reference,
        "location_id": place.location_id,
        "evse_uid": place.evse_uid,
        "connector_id": place.connector_id,
        "meter_id": await meter_id(session, tx.station_id),
        "last_updated": last_updated,
    }
    cdr = await final_cdr(session, tx.id)
    if cdr is not None:
        doc = json.loads(cdr.ocpi_230)
        return SessionFacts(
            **common | {"end": tx.stopped_at or cdr.end_date_time},
            kwh=cdr.total_energy_kwh,
            currency=cdr.currency,
            status=COMPLETED,
            total_cost=Amount(cdr.total_excl, cdr.total_incl),
            charging_periods=tuple(wire_datetimes(doc.get("charging_periods") or [])),
        )
    cost = await cdrs.running_cost(session, tx.id)
    energy = cost.energy_wh if cost is not None and cost.energy_wh is not None else Decimal(0)
    return SessionFacts(
        **common,
        kwh=max(energy, Decimal(0)) / 1000,
        currency=default_currency if cost is None else cost.currency,
        status=ACTIVE,
        total_cost=None if cost is None else Amount(cost.total_excl, cost.total_incl),
    )


async def facts_of(
    session: AsyncSession,
    tx: Transaction,
    row: RoamingSession,
    *,
    cpo: CpoIdentity,
    default_currency: str = "EUR",
) -> SessionFacts:
    """The facts of a roaming session (its token and authorization from its row)."""
    return await load_facts(
        session,
        tx,
        cpo=cpo,
        cdr_token=row_cdr_token(row),
        auth_method=row.auth_method,
        authorization_reference=row.authorization_reference,
        last_updated=row.last_updated,
        default_currency=default_currency,
    )


def row_cdr_token(row: RoamingSession) -> dict[str, str]:
    return {
        "country_code": row.token_country_code,
        "party_id": row.token_party_id,
        "uid": row.token_uid,
        "type": row.token_type,
        "contract_id": row.contract_id,
    }
