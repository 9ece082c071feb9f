"""The version-agnostic part of an Authorize answer, shared by both translators."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from borne.authorization.config import AuthorizationConfig
from borne.authorization.service import TokenStatus, check_token, find_token


@dataclass(frozen=True)
class AuthorizeAnswer:
    status: TokenStatus
    cache_expiry: datetime | None
    group_id_token: str | None
    group_type: str | None  # the group token's own type when Borne knows it


async def authorize(
    session: AsyncSession,
    id_token: str,
    *,
    now: datetime,
    config: AuthorizationConfig,
    with_group_type: bool = False,
) -> AuthorizeAnswer:
    verdict = await check_token(session, id_token, now=now)
    expiry = verdict.expiry_date
    if config.auth_cache_ttl_s is not None:
        limit = now + timedelta(seconds=config.auth_cache_ttl_s)
        expiry = limit if expiry is None else min(expiry, limit)
    group_type = None
    if with_group_type and verdict.group_id_token is not None:
        group = await find_token(session, verdict.group_id_token)
        group_type = None if group is None else group.type
    return AuthorizeAnswer(
        status=cast(TokenStatus, verdict.status),
        cache_expiry=expiry,
        group_id_token=verdict.group_id_token,
        group_type=group_type,
    )
