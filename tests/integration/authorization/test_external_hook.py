"""The external-authorizer hook: consulted only for tokens Borne does not know itself."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from borne.authorization import ocpp_v16, ocpp_v201, service
from borne.authorization.external import ExternalAuthorizerSlot, ExternalVerdict
from borne.core.deps import Deps
from borne.ocpp.context import CallContext, StationSessionState
from borne.ocpp.router import Router
from borne.ocpp.versions import OcppVersion

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


class DummyConnection:
    station_id = "CP-9"
    ocpp_version = "ocpp1.6"

    async def call(self, action: str, payload: Any, *, timeout: float | None = None) -> Any:
        raise AssertionError("no CSMS call expected")

    async def close(self, code: int = 1000, reason: str = "") -> None:
        return None


class Recorder:
    """An external authorizer that records every question and answers a fixed verdict."""

    def __init__(self, verdict: ExternalVerdict | None, *, available: bool = True) -> None:
        self.verdict = verdict
        self.is_available = available
        self.asked: list[tuple[str, str | None, str]] = []
        self.recalled: list[str] = []

    def available(self) -> bool:
        return self.is_available

    async def authorize(
        self,
        id_token: str,
        *,
        token_type: str | None,
        station_id: str,
        evse_id: int | None,
        now: datetime,
    ) -> ExternalVerdict | None:
        self.asked.append((id_token, token_type, station_id))
        return self.verdict

    async def recall(
        self,
        session: AsyncSession,
        id_token: str,
        *,
        station_id: str | None,
        now: datetime,
        decided_only: bool = False,
    ) -> ExternalVerdict | None:
        self.recalled.append(id_token)
        return self.verdict


async def authorize(
    deps: Deps, version: OcppVersion, id_token: str, external: Recorder | None
) -> dict[str, Any]:
    router = Router(version)
    if version is OcppVersion.V16:
        ocpp_v16.register(router, deps, None, external)
        payload: dict[str, Any] = {"idTag": id_token}
        key = "idTagInfo"
    else:
        ocpp_v201.register(router, deps, None, external)
        payload = {"idToken": {"idToken": id_token, "type": "ISO15693"}}
        key = "idTokenInfo"
    handler = router.handler_for("Authorize")
    assert handler is not None
    ctx = CallContext("CP-9", version, "m1", NOW, DummyConnection(), StationSessionState())
    response = await handler(ctx, router.requests["Authorize"].model_validate(payload))
    info: dict[str, Any] = response.to_payload()[key]
    return info


async def seed(deps: Deps) -> None:
    async with deps.db.unit_of_work() as uow:
        for token, status in [("LOCAL-OK", "Accepted"), ("LOCAL-BAD", "Invalid")]:
            await service.create_id_token(uow, id_token=token, now=NOW, status=status)
        await uow.commit()


async def test_local_tokens_never_reach_the_hook(deps: Deps) -> None:
    await seed(deps)
    hook = Recorder(ExternalVerdict("Accepted", reference="R"))
    for version in (OcppVersion.V16, OcppVersion.V201):
        assert (await authorize(deps, version, "local-ok", hook))["status"] == "Accepted"
        # A local token stored as Invalid stays Invalid: the partner is not asked.
        assert (await authorize(deps, version, "LOCAL-BAD", hook))["status"] == "Invalid"
    async with deps.db.unit_of_work() as uow:
        v = await service.check_token(uow.session, "LOCAL-BAD", now=NOW, external=hook)
    assert v.status == "Invalid" and v.known
    assert hook.asked == [] and hook.recalled == []


async def test_unknown_token_asks_the_hook_with_type_and_station(deps: Deps) -> None:
    hook = Recorder(ExternalVerdict("Accepted", group_id_token="G-1", reference="REF-1"))
    info = await authorize(deps, OcppVersion.V16, "ROAM-1", hook)
    assert info["status"] == "Accepted" and info["parentIdTag"] == "G-1"
    info = await authorize(deps, OcppVersion.V201, "ROAM-2", hook)
    assert info["status"] == "Accepted"
    assert hook.asked == [("ROAM-1", None, "CP-9"), ("ROAM-2", "ISO15693", "CP-9")]


async def test_hook_without_opinion_or_absent_answers_invalid(deps: Deps) -> None:
    hook = Recorder(None)
    assert (await authorize(deps, OcppVersion.V16, "ROAM-1", hook))["status"] == "Invalid"
    assert (await authorize(deps, OcppVersion.V201, "ROAM-1", None))["status"] == "Invalid"
    blocked = Recorder(ExternalVerdict("Blocked"))
    assert (await authorize(deps, OcppVersion.V201, "ROAM-1", blocked))["status"] == "Blocked"


async def test_check_token_recalls_only_for_unknown_tokens(deps: Deps) -> None:
    await seed(deps)
    hook = Recorder(ExternalVerdict("Accepted", reference="REF-9"))
    async with deps.db.unit_of_work() as uow:
        local = await service.check_token(uow.session, "LOCAL-OK", now=NOW, external=hook)
        roaming = await service.check_token(
            uow.session, "ROAM-9", now=NOW, external=hook, station_id="CP-9"
        )
        plain = await service.check_token(uow.session, "ROAM-9", now=NOW)
    assert local.status == "Accepted" and local.reference is None
    assert roaming.status == "Accepted" and roaming.reference == "REF-9" and roaming.known
    assert plain.status == "Invalid" and not plain.known
    assert hook.recalled == ["ROAM-9"]


async def test_slot_delegates_once_set(deps: Deps) -> None:
    slot = ExternalAuthorizerSlot()
    assert (
        await slot.authorize("X", token_type=None, station_id="CP", evse_id=None, now=NOW) is None
    )
    target = Recorder(ExternalVerdict("Expired"))
    slot.set(target)
    assert slot.target is target
    verdict = await slot.authorize("X", token_type=None, station_id="CP", evse_id=None, now=NOW)
    assert verdict == ExternalVerdict("Expired")
    async with deps.db.unit_of_work() as uow:
        assert await slot.recall(uow.session, "X", station_id=None, now=NOW) is not None
    slot.set(None)
    async with deps.db.unit_of_work() as uow:
        assert await slot.recall(uow.session, "X", station_id=None, now=NOW) is None


async def test_an_unavailable_hook_is_never_asked(deps: Deps) -> None:
    """No partner registered: unknown tokens are Invalid at once, without any lookup (the OCPP
    hot path of a CSMS without roaming pays nothing)."""
    hook = Recorder(ExternalVerdict("Accepted", reference="R"), available=False)
    for version in (OcppVersion.V16, OcppVersion.V201):
        assert (await authorize(deps, version, "ROAM-1", hook))["status"] == "Invalid"
    async with deps.db.unit_of_work() as uow:
        v = await service.check_token(uow.session, "ROAM-1", now=NOW, external=hook)
    assert v.status == "Invalid"
    assert hook.asked == [] and hook.recalled == []
