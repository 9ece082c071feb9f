"""Token decisions, token CRUD, and Authorize for both versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from borne.authorization import ocpp_v16, ocpp_v201, service
from borne.authorization.config import AuthorizationConfig
from borne.core.deps import Deps
from borne.core.errors import Conflict, InvalidInput, NotFound
from borne.ocpp.context import CallContext, StationSessionState
from borne.ocpp.router import Router
from borne.ocpp.versions import OcppVersion

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


class DummyConnection:
    station_id = "CP-1"
    ocpp_version = "ocpp1.6"

    async def call(self, action: str, payload: Any, *, timeout: float | None = None) -> Any:
        raise AssertionError("no CSMS call expected")

    async def close(self, code: int = 1000, reason: str = "") -> None:
        return None


async def add(deps: Deps, id_token: str, **kwargs: Any) -> None:
    async with deps.db.unit_of_work() as uow:
        await service.create_id_token(uow, id_token=id_token, now=NOW, **kwargs)
        await uow.commit()


async def seed(deps: Deps) -> None:
    await add(deps, "GROUP-1", type="Central")
    await add(deps, "04A2B3C4", group_id_token="GROUP-1", expiry_date=NOW + timedelta(days=1))
    await add(deps, "BLOCKED", status="Blocked")
    await add(deps, "OLD", expiry_date=NOW - timedelta(seconds=1))


async def verdict(deps: Deps, id_token: str) -> service.TokenVerdict:
    async with deps.db.unit_of_work() as uow:
        return await service.check_token(uow.session, id_token, now=NOW)


async def test_check_token_statuses(deps: Deps) -> None:
    await seed(deps)
    ok = await verdict(deps, "04A2B3C4")
    assert ok == service.TokenVerdict("Accepted", NOW + timedelta(days=1), "GROUP-1")
    assert (await verdict(deps, "04a2b3c4")).status == "Accepted"  # case-insensitive
    assert (await verdict(deps, "BLOCKED")).status == "Blocked"
    assert (await verdict(deps, "OLD")).status == "Expired"
    assert (await verdict(deps, "UNKNOWN")) == service.TokenVerdict("Invalid", None, None)
    assert (await verdict(deps, "")).status == "Invalid"
    assert (await verdict(deps, "x" * 300)).status == "Invalid"


async def test_check_token_runs_in_a_group_commit_batch(deps: Deps) -> None:
    await seed(deps)

    async def work(batch: Any) -> str:
        return (await service.check_token(batch.session, "04A2B3C4", now=NOW)).status

    assert await deps.committer.submit(work) == "Accepted"


async def test_token_crud(deps: Deps) -> None:
    await seed(deps)
    with pytest.raises(Conflict):
        await add(deps, "04a2b3c4")
    for bad in [{"id_token": ""}, {"id_token": "x" * 256}, {"id_token": "A", "status": "Meh"},
                {"id_token": "A", "type": "RFID"}, {"id_token": "A\n"},
                {"id_token": "A", "expiry_date": datetime(2030, 1, 1)}]:  # fmt: skip
        with pytest.raises(InvalidInput):
            await add(deps, **bad)
    async with deps.db.unit_of_work() as uow:
        token = await service.update_id_token(
            uow, id_token="04a2b3c4", now=NOW, status="Blocked", expiry_date=None, label="Ann"
        )
        await uow.commit()
    assert (token.status, token.expiry_date, token.label) == ("Blocked", None, "Ann")
    assert token.group_id_token == "GROUP-1"  # not given: unchanged
    async with deps.db.unit_of_work() as uow:
        got = await service.get_id_token(uow, id_token="04A2B3C4")
        page = await service.list_id_tokens(uow, limit=2)
        blocked = await service.list_id_tokens(uow, status="Blocked")
        members = await service.list_id_tokens(uow, group_id_token="GROUP-1")
    assert got.label == "Ann"
    assert page.total == 4 and [t.id_token for t in page.items] == ["GROUP-1", "04A2B3C4"]
    assert {t.id_token for t in blocked.items} == {"04A2B3C4", "BLOCKED"}
    assert [t.id_token for t in members.items] == ["04A2B3C4"]
    async with deps.db.unit_of_work() as uow:
        await service.delete_id_token(uow, id_token="BLOCKED")
        await uow.commit()
    assert (await verdict(deps, "BLOCKED")).status == "Invalid"
    async with deps.db.unit_of_work() as uow:
        with pytest.raises(NotFound):
            await service.delete_id_token(uow, id_token="BLOCKED")
        with pytest.raises(NotFound):
            await service.update_id_token(uow, id_token="BLOCKED", now=NOW, status="Accepted")


def ctx(version: OcppVersion) -> CallContext:
    return CallContext("CP-1", version, "m1", NOW, DummyConnection(), StationSessionState())


async def authorize(
    deps: Deps, version: OcppVersion, id_token: str, config: AuthorizationConfig | None = None
) -> dict[str, Any]:
    router = Router(version)
    if version is OcppVersion.V16:
        ocpp_v16.register(router, deps, config)
        payload: dict[str, Any] = {"idTag": id_token}
    else:
        ocpp_v201.register(router, deps, config)
        payload = {"idToken": {"idToken": id_token, "type": "ISO14443"}}
    handler = router.handler_for("Authorize")
    assert handler is not None
    response = await handler(ctx(version), router.requests["Authorize"].model_validate(payload))
    return response.to_payload()


async def test_authorize_v16(deps: Deps) -> None:
    await seed(deps)
    info = (await authorize(deps, OcppVersion.V16, "04a2b3c4"))["idTagInfo"]
    assert info["status"] == "Accepted"
    assert info["parentIdTag"] == "GROUP-1"
    assert datetime.fromisoformat(info["expiryDate"]) == NOW + timedelta(days=1)
    for token, status in [("BLOCKED", "Blocked"), ("OLD", "Expired"), ("NOPE", "Invalid")]:
        assert (await authorize(deps, OcppVersion.V16, token))["idTagInfo"]["status"] == status


async def test_authorize_v201(deps: Deps) -> None:
    await seed(deps)
    info = (await authorize(deps, OcppVersion.V201, "04A2B3C4"))["idTokenInfo"]
    assert info["status"] == "Accepted"
    assert info["groupIdToken"] == {"idToken": "GROUP-1", "type": "Central"}
    assert datetime.fromisoformat(info["cacheExpiryDateTime"]) == NOW + timedelta(days=1)
    for token, status in [("BLOCKED", "Blocked"), ("OLD", "Expired"), ("NOPE", "Invalid")]:
        assert (await authorize(deps, OcppVersion.V201, token))["idTokenInfo"]["status"] == status


@pytest.mark.parametrize("version", [OcppVersion.V16, OcppVersion.V201])
async def test_cache_ttl_bounds_the_cache_expiry(deps: Deps, version: OcppVersion) -> None:
    await seed(deps)
    await add(deps, "FOREVER")
    config = AuthorizationConfig(auth_cache_ttl_s=60)
    key = "idTagInfo" if version is OcppVersion.V16 else "idTokenInfo"
    field = "expiryDate" if version is OcppVersion.V16 else "cacheExpiryDateTime"
    info = (await authorize(deps, version, "FOREVER", config))[key]
    assert datetime.fromisoformat(info[field]) == NOW + timedelta(seconds=60)
    assert field not in (await authorize(deps, version, "FOREVER"))[key]
