"""Partner use cases: create (token A), read, settings, suspend, health, roles and lookups.

Writes take a unit of work and never commit. Views never carry a token (R27): the only token
that leaves this module is a freshly generated one, returned once to the caller that made it.
:class:`PartnerLink` (with the token Borne sends) is for outbound code, never for API answers.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from borne.core.errors import Conflict, InvalidInput, NotFound
from borne.roaming.events import PartnerRegistered
from borne.roaming.models import Partner, PartnerRole

PENDING = "pending"
REGISTERED = "registered"
SUSPENDED = "suspended"
UNREGISTERED = "unregistered"

ROLES = frozenset({"CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP"})
_MAX_ERROR = 500


class Unit(Protocol):
    @property
    def session(self) -> AsyncSession: ...

    def add_event(self, event: object) -> None: ...


class RoleConflict(Conflict):
    code = "role_conflict"


def new_token() -> str:
    """A credentials token: 43 url-safe characters (256 random bits), valid OCPI token text."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RoleSpec:
    country_code: str
    party_id: str
    role: str
    business_details: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.country_code.upper(), self.party_id.upper(), self.role)


@dataclass(frozen=True)
class EndpointView:
    identifier: str
    role: str
    url: str


@dataclass(frozen=True)
class PartnerView:
    """What an operator sees of a partner: never a token."""

    id: int
    name: str
    status: str
    version: str | None
    their_versions_url: str | None
    endpoints: tuple[EndpointView, ...]
    roles: tuple[RoleSpec, ...]
    token_base64: bool
    accept_raw_tokens: bool
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class PartnerLink:
    """What outbound code needs to call a registered partner. Holds a secret: never log it."""

    partner_id: int
    version: str
    token: str = field(repr=False)
    token_base64: bool
    endpoints: tuple[EndpointView, ...]
    roles: tuple[RoleSpec, ...]

    def endpoint(self, module: str, interface: str) -> str | None:
        """The URL of the partner's ``module`` for ``interface`` (SENDER/RECEIVER), if any."""
        for e in self.endpoints:
            if e.identifier == module and e.role == interface:
                return e.url
        return None


def endpoints_of(partner: Partner) -> tuple[EndpointView, ...]:
    return tuple(
        EndpointView(identifier=str(e["identifier"]), role=str(e["role"]), url=str(e["url"]))
        for e in partner.endpoints or []
    )


async def roles_of(session: AsyncSession, partner_id: int) -> tuple[RoleSpec, ...]:
    rows = await session.scalars(
        select(PartnerRole)
        .where(PartnerRole.partner_id == partner_id)
        .order_by(PartnerRole.country_code, PartnerRole.party_id, PartnerRole.role)
    )
    return tuple(
        RoleSpec(r.country_code, r.party_id, r.role, dict(r.business_details or {})) for r in rows
    )


async def view_of(session: AsyncSession, partner: Partner) -> PartnerView:
    return PartnerView(
        id=partner.id,
        name=partner.name,
        status=partner.status,
        version=partner.version,
        their_versions_url=partner.their_versions_url,
        endpoints=endpoints_of(partner),
        roles=await roles_of(session, partner.id),
        token_base64=partner.token_base64,
        accept_raw_tokens=partner.accept_raw_tokens,
        last_success_at=partner.last_success_at,
        last_error=partner.last_error,
        last_error_at=partner.last_error_at,
        created_at=partner.created_at,
        updated_at=partner.updated_at,
    )


async def load(session: AsyncSession, partner_id: int) -> Partner:
    partner = await session.get(Partner, partner_id)
    if partner is None:
        raise NotFound(f"no partner {partner_id}", details={"partner_id": partner_id})
    return partner


def _name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise InvalidInput("a partner name has 1 to 100 characters")
    return name


