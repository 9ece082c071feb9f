"""The credentials handshake, both ways: registration, rotation / version switch, unregistration.

No database transaction is held while the partner is called: the partner may call Borne back
during the exchange (its versions and details, with the token Borne just offered), and SQLite
has one connection. Each step reads, calls, then writes after checking that nothing changed.

Token rules (R28, R33): token A stays valid until a registration succeeds; on a rotation the old
token stays valid until the partner has been reached with the new credentials; a token Borne
offers to a partner (``pending_token_hash``) is valid while the partner handles the offer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from borne.core.errors import BorneError, Conflict
from borne.ocpi.client import OcpiClient, OcpiClientError
from borne.roaming import partners as svc
from borne.roaming.config import SUPPORTED_VERSIONS, RoamingConfig, RoamingContext
from borne.roaming.events import PartnerRegistered
from borne.roaming.models import Partner
from borne.roaming.partners import PartnerView, RoleSpec
from borne.roaming.schemas import CredentialsIn

logger = logging.getLogger("borne.roaming")


class HandshakeFailed(BorneError):
    """Borne could not use the partner's API; ``ocpi_status`` is the OCPI code to answer."""

    code = "partner_unreachable"
    http_status = 502
    ocpi_status = 3001


class UnsupportedVersion(HandshakeFailed):
    code = "unsupported_version"
    ocpi_status = 3002


class NoMatchingEndpoints(HandshakeFailed):
    code = "no_matching_endpoints"
    ocpi_status = 3003


class WrongState(Conflict):
    """The method does not fit the registration state (OCPI answers HTTP 405)."""

    code = "wrong_partner_state"


@dataclass(frozen=True)
class Offer:
    """A credentials object received from or sent to a partner."""

    token: str
    url: str
    roles: tuple[RoleSpec, ...]


@dataclass(frozen=True)
class Discovery:
    version: str
    endpoints: list[dict[str, str]]


def credentials_object(config: RoamingConfig, token: str) -> dict[str, Any]:
    """Borne's credentials object: its versions URL and its one CPO role."""
    business: dict[str, Any] = {"name": config.business_name}
    if config.business_website:
        business["website"] = config.business_website
    return {
        "token": token,
        "url": config.versions_url,
        "roles": [
            {
                "role": "CPO",
                "business_details": business,
                "party_id": config.party_id,
                "country_code": config.country_code,
            }
        ],
    }


def _version_key(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in version.split("."))
    except ValueError:
        return ()


async def discover(
    client: OcpiClient, versions_url: str, *, token: str, token_base64: bool, version: str | None
) -> Discovery:
    """The partner's endpoints for ``version`` (None: the newest version both sides speak)."""
    try:
        versions = dict(
            await client.fetch_versions(versions_url, token=token, token_base64=token_base64)
        )
    except OcpiClientError as exc:
        raise HandshakeFailed(f"fetching the partner's versions failed: {exc}") from None
    if version is None:
        mutual = sorted(
            (v for v in versions if v in SUPPORTED_VERSIONS), key=_version_key, reverse=True
        )
        version = mutual[0] if mutual else None
    if version is None or version not in versions:
        offered = ", ".join(sorted(versions)) or "none"
        wanted = version or " or ".join(SUPPORTED_VERSIONS)
        raise UnsupportedVersion(f"the partner offers versions {offered}, not {wanted}")
    try:
        endpoints = await client.fetch_endpoints(
            versions[version], token=token, token_base64=token_base64
        )
    except OcpiClientError as exc:
        raise HandshakeFailed(f"fetching the partner's {version} endpoints failed: {exc}") from None
    return Discovery(
        version=version,
        endpoints=[{"identifier": e.identifier, "role": e.role, "url": e.url} for e in endpoints],
    )


async def _note_failure(ctx: RoamingContext, partner_id: int, exc: BorneError) -> None:
    logger.warning("OCPI handshake with partner %s failed: %s", partner_id, exc.message)
    async with ctx.db.unit_of_work() as uow:
        partner = await uow.session.get(Partner, partner_id)
        if partner is not None:
            svc.record_error(partner, exc.message, ctx.clock.now())
            await uow.commit()


@dataclass(frozen=True)
class _Snapshot:
    status: str
    our_token_hash: str | None
    token_base64: bool


