"""The version-agnostic part of an Authorize answer, shared by both translators."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from borne.authorization.config import AuthorizationConfig
from borne.authorization.external import ExternalAuthorizer, ExternalVerdict
from borne.authorization.service import TokenStatus, check_token, find_token
from borne.core.uow import Database


@dataclass(frozen=True)
class AuthorizeAnswer:
    status: TokenStatus
    cache_expiry: datetime | None
    group_id_token: str | None
    group_type: str | None  # the group token's own type when Borne knows it
    known: bool = True  # False: no local token; the external authorizer may know it
    reference: str | None = None  # the external authorization's reference, if any
    # 2.0.1 idTokenInfo extras of a local token.
    personal_message: str | None = None
    personal_message_language: str | None = None
    language1: str | None = None
    master_pass: bool = False  # the token's group is a master pass group


def _cache_expiry(
    expiry: datetime | None, now: datetime, config: AuthorizationConfig
) -> datetime | None:
    if config.auth_cache_ttl_s is not None:
        limit = now + timedelta(seconds=config.auth_cache_ttl_s)
        return limit if expiry is None else min(expiry, limit)
    return expiry


async def authorize(
    session: AsyncSession,
    id_token: str,
    *,
    now: datetime,
    config: AuthorizationConfig,
    with_group_type: bool = False,
) -> AuthorizeAnswer:
    verdict = await check_token(session, id_token, now=now)
    expiry = _cache_expiry(verdict.expiry_date, now, config)
    group_type, master_pass = None, False
    if verdict.group_id_token is not None:
        group = await find_token(session, verdict.group_id_token)
        group_type = None if group is None or not with_group_type else group.type
        master_pass = group is not None and bool(group.master_pass)
    token = verdict.token
    return AuthorizeAnswer(
        status=cast(TokenStatus, verdict.status),
        cache_expiry=expiry,
        group_id_token=verdict.group_id_token,
        group_type=group_type,
        known=verdict.known,
        personal_message=None if token is None else token.personal_message,
        personal_message_language=None if token is None else token.personal_message_language,
        language1=None if token is None else token.language1,
        master_pass=master_pass,
    )


async def authorize_external(
    external: ExternalAuthorizer,
    id_token: str,
    *,
    token_type: str | None,
    station_id: str,
    now: datetime,
    config: AuthorizationConfig,
) -> AuthorizeAnswer | None:
    """Ask the external authorizer about a token unknown locally; None: it has no opinion.

    Called outside any unit of work: the answer may take a network round trip.
    """
    if not id_token or not external.available():
        return None
    verdict: ExternalVerdict | None = await external.authorize(
        id_token, token_type=token_type, station_id=station_id, evse_id=None, now=now
    )
    if verdict is None:
        return None
    return AuthorizeAnswer(
        status=verdict.status,
        cache_expiry=_cache_expiry(verdict.expiry_date, now, config),
        group_id_token=verdict.group_id_token,
        group_type=None,
        known=True,
        reference=verdict.reference,
    )


async def pre_authorize(
    db: Database,
    external: ExternalAuthorizer,
    id_token: str,
    *,
    token_type: str | None,
    station_id: str,
    evse_id: int | None,
    now: datetime,
) -> None:
    """Before a transaction's batch: get an external decision for an unknown token.

    A transaction may start without a preceding Authorize (station cache, offline start): the
    batch's ``check_token(..., external=...)`` can only recall stored decisions, so the network
    question is asked here, outside any transaction. Local tokens and tokens with a standing
    decision cost one or two indexed reads and no network.
    """
    if not id_token or token_type == "NoAuthorization" or not external.available():
        return
    async with db.unit_of_work() as uow:
        if await find_token(uow.session, id_token) is not None:
            return
        standing = await external.recall(
            uow.session, id_token, station_id=station_id, now=now, decided_only=True
        )
        if standing is not None and standing.status == "Accepted":
            return  # allowed a moment ago (or always): nothing to ask
    await external.authorize(
        id_token, token_type=token_type, station_id=station_id, evse_id=evse_id, now=now
    )