async def create_partner(
    uow: Unit,
    *,
    name: str,
    now: datetime,
    token_base64: bool = True,
    accept_raw_tokens: bool = False,
) -> tuple[PartnerView, str]:
    """A pending partner and its token A, returned here once and stored only as a hash."""
    token_a = new_token()
    partner = Partner(
        name=_name(name),
        status=PENDING,
        our_token_hash=token_hash(token_a),
        endpoints=[],
        token_base64=token_base64,
        accept_raw_tokens=accept_raw_tokens,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(partner)
    await uow.session.flush()
    return await view_of(uow.session, partner), token_a


async def list_partners(uow: Unit) -> list[PartnerView]:
    partners = await uow.session.scalars(select(Partner).order_by(Partner.id))
    return [await view_of(uow.session, p) for p in partners]


async def get_partner(uow: Unit, *, partner_id: int) -> PartnerView:
    return await view_of(uow.session, await load(uow.session, partner_id))


async def update_partner(
    uow: Unit,
    *,
    partner_id: int,
    now: datetime,
    name: str | None = None,
    token_base64: bool | None = None,
    accept_raw_tokens: bool | None = None,
) -> PartnerView:
    partner = await load(uow.session, partner_id)
    if name is not None:
        partner.name = _name(name)
    if token_base64 is not None:
        partner.token_base64 = token_base64
    if accept_raw_tokens is not None:
        partner.accept_raw_tokens = accept_raw_tokens
    partner.updated_at = now
    await uow.session.flush()
    return await view_of(uow.session, partner)


async def set_suspended(
    uow: Unit, *, partner_id: int, suspended: bool, now: datetime
) -> PartnerView:
    """Suspend (every token refused, nothing sent) or resume a partner."""
    partner = await load(uow.session, partner_id)
    if suspended:
        if partner.status == UNREGISTERED:
            raise Conflict("an unregistered partner cannot be suspended")
        partner.status = SUSPENDED
    elif partner.status == SUSPENDED:
        partner.status = REGISTERED if partner.their_token else PENDING
        if partner.status == REGISTERED:
            uow.add_event(PartnerRegistered(partner.id))
    partner.updated_at = now
    await uow.session.flush()
    return await view_of(uow.session, partner)


async def reissue_token_a(uow: Unit, *, partner_id: int, now: datetime) -> tuple[PartnerView, str]:
    """A new token A for a partner that is not registered (lost token, re-registration)."""
    partner = await load(uow.session, partner_id)
    if partner.status not in (PENDING, UNREGISTERED):
        raise Conflict(f"partner {partner_id} is {partner.status}: unregister it first")
    token_a = new_token()
    partner.status = PENDING
    partner.our_token_hash = token_hash(token_a)
    partner.pending_token_hash = None
    partner.their_token = None
    partner.updated_at = now
    await uow.session.flush()
    return await view_of(uow.session, partner), token_a


def record_success(partner: Partner, now: datetime) -> None:
    partner.last_success_at = now
    partner.updated_at = now


def record_error(partner: Partner, message: str, now: datetime) -> None:
    partner.last_error = message[:_MAX_ERROR]
    partner.last_error_at = now
    partner.updated_at = now


async def note_success(uow: Unit, *, partner_id: int, now: datetime) -> None:
    """For outbound code: the partner answered a request successfully."""
    record_success(await load(uow.session, partner_id), now)


async def note_error(uow: Unit, *, partner_id: int, message: str, now: datetime) -> None:
    """For outbound code: a request to the partner failed (``message`` must hold no token)."""
    record_error(await load(uow.session, partner_id), message, now)


def normalise_roles(roles: Iterable[RoleSpec]) -> list[RoleSpec]:
    """Upper-case ids (OCPI CiString), known roles only, each (country, party, role) once."""
    out: list[RoleSpec] = []
    seen: set[tuple[str, str, str]] = set()
    for r in roles:
        spec = RoleSpec(r.country_code.upper(), r.party_id.upper(), r.role, r.business_details)
        if spec.role not in ROLES:
            raise InvalidInput(f"unknown role {r.role!r}")
        if spec.key in seen:
            raise InvalidInput(f"role {'/'.join(spec.key)} is listed twice")
        seen.add(spec.key)
        out.append(spec)
    if not out:
        raise InvalidInput("a partner announces at least one role")
    return out


async def check_roles_free(
    session: AsyncSession, *, partner_id: int, roles: Sequence[RoleSpec]
) -> None:
    """Raise :class:`RoleConflict` when another partner already holds one of ``roles``."""
    for spec in roles:
        owner = await session.scalar(
            select(PartnerRole.partner_id).where(
                PartnerRole.country_code == spec.country_code,
                PartnerRole.party_id == spec.party_id,
                PartnerRole.role == spec.role,
                PartnerRole.partner_id != partner_id,
            )
        )
        if owner is not None:
            raise RoleConflict(
                f"role {'/'.join(spec.key)} belongs to another partner",
                details={"role": "/".join(spec.key)},
            )


async def replace_roles(
    session: AsyncSession, *, partner_id: int, roles: Sequence[RoleSpec]
) -> None:
    await session.execute(delete(PartnerRole).where(PartnerRole.partner_id == partner_id))
    for spec in roles:
        session.add(
            PartnerRole(
                partner_id=partner_id,
                country_code=spec.country_code,
                party_id=spec.party_id,
                role=spec.role,
                business_details=spec.business_details,
            )
        )
    await session.flush()


async def find_by_tokens(
    session: AsyncSession, tokens: Sequence[str]
) -> tuple[Partner, str] | None:
    """The partner one of ``tokens`` belongs to, with the token that matched."""
    by_hash = {token_hash(t): t for t in tokens if t}
    if not by_hash:
        return None
    partner = await session.scalar(
        select(Partner).where(
            or_(
                Partner.our_token_hash.in_(list(by_hash)),
                Partner.pending_token_hash.in_(list(by_hash)),
            )
        )
    )
    if partner is None:
        return None
    for digest, token in by_hash.items():
        if digest in (partner.our_token_hash, partner.pending_token_hash):
            return partner, token
    return None  # pragma: no cover - the query matched one of the digests


async def get_link(uow: Unit, *, partner_id: int) -> PartnerLink | None:
    """How to reach a registered partner; None when it is not registered (nothing to send)."""
    partner = await uow.session.get(Partner, partner_id)
    if partner is None:
        return None
    return await _link(uow.session, partner)


async def registered_links(uow: Unit) -> list[PartnerLink]:
    """Every registered partner, for pushes (filter with ``link.endpoint(module, interface)``)."""
    partners = await uow.session.scalars(
        select(Partner).where(Partner.status == REGISTERED).order_by(Partner.id)
    )
    links = [await _link(uow.session, p) for p in partners]
    return [link for link in links if link is not None]


async def _link(session: AsyncSession, partner: Partner) -> PartnerLink | None:
    if partner.status != REGISTERED or not partner.their_token or not partner.version:
        return None
    return PartnerLink(
        partner_id=partner.id,
        version=partner.version,
        token=partner.their_token,
        token_base64=partner.token_base64,
        endpoints=endpoints_of(partner),
        roles=await roles_of(session, partner.id),
    )