async def _snapshot(ctx: RoamingContext, partner_id: int, roles: Sequence[RoleSpec]) -> _Snapshot:
    """The partner as it is now, after checking the announced roles are free."""
    async with ctx.db.unit_of_work() as uow:
        partner = await svc.load(uow.session, partner_id)
        await svc.check_roles_free(uow.session, partner_id=partner_id, roles=roles)
        return _Snapshot(partner.status, partner.our_token_hash, partner.token_base64)


async def accept_offer(
    ctx: RoamingContext, *, partner_id: int, offer: Offer, version: str, registration: bool
) -> str:
    """A partner's POST (``registration``) or PUT at ``version``: answer with a new token C.

    The partner's versions and endpoints are fetched with the token it offers; any failure keeps
    every token as it was (token A for a registration, the current token C for a rotation).
    """
    roles = svc.normalise_roles(offer.roles)
    partner = await _snapshot(ctx, partner_id, roles)
    if registration and partner.status != svc.PENDING:
        raise WrongState("this party is already registered")
    if not registration and partner.status != svc.REGISTERED:
        raise WrongState("this party is not registered")
    try:
        found = await discover(
            ctx.client,
            offer.url,
            token=offer.token,
            token_base64=partner.token_base64,
            version=version,
        )
    except HandshakeFailed as exc:
        await _note_failure(ctx, partner_id, exc)
        raise
    token_c = svc.new_token()
    async with ctx.db.unit_of_work() as uow:
        current = await svc.load(uow.session, partner_id)
        if (current.status, current.our_token_hash) != (partner.status, partner.our_token_hash):
            raise WrongState("the registration changed meanwhile: try again")
        now = ctx.clock.now()
        current.status = svc.REGISTERED
        current.our_token_hash = svc.token_hash(token_c)
        current.pending_token_hash = None
        current.their_token = offer.token
        current.their_versions_url = offer.url
        current.version = found.version
        current.endpoints = found.endpoints
        svc.record_success(current, now)
        await _store_roles(uow.session, partner_id, roles)
        uow.add_event(PartnerRegistered(partner_id))
        await uow.commit()
    logger.info(
        "OCPI partner %s %s at version %s",
        partner_id,
        "registered" if registration else "updated its credentials",
        found.version,
    )
    return token_c


async def _store_roles(session: Any, partner_id: int, roles: Sequence[RoleSpec]) -> None:
    try:
        await svc.check_roles_free(session, partner_id=partner_id, roles=roles)
        await svc.replace_roles(session, partner_id=partner_id, roles=roles)
    except IntegrityError:  # another partner took a role meanwhile
        raise svc.RoleConflict("a role belongs to another partner") from None


async def unregister(ctx: RoamingContext, *, partner_id: int) -> PartnerView:
    """Every token of this partner stops working; its roles are released."""
    async with ctx.db.unit_of_work() as uow:
        partner = await svc.load(uow.session, partner_id)
        if partner.status == svc.UNREGISTERED:
            raise WrongState("this party is not registered")
        partner.status = svc.UNREGISTERED
        partner.our_token_hash = None
        partner.pending_token_hash = None
        partner.their_token = None
        partner.updated_at = ctx.clock.now()
        await svc.replace_roles(uow.session, partner_id=partner_id, roles=())
        view = await svc.view_of(uow.session, partner)
        await uow.commit()
    logger.info("OCPI partner %s unregistered", partner_id)
    return view


def offer_of(body: CredentialsIn) -> Offer:
    return Offer(
        token=body.token,
        url=body.url,
        roles=tuple(
            RoleSpec(
                r.country_code,
                r.party_id,
                r.role,
                r.business_details.model_dump(mode="json", exclude_none=True),
            )
            for r in body.roles
        ),
    )


def parse_offer(data: Any) -> Offer:
    """A partner's credentials object from a reply (``HandshakeFailed`` when unusable)."""
    try:
        body = CredentialsIn.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise HandshakeFailed(f"the partner answered invalid credentials: {problems}") from None
    return offer_of(body)


