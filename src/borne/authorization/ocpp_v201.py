"""OCPP 2.0.1 translator of the authorization domain: Authorize (idToken → idTokenInfo).

Certificate-based authorization (``certificate``, ``iso15118CertificateHashData``) is not
checked here: Plug & Charge belongs to the certificates domain; only the id token is decided.
"""

from __future__ import annotations

from typing import cast

from borne.authorization._answer import authorize, authorize_external
from borne.authorization.config import AuthorizationConfig
from borne.authorization.external import ExternalAuthorizer
from borne.core.deps import Deps
from borne.ocpp.context import CallContext
from borne.ocpp.router import Router
from borne.ocpp.v201 import models as m


def register(
    router: Router,
    deps: Deps,
    config: AuthorizationConfig | None = None,
    external: ExternalAuthorizer | None = None,
) -> None:
    """``external``: asked (outside the unit of work) about tokens unknown locally."""
    cfg = config or AuthorizationConfig()

    async def handle_authorize(ctx: CallContext, req: m.AuthorizeRequest) -> m.AuthorizeResponse:
        async with deps.db.unit_of_work() as uow:
            answer = await authorize(
                uow.session,
                req.id_token.id_token,
                now=ctx.received_at,
                config=cfg,
                with_group_type=True,
            )
        if not answer.known and external is not None:
            answer = (
                await authorize_external(
                    external,
                    req.id_token.id_token,
                    token_type=req.id_token.type,
                    station_id=ctx.station_id,
                    now=ctx.received_at,
                    config=cfg,
                )
                or answer
            )
        group = None
        # 2.0.1 idToken: at most 36 characters; a longer group id cannot be sent.
        if answer.group_id_token is not None and len(answer.group_id_token) <= 36:
            group = m.IdTokenType(
                id_token=answer.group_id_token,
                type=cast(m.IdTokenEnumType, answer.group_type or "Central"),
            )
        message = None
        if answer.personal_message:
            message = m.MessageContentType(
                format="UTF8",
                language=answer.personal_message_language,
                content=answer.personal_message,
            )
        # A master pass member is Accepted with the master pass group as its groupIdToken: a
        # station whose MasterPassGroupId is that group lets it stop transactions, never start
        # one (C16); docs/authorization.md.
        return m.AuthorizeResponse(
            id_token_info=m.IdTokenInfoType(
                status=answer.status,
                cache_expiry_date_time=answer.cache_expiry,
                group_id_token=group,
                language1=answer.language1,
                personal_message=message,
            )
        )

    router.register("Authorize", handle_authorize)
