"""OCPP 1.6 translator of the authorization domain: Authorize (idTag → idTagInfo)."""

from __future__ import annotations

from borne.authorization._answer import authorize, authorize_external
from borne.authorization.config import AuthorizationConfig
from borne.authorization.external import ExternalAuthorizer
from borne.core.deps import Deps
from borne.ocpp.context import CallContext
from borne.ocpp.router import Router
from borne.ocpp.v16 import models as m


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
            answer = await authorize(uow.session, req.id_tag, now=ctx.received_at, config=cfg)
        if not answer.known and external is not None:
            answer = (
                await authorize_external(
                    external,
                    req.id_tag,
                    token_type=None,
                    station_id=ctx.station_id,
                    now=ctx.received_at,
                    config=cfg,
                )
                or answer
            )
        # 1.6 has no master pass: a member would start a transaction on Accepted, and a 1.6
        # station stops another's transaction only for the same parentIdTag (docs/authorization.md).
        status = "Blocked" if answer.master_pass and answer.status == "Accepted" else answer.status
        return m.AuthorizeResponse(
            id_tag_info=m.IdTagInfo(
                status=status,
                expiry_date=answer.cache_expiry,
                # 1.6 IdToken: at most 20 characters; a longer group id cannot be sent.
                parent_id_tag=group
                if (group := answer.group_id_token) and len(group) <= 20
                else None,
            )
        )

    router.register("Authorize", handle_authorize)
