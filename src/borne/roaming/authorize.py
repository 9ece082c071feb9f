"""Real-time authorization of partners' tokens (OCPI Tokens, CPO side of ``POST .../authorize``).

``RealtimeAuthorizer`` is the authorization domain's ``ExternalAuthorizer``: Borne asks it only
about tokens it does not know locally. Decisions (OCPI WhitelistType):

============== ============================ ==================================================
whitelist       asks the eMSP                when the eMSP does not answer (network, timeout,
                                             HTTP 5xx, OCPI 3xxx, any other error)
============== ============================ ==================================================
ALWAYS          never                        — (``valid`` of the stored token decides)
ALLOWED         yes                          ``valid`` of the stored token
ALLOWED_OFFLINE yes                          allowed when the stored token is ``valid``
NEVER           yes                          refused
============== ============================ ==================================================

An answer decides: ALLOWED → Accepted, BLOCKED → Blocked, EXPIRED → Expired, NO_CREDIT and
NOT_ALLOWED → Invalid (OCPP 1.6 has no finer status); 404 / 2004 (token unknown to the eMSP)
→ Invalid.

A token nobody pushed (typically an RFID of an eMSP that only authorizes in real time): the
uid alone does not say who owns it, so every registered partner with an EMSP role and a tokens
SENDER endpoint is asked, in parallel, within one deadline (at most ``max_partners``); the first
ALLOWED wins and the others are cancelled. Without ALLOWED, the first definite refusal is the
answer, else Invalid. An OCPP ``eMAID`` whose prefix names a partner's EMSP role (``NL-TNM-…``)
goes to that partner only. ``NoAuthorization`` tokens are never sent. Each decision is stored
in ``roaming_authorizations`` (with the ``authorization_reference``) for StartTransaction /
TransactionEvent (``recall``) and for sessions and CDRs (``owner_of``).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from borne.authorization.external import ExternalStatus, ExternalVerdict
from borne.authorization.service import token_key
from borne.core.uow import Database
from borne.locations import service as locations
from borne.locations.models import EvseDescriptor
from borne.ocpi import status as ocpi_status
from borne.ocpi.client import OcpiClient, OcpiClientError
from borne.ocpi.headers import Routing
from borne.ocpi.versions import OcpiVersion
from borne.roaming import partners
from borne.roaming.sessions import TokenOwner
from borne.roaming.tokens_models import RoamingAuthorization, RoamingToken
from borne.transactions.models import Transaction

log = logging.getLogger(__name__)

_STATUS: dict[str, ExternalStatus] = {
    "ALLOWED": "Accepted",
    "BLOCKED": "Blocked",
    "EXPIRED": "Expired",
    "NO_CREDIT": "Invalid",
    "NOT_ALLOWED": "Invalid",
}
_UNKNOWN = "UNKNOWN"
_NO_ANSWER = "NO_ANSWER"
_EMAID = re.compile(r"^([A-Za-z]{2})-?([A-Za-z0-9]{3})")
# OCPP IdTokenEnumType → OCPI TokenType asked for (1.6 idTags carry no type: RFID).
_OCPI_TYPES = {"ISO14443": "RFID", "ISO15693": "RFID", "Central": "APP_USER", "eMAID": "EMAID"}

# (station_id, evse_id) → LocationReferences body, None when the station has no location.
LocationRefs = Callable[[str, int | None], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True)
class AuthorizerConfig:
    country_code: str  # Borne's own party, sent as OCPI-from-* routing headers
    party_id: str
    timeout_s: float = 5.0  # the whole real-time round, all partners together
    ask_unknown: bool = True  # ask partners about tokens nobody pushed
    max_partners: int = 8
    # How long a decision stands for the transaction that follows it (recall).
    remember_s: int = 600


@dataclass(frozen=True)
class _Target:
    partner_id: int
    url: str
    token: str
    token_base64: bool
    version: str
    country_code: str | None
    party_id: str | None


@dataclass(frozen=True)
class _Reply:
    target: _Target
    allowed: str | None  # AllowedType; None: no usable answer (see ``unknown``)
    unknown: bool = False  # 404 / 2004
    reference: str | None = None
    token: dict[str, Any] | None = None


def ocpi_type(token_type: str | None, version: str) -> str:
    """The OCPI TokenType for an OCPP id token type (EMAID exists from 2.3.0 only)."""
    mapped = _OCPI_TYPES.get(token_type or "ISO14443", "OTHER")
    if mapped == "EMAID" and version == OcpiVersion.V221:
        return "OTHER"
    return mapped


class RealtimeAuthorizer:
    def __init__(
        self,
        db: Database,
        client: OcpiClient,
        config: AuthorizerConfig,
        *,
        location_refs: LocationRefs | None = None,
        available: Callable[[], bool] | None = None,
    ) -> None:
        self._db = db
        self._client = client
        self._config = config
        self._location_refs = location_refs
        self._available = available

    def available(self) -> bool:
        """False while no partner is registered (``available`` wired to the push journal's
        flag): the OCPP hot path then asks nothing."""
        return self._available is None or self._available()

    # --- ExternalAuthorizer ---------------------------------------------------------------

    async def authorize(
        self,
        id_token: str,
        *,
        token_type: str | None,
        station_id: str,
        evse_id: int | None,
        now: datetime,
    ) -> ExternalVerdict | None:
        if token_type == "NoAuthorization" or not 1 <= len(id_token) <= 36:
            return None  # an OCPI token uid is at most 36 characters
        async with self._db.unit_of_work() as uow:
            stored = await _stored(uow.session, id_token, ocpi_type(token_type, "2.3.0"))
            links = await partners.registered_links(uow)
            if stored is not None:  # read after the unit of work, during the network round
                uow.session.expunge(stored)
        body = await self._location_refs(station_id, evse_id) if self._location_refs else None
        if stored is not None:
            verdict, row = await self._for_stored(stored, links, body, now)
        else:
            targets = self._unknown_targets(links, id_token, token_type)
            if not targets or not self._config.ask_unknown:
                return None
            verdict, row = await self._for_unknown(targets, id_token, token_type, body, now)
        row.station_id, row.evse_id = station_id, evse_id
        row.location_id = None if body is None else str(body.get("location_id"))[:36]
        async with self._db.unit_of_work() as uow:
            uow.session.add(row)
            await uow.commit()
        return verdict

    async def recall(
        self,
        session: AsyncSession,
        id_token: str,
        *,
        station_id: str | None,
        now: datetime,
        decided_only: bool = False,
    ) -> ExternalVerdict | None:
        """The latest decision still standing, else what a stored whitelist allows offline
        (with ``decided_only``: only an ALWAYS whitelist, which is never asked about)."""
        key = token_key(id_token)
        query = select(RoamingAuthorization).where(
            RoamingAuthorization.token_uid_key == key, RoamingAuthorization.expires_at > now
        )
        if station_id is not None:
            query = query.where(RoamingAuthorization.station_id == station_id)
        query = query.order_by(
            RoamingAuthorization.decided_at.desc(), RoamingAuthorization.id.desc()
        )
        seen = await session.scalar(query.limit(1))
        if seen is not None:
            return ExternalVerdict(
                _status_of(seen.result, seen.allowed), reference=seen.authorization_reference
            )
        stored = await _stored(session, id_token, None)
        if stored is None or stored.whitelist == "NEVER":
            return None
        if decided_only and stored.whitelist != "ALWAYS":
            return None
        return ExternalVerdict(
            "Accepted" if stored.valid else "Invalid", group_id_token=stored.group_id
        )

    # --- TokenOwnerResolver (sessions and CDRs) --------------------------------------------

    async def owner_of(self, session: AsyncSession, tx: Transaction) -> TokenOwner | None:
        return await owner_of(session, tx, remember_s=self._config.remember_s)

    # --- decisions -----------------------------------------------------------------------

    async def _for_stored(
        self,
        stored: RoamingToken,
        links: Sequence[partners.PartnerLink],
        body: dict[str, Any] | None,
        now: datetime,
    ) -> tuple[ExternalVerdict, RoamingAuthorization]:
        group = stored.group_id
        if stored.whitelist == "ALWAYS":
            status: ExternalStatus = "Accepted" if stored.valid else "Invalid"
            result = "ALLOWED" if stored.valid else "NOT_ALLOWED"
            row = self._row(stored.uid, stored.type, result, "whitelist", now, stored=stored)
            return ExternalVerdict(status, group_id_token=group), row
        link = next((lk for lk in links if lk.partner_id == stored.partner_id), None)
        target = None if link is None else _target(link, stored.country_code, stored.party_id)
        reply = None
        if target is not None:
            try:
                async with asyncio.timeout(self._config.timeout_s):
                    reply = await self._ask(target, stored.uid, stored.type, body)
            except TimeoutError:
                reply = None
        if reply is not None and (reply.allowed is not None or reply.unknown):
            result = reply.allowed or _UNKNOWN
            status = _status_of(result, result == "ALLOWED")
            row = self._row(stored.uid, stored.type, result, "realtime", now, stored=stored)
            row.authorization_reference = reply.reference
            # A NEVER token must be asked again next time: no station-side caching.
            expiry = now if stored.whitelist == "NEVER" else None
            return ExternalVerdict(status, expiry, group, reply.reference), row
        # No answer: the whitelist type says what happens offline.
        allowed = stored.whitelist in ("ALLOWED", "ALLOWED_OFFLINE") and stored.valid
        result = "ALLOWED" if allowed else _NO_ANSWER
        row = self._row(stored.uid, stored.type, result, "offline", now, stored=stored)
        return ExternalVerdict("Accepted" if allowed else "Invalid", now, group), row

    def _unknown_targets(
        self, links: Sequence[partners.PartnerLink], id_token: str, token_type: str | None
    ) -> list[_Target]:
        owner = _EMAID.match(id_token) if token_type == "eMAID" else None
        targets: list[_Target] = []
        for link in links:
            emsp = [r for r in link.roles if r.role == "EMSP"]
            if not emsp or link.endpoint("tokens", "SENDER") is None:
                continue
            if owner is not None:
                cc, pid = owner.group(1).upper(), owner.group(2).upper()
                match = [
                    r for r in emsp if (r.country_code.upper(), r.party_id.upper()) == (cc, pid)
                ]
                if match:
                    return [t for t in [_target(link, cc, pid)] if t is not None]
            found = _target(link, emsp[0].country_code, emsp[0].party_id)
            if found is not None:
                targets.append(found)
        return targets[: self._config.max_partners]

    async def _for_unknown(
        self,
        targets: list[_Target],
        id_token: str,
        token_type: str | None,
        body: dict[str, Any] | None,
        now: datetime,
    ) -> tuple[ExternalVerdict, RoamingAuthorization]:
        tasks = [
            asyncio.create_task(self._ask(t, id_token, ocpi_type(token_type, t.version), body))
            for t in targets
        ]
        replies: list[_Reply] = []
        winner: _Reply | None = None
        try:
            async with asyncio.timeout(self._config.timeout_s):
                for next_done in asyncio.as_completed(tasks):
                    reply = await next_done
                    replies.append(reply)
                    if reply.allowed == "ALLOWED":
                        winner = reply
                        break
        except TimeoutError:
            pass
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if winner is None:  # the first definite refusal, in partner order
            refusals = [r for r in replies if r.allowed is not None]
            winner = min(refusals, key=lambda r: targets.index(r.target), default=None)
        asked_type = ocpi_type(token_type, "2.3.0")
        if winner is None:
            result = _UNKNOWN if replies and all(r.unknown for r in replies) else _NO_ANSWER
            row = self._row(id_token, asked_type, result, "realtime", now)
            return ExternalVerdict("Invalid", now), row
        assert winner.allowed is not None
        token = winner.token or {}
        row = self._row(
            id_token, str(token.get("type") or asked_type), winner.allowed, "realtime", now
        )
        row.partner_id = winner.target.partner_id
        row.country_code = _text(token.get("country_code"), 2) or winner.target.country_code
        row.party_id = _text(token.get("party_id"), 3) or winner.target.party_id
        row.contract_id = _text(token.get("contract_id"), 36)
        row.authorization_reference = winner.reference
        status = _status_of(winner.allowed, winner.allowed == "ALLOWED")
        group = _text(token.get("group_id"), 36)
        return ExternalVerdict(status, None, group, winner.reference), row

    async def _ask(
        self, target: _Target, uid: str, token_type: str, body: dict[str, Any] | None
    ) -> _Reply:
        url = f"{target.url.rstrip('/')}/{quote(uid, safe='')}/authorize"
        routing = Routing(
            to_country_code=target.country_code,
            to_party_id=target.party_id,
            from_country_code=self._config.country_code,
            from_party_id=self._config.party_id,
        )
        try:
            reply = await self._client.request(
                "POST",
                url,
                token=target.token,
                token_base64=target.token_base64,
                json=body,
                params={"type": token_type},
                routing=routing,
            )
        except OcpiClientError as exc:
            unknown = exc.status_http == 404 or exc.status_code == ocpi_status.UNKNOWN_TOKEN
            if not unknown:
                log.warning(
                    "real-time authorization failed at partner %s: %s", target.partner_id, exc
                )
            return _Reply(target, None, unknown=unknown)
        data = reply.data if isinstance(reply.data, dict) else {}
        allowed = data.get("allowed")
        if allowed not in _STATUS:
            log.warning("partner %s answered an authorization without 'allowed'", target.partner_id)
            return _Reply(target, None)
        token = data.get("token") if isinstance(data.get("token"), dict) else None
        return _Reply(
            target, allowed, reference=_text(data.get("authorization_reference"), 36), token=token
        )

    def _row(
        self,
        uid: str,
        token_type: str,
        result: str,
        source: str,
        now: datetime,
        *,
        stored: RoamingToken | None = None,
    ) -> RoamingAuthorization:
        return RoamingAuthorization(
            partner_id=None if stored is None else stored.partner_id,
            country_code=None if stored is None else stored.country_code,
            party_id=None if stored is None else stored.party_id,
            token_uid=uid,
            token_uid_key=token_key(uid),
            token_type=token_type,
            contract_id=None if stored is None else stored.contract_id,
            station_id="",
            result=result,
            allowed=result == "ALLOWED",
            source=source,
            decided_at=now,
            expires_at=now + timedelta(seconds=self._config.remember_s),
        )


def _status_of(result: str, allowed: bool) -> ExternalStatus:
    if allowed:
        return "Accepted"
    return _STATUS.get(result, "Invalid") if result != "ALLOWED" else "Invalid"


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _target(
    link: partners.PartnerLink, country_code: str | None, party_id: str | None
) -> _Target | None:
    url = link.endpoint("tokens", "SENDER")
    if url is None:
        return None
    return _Target(
        link.partner_id, url, link.token, link.token_base64, link.version, country_code, party_id
    )


async def _stored(
    session: AsyncSession, id_token: str, ocpi_token_type: str | None
) -> RoamingToken | None:
    """The pushed token with this uid: of the asked type first, else the newest of any type."""
    if not 1 <= len(id_token) <= 36:
        return None
    rows = list(
        await session.scalars(
            select(RoamingToken)
            .where(RoamingToken.uid_key == token_key(id_token))
            .order_by(RoamingToken.last_updated.desc(), RoamingToken.id.desc())
            .limit(8)
        )
    )
    exact = [r for r in rows if r.type == ocpi_token_type]
    best = exact or rows
    return best[0] if best else None


async def find_authorization(
    session: AsyncSession,
    *,
    station_id: str,
    id_token: str,
    at: datetime,
    transaction_id: str | None = None,
    remember_s: int = 600,
) -> RoamingAuthorization | None:
    """The latest allowed decision for this token at this station before ``at`` (a session's
    start), within ``remember_s``, not yet used by another transaction: what a session and its
    CDR copy the reference from."""
    free: ColumnElement[bool] = RoamingAuthorization.transaction_id.is_(None)
    if transaction_id is not None:
        free = or_(free, RoamingAuthorization.transaction_id == transaction_id)
    row: RoamingAuthorization | None = await session.scalar(
        select(RoamingAuthorization)
        .where(
            free,
            RoamingAuthorization.station_id == station_id,
            RoamingAuthorization.token_uid_key == token_key(id_token),
            RoamingAuthorization.allowed.is_(True),
            RoamingAuthorization.decided_at <= at + timedelta(minutes=5),  # station clock skew
            RoamingAuthorization.decided_at >= at - timedelta(seconds=remember_s),
        )
        .order_by(RoamingAuthorization.decided_at.desc(), RoamingAuthorization.id.desc())
        .limit(1)
    )
    return row


#: How a decision's source shows in a session's ``auth_method``; "command": START_SESSION.
_AUTH_METHODS = {"realtime": "AUTH_REQUEST", "command": "COMMAND"}


async def owner_of(
    session: AsyncSession, tx: Transaction, *, remember_s: int = 600
) -> TokenOwner | None:
    """The partner token of a transaction: its real-time authorization, else a pushed token."""
    if not tx.id_token or tx.id_token_type == "NoAuthorization":
        return None
    at = tx.started_at or tx.created_at
    auth = await find_authorization(
        session,
        station_id=tx.station_id,
        id_token=tx.id_token,
        at=at,
        transaction_id=tx.transaction_id,
        remember_s=remember_s,
    )
    if auth is not None and auth.partner_id is not None and auth.country_code and auth.party_id:
        if auth.transaction_id is None:
            auth.transaction_id = tx.transaction_id  # pinned: later lookups agree
        return TokenOwner(
            partner_id=auth.partner_id,
            country_code=auth.country_code,
            party_id=auth.party_id,
            uid=auth.token_uid,
            type=auth.token_type,
            contract_id=auth.contract_id or auth.token_uid,
            auth_method=_AUTH_METHODS.get(auth.source, "WHITELIST"),
            authorization_reference=auth.authorization_reference,
        )
    stored = await _stored(session, tx.id_token, None)
    if stored is None:
        return None
    return TokenOwner(
        partner_id=stored.partner_id,
        country_code=stored.country_code,
        party_id=stored.party_id,
        uid=stored.uid,
        type=stored.type,
        contract_id=stored.contract_id,
        auth_method="WHITELIST",
    )


def db_location_refs(db: Database) -> LocationRefs:
    """LocationReferences from Borne's locations: the station's location and the EVSE's uid."""

    async def refs(station_id: str, evse_id: int | None) -> dict[str, Any] | None:
        async with db.unit_of_work() as uow:
            place = await locations.locate_station(uow.session, station_id)
            if place is None:
                return None
            body: dict[str, Any] = {"location_id": place.location_id}
            if evse_id is not None:
                evse = await uow.session.get(EvseDescriptor, (station_id, evse_id))
                if evse is not None:
                    body["evse_uids"] = [evse.evse_uid]
            return body

    return refs