async def _offer_to_partner(
    ctx: RoamingContext,
    *,
    partner_id: int,
    method: str,
    versions_url: str,
    token: str,
    token_base64: bool,
    version: str | None,
) -> None:
    """Send Borne's credentials (POST or PUT) with a fresh token for the partner to use.

    The fresh token is valid (as ``pending_token_hash``) while the partner handles the request,
    since it calls Borne's versions with it; it replaces Borne's token only on success.
    """
    offered = svc.new_token()
    async with ctx.db.unit_of_work() as uow:
        partner = await svc.load(uow.session, partner_id)
        partner.pending_token_hash = svc.token_hash(offered)
        await uow.commit()
    try:
        found = await discover(
            ctx.client, versions_url, token=token, token_base64=token_base64, version=version
        )
        target = next((e["url"] for e in found.endpoints if e["identifier"] == "credentials"), None)
        if target is None:
            raise NoMatchingEndpoints(f"the partner has no credentials endpoint in {found.version}")
        try:
            reply = await ctx.client.request(
                method,
                target,
                token=token,
                token_base64=token_base64,
                json=credentials_object(ctx.config, offered),
            )
        except OcpiClientError as exc:
            raise HandshakeFailed(f"{method} to the partner's credentials failed: {exc}") from None
        answer = parse_offer(reply.data)
        roles = svc.normalise_roles(answer.roles)
    except BorneError as exc:
        await _drop_offer(ctx, partner_id, offered, exc)
        raise
    async with ctx.db.unit_of_work() as uow:
        partner = await svc.load(uow.session, partner_id)
        if partner.pending_token_hash != svc.token_hash(offered):
            raise WrongState("another registration of this partner ran meanwhile")
        partner.status = svc.REGISTERED
        partner.our_token_hash = partner.pending_token_hash
        partner.pending_token_hash = None
        partner.their_token = answer.token
        partner.their_versions_url = answer.url
        partner.version = found.version
        partner.endpoints = found.endpoints
        svc.record_success(partner, ctx.clock.now())
        await _store_roles(uow.session, partner_id, roles)
        uow.add_event(PartnerRegistered(partner_id))
        await uow.commit()


async def _drop_offer(ctx: RoamingContext, partner_id: int, offered: str, exc: BorneError) -> None:
    """The offer failed: the offered token dies, the previous one stays (R33)."""
    logger.warning("OCPI credentials offer to partner %s failed: %s", partner_id, exc.message)
    async with ctx.db.unit_of_work() as uow:
        partner = await svc.load(uow.session, partner_id)
        if partner.pending_token_hash == svc.token_hash(offered):
            partner.pending_token_hash = None
        svc.record_error(partner, exc.message, ctx.clock.now())
        await uow.commit()


async def register_with(
    ctx: RoamingContext, *, partner_id: int, versions_url: str, token_a: str
) -> PartnerView:
    """Borne registers with a partner, given its versions URL and the token A it handed out."""
    async with ctx.db.unit_of_work() as uow:
        partner = await svc.load(uow.session, partner_id)
        if partner.status not in (svc.PENDING, svc.UNREGISTERED):
            raise WrongState(f"partner {partner_id} is {partner.status}")
        token_base64 = partner.token_base64
    await _offer_to_partner(
        ctx,
        partner_id=partner_id,
        method="POST",
        versions_url=versions_url,
        token=token_a,
        token_base64=token_base64,
        version=None,
    )
    logger.info("Borne registered with OCPI partner %s", partner_id)
    async with ctx.db.unit_of_work() as uow:
        return await svc.get_partner(uow, partner_id=partner_id)


async def update_with(
    ctx: RoamingContext, *, partner_id: int, version: str | None = None
) -> PartnerView:
    """Borne's PUT: new token for the partner, their endpoints refetched, optional version switch.

    ``version`` None keeps the current version if the partner still offers it.
    """
    async with ctx.db.unit_of_work() as uow:
        partner = await svc.load(uow.session, partner_id)
        if partner.status != svc.REGISTERED or not partner.their_token:
            raise WrongState(f"partner {partner_id} is {partner.status}")
        token, url = partner.their_token, partner.their_versions_url or ""
        token_base64, current = partner.token_base64, partner.version
    await _offer_to_partner(
        ctx,
        partner_id=partner_id,
        method="PUT",
        versions_url=url,
        token=token,
        token_base64=token_base64,
        version=version or current,
    )
    async with ctx.db.unit_of_work() as uow:
        return await svc.get_partner(uow, partner_id=partner_id)
