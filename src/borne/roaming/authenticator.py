"""Who is calling Borne's OCPI API: a partner found by the hash of its token (R28).

A partner suspended or unregistered has no valid token. A token sent raw (not base64) is
accepted only from partners configured with ``accept_raw_tokens``.
"""

from __future__ import annotations

from collections.abc import Sequence

from borne.core.uow import Database
from borne.ocpi.headers import Routing
from borne.ocpi.outbox import ResolvedTarget
from borne.ocpi.party import Party, PartyRole
from borne.roaming import partners as svc


class DbPartyAuthenticator:
    """``borne.ocpi.party.PartyAuthenticator`` backed by the partners table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def authenticate(self, tokens: Sequence[str]) -> Party | None:
        if not tokens:
            return None
        async with self._db.unit_of_work() as uow:
            found = await svc.find_by_tokens(uow.session, tokens)
            if found is None:
                return None
            partner, token = found
            if partner.status not in (svc.PENDING, svc.REGISTERED):
                return None
            # ``token_candidates`` lists the base64-decoded form (when there is one) first and
            # the header value as sent last: a match on the last one is a raw token.
            if token == tokens[-1] and not partner.accept_raw_tokens:
                return None
            roles = await svc.roles_of(uow.session, partner.id)
            # Built inside the unit of work: leaving it rolls back and expires the row.
            return Party(
                partner_id=partner.id,
                name=partner.name,
                roles=tuple(PartyRole(r.country_code, r.party_id, r.role) for r in roles),
                registered=partner.status == svc.REGISTERED,
                version=partner.version,
                token_base64=partner.token_base64,
            )


class PartnerEndpointResolver:
    """``borne.ocpi.outbox.EndpointResolver``: where and how the sender reaches a partner.

    Resolved at send time, so a credentials update moves pending pushes to the new endpoints
    and token. Routing headers go to the partner's eMSP role (else its first role).
    """

    def __init__(self, db: Database, *, country_code: str, party_id: str) -> None:
        self._db = db
        self._country_code = country_code
        self._party_id = party_id

    async def resolve(self, partner_id: int, module: str, interface: str) -> ResolvedTarget | None:
        async with self._db.unit_of_work() as uow:
            link = await svc.get_link(uow, partner_id=partner_id)
        if link is None:
            return None
        url = link.endpoint(module, interface)
        if url is None:
            return None
        to = next(
            (r for r in link.roles if r.role == "EMSP"), link.roles[0] if link.roles else None
        )
        routing = Routing(
            to_country_code=to.country_code if to else None,
            to_party_id=to.party_id if to else None,
            from_country_code=self._country_code,
            from_party_id=self._party_id,
        )
        return ResolvedTarget(
            url=url, token=link.token, token_base64=link.token_base64, routing=routing
        )
