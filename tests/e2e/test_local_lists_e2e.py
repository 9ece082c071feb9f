"""Local authorization lists, ClearCache, 2.0.1 idTokenInfo extras and the master pass, end to
end: the ``ocpp`` package's ChargePoints (1.6 and 2.0.1) over real sockets against the real
server, driven through the operator API.

Each station keeps the list it is sent (full, then differential updates) and answers
GetLocalListVersion from it, so the tests see what a real station would hold.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import APIRouter, Depends
from helpers import (
    TIMEOUT,
    BorneServer,
    Station16,
    Station201,
    create_station,
    open_ws,
    unique_id,
)
from ocpp.routing import on
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from borne.api_security import require_api_key
from borne.authorization import local_list_api
from borne.authorization.local_list_sync import LocalListConfig, LocalListSyncer


def _attach(server: BorneServer) -> None:
    """The local-list syncer and routes, unless bootstrap already wires them."""
    runtime = server.runtime
    if getattr(runtime.app.state, "local_lists", None) is not None:
        return
    deps = runtime.deps
    syncer = LocalListSyncer(deps, runtime.outbound, LocalListConfig(poll_interval_s=1))
    syncer.subscribe(deps.bus)
    api = APIRouter(prefix="/api/v1", dependencies=[Depends(require_api_key)])
    api.include_router(local_list_api.build_router(syncer))
    runtime.app.include_router(api)
    runtime.app.state.local_lists = syncer
    deps.supervisor.keep_running(syncer.run, name="local-list-sync")


class _ListKeeper:
    def _init_list(self) -> None:
        self.version = 0
        self.entries: dict[str, Any] = {}
        self.statuses: list[str] = []  # answers to give, in order; then Accepted
        self.updates: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def _apply(self, kw: dict[str, Any], key: str, info: str, version: int) -> dict[str, str]:
        self.updates.put_nowait(kw)
        status = self.statuses.pop(0) if self.statuses else "Accepted"
        if status == "Accepted":
            if kw["update_type"] == "Full":
                self.entries = {}
            for item in kw.get("local_authorization_list") or []:
                value = item[key] if isinstance(item[key], str) else item[key]["id_token"]
                if item.get(info) is None:
                    self.entries.pop(value, None)
                else:
                    self.entries[value] = item[info]
            self.version = version
        return {"status": status}

    async def update(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.updates.get(), TIMEOUT)


class ListStation16(Station16, _ListKeeper):
    def __init__(self, *a: Any) -> None:
        super().__init__(*a)
        self._init_list()

    @on("SendLocalList")
    def on_send_local_list(self, **kw: Any) -> Any:
        from ocpp.v16 import call_result

        return call_result.SendLocalList(
            **self._apply(kw, "id_tag", "id_tag_info", kw["list_version"])
        )

    @on("GetLocalListVersion")
    def on_get_local_list_version(self, **kw: Any) -> Any:
        from ocpp.v16 import call_result

        self._record("GetLocalListVersion", kw)
        return call_result.GetLocalListVersion(list_version=self.version)


class ListStation201(Station201, _ListKeeper):
    def __init__(self, *a: Any) -> None:
        super().__init__(*a)
        self._init_list()

    @on("SendLocalList")
    def on_send_local_list(self, **kw: Any) -> Any:
        from ocpp.v201 import call_result

        return call_result.SendLocalList(
            **self._apply(kw, "id_token", "id_token_info", kw["version_number"])
        )

    @on("GetLocalListVersion")
    def on_get_local_list_version(self, **kw: Any) -> Any:
        from ocpp.v201 import call_result

        self._record("GetLocalListVersion", kw)
        return call_result.GetLocalListVersion(version_number=self.version)


@contextlib.asynccontextmanager
async def _connect(server: BorneServer, station_id: str, cls: type[Any]) -> AsyncIterator[Any]:
    subprotocol = "ocpp1.6" if cls is ListStation16 else "ocpp2.0.1"
    ws = await open_ws(server, station_id, subprotocol)
    cp = cls(station_id, ws)
    task = asyncio.get_running_loop().create_task(cp.start())
    try:
        await cp.boot()
        yield cp
    finally:
        task.cancel()
        await ws.close()
        await asyncio.gather(task, return_exceptions=True)


async def _token(api: httpx.AsyncClient, value: str, **fields: Any) -> None:
    r = await api.post("/id-tokens", json={"id_token": value, **fields})
    assert r.status_code == 201, r.text


async def _settled(api: httpx.AsyncClient, path: str) -> dict[str, Any]:
    """The list state once Borne has recorded the station's answers (nothing pending)."""
    for _ in range(100):
        state: dict[str, Any] = (await api.get(path)).json()
        if not state["pending"]:
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"local list still pending: {state}")


async def _list_round_trip(server: BorneServer, cls: type[Any]) -> None:
    _attach(server)
    station_id = unique_id()
    v16 = cls is ListStation16
    async with server.api() as api:
        await create_station(api, station_id)
        await _token(api, "LOCAL-A", local_list=True)
        await _token(api, "LOCAL-B", local_list=True, group_id_token="FLEET", type="KeyCode")
        await _token(api, "CENTRAL-ONLY")
        async with _connect(server, station_id, cls) as cp:
            base = f"/stations/{station_id}/authorization"
            r = await api.post(f"{base}/local-list/sync", json={})
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "Accepted" and r.json()["full"] is True
            full = await cp.update()
            assert full["update_type"] == "Full"
            assert sorted(cp.entries) == ["LOCAL-A", "LOCAL-B"]
            assert cp.version == r.json()["version"] == 1
            parent = cp.entries["LOCAL-B"]["parent_id_tag" if v16 else "group_id_token"]
            assert (parent if v16 else parent["id_token"]) == "FLEET"

            # A token changes: the station gets a differential update on its own.
            r = await api.patch("/id-tokens/LOCAL-A", json={"status": "Blocked"})
            assert r.status_code == 200, r.text
            diff = await cp.update()
            assert diff["update_type"] == "Differential"
            items = diff["local_authorization_list"]
            assert len(items) == 1 and cp.entries["LOCAL-A"]["status"] == "Blocked"
            assert cp.version == 2

            # Deleted: a differential removal (2.0.1 names the token's type).
            r = await api.delete("/id-tokens/LOCAL-B")
            assert r.status_code == 204, r.text
            removal = (await cp.update())["local_authorization_list"]
            gone = {"id_tag": "LOCAL-B"} if v16 else {"id_token": "LOCAL-B", "type": "KeyCode"}
            assert removal == [gone if v16 else {"id_token": gone}]
            assert sorted(cp.entries) == ["LOCAL-A"] and cp.version == 3

            # Left out of lists (still a token): removed too.
            await _token(api, "LOCAL-D", local_list=True)
            await cp.update()
            r = await api.patch("/id-tokens/LOCAL-D", json={"local_list": False})
            assert r.status_code == 200, r.text
            await cp.update()
            assert sorted(cp.entries) == ["LOCAL-A"] and cp.version == 5

            # The station lost track: VersionMismatch → a full update follows by itself.
            cp.statuses = ["VersionMismatch"]
            await _token(api, "LOCAL-C", local_list=True)
            assert (await cp.update())["update_type"] == "Differential"
            assert (await cp.update())["update_type"] == "Full"
            assert sorted(cp.entries) == ["LOCAL-A", "LOCAL-C"]

            # What Borne keeps matches what the station holds and says.
            state = await _settled(api, f"{base}/local-list")
            assert state["tokens"] == ["LOCAL-A", "LOCAL-C"]
            assert state["version"] == cp.version and state["last_status"] == "Accepted"
            r = await api.get(f"{base}/local-list/station-version")
            assert r.status_code == 200 and r.json()["version"] == cp.version

            r = await api.post(f"{base}/clear-cache")
            assert r.status_code == 200 and r.json()["status"] == "Accepted"
            assert await cp.received("ClearCache") == {}


async def test_v16_local_list_full_then_differential(borne_server: BorneServer) -> None:
    await _list_round_trip(borne_server, ListStation16)


async def test_v201_local_list_full_then_differential(borne_server: BorneServer) -> None:
    await _list_round_trip(borne_server, ListStation201)


async def test_v16_list_limits_from_configuration_chunk_updates(
    borne_server: BorneServer,
) -> None:
    """SendLocalListMaxLength 2, LocalAuthListMaxLength 3: 4 tokens → 3 sent, in 2 messages."""
    _attach(borne_server)
    station_id = unique_id()
    async with borne_server.api() as api:
        await create_station(api, station_id)
        for i in range(4):
            await _token(api, f"CHUNK-{i}", local_list=True)
        async with _connect(borne_server, station_id, ListStation16) as cp:
            cp.answers["GetConfiguration"] = {
                "configuration_key": [
                    {"key": "LocalAuthListMaxLength", "readonly": True, "value": "3"},
                    {"key": "SendLocalListMaxLength", "readonly": True, "value": "2"},
                ]
            }
            base = f"/stations/{station_id}/authorization/local-list"
            r = await api.post(f"{base}/sync", json={"full": True})
            assert r.status_code == 200 and r.json()["messages"] == 2, r.text
            first, second = await cp.update(), await cp.update()
            assert (first["update_type"], second["update_type"]) == ("Full", "Differential")
            assert len(first["local_authorization_list"]) == 2
            assert sorted(cp.entries) == ["CHUNK-0", "CHUNK-1", "CHUNK-2"]
            state = (await api.get(base)).json()
            assert state["truncated"] == 1 and state["max_entries"] == 3


async def test_v201_authorize_personal_message_language_and_master_pass(
    borne_server: BorneServer,
) -> None:
    async with borne_server.api() as api:
        station_id = unique_id()
        await create_station(api, station_id)
        await _token(
            api,
            "DRIVER-1",
            expiry_date="2099-01-01T00:00:00+00:00",
            personal_message="Bonjour Camille",
            personal_message_language="fr",
            language1="fr",
        )
        await _token(api, "POLICE", master_pass=True, type="Central")
        await _token(api, "OFFICER-7", group_id_token="POLICE")
        async with _connect(borne_server, station_id, ListStation201) as cp:
            answer = await cp.call(
                call201.Authorize(id_token={"id_token": "DRIVER-1", "type": "ISO14443"})
            )
            info = answer.id_token_info
            assert info["status"] == "Accepted" and info["language1"] == "fr"
            assert info["cache_expiry_date_time"].startswith("2099-01-01T00:00:00")
            assert info["personal_message"] == {
                "format": "UTF8",
                "language": "fr",
                "content": "Bonjour Camille",
            }
            answer = await cp.call(
                call201.Authorize(id_token={"id_token": "OFFICER-7", "type": "ISO14443"})
            )
            info = answer.id_token_info
            assert info["status"] == "Accepted"
            assert info["group_id_token"] == {"id_token": "POLICE", "type": "Central"}


async def test_v16_master_pass_member_is_not_accepted(borne_server: BorneServer) -> None:
    async with borne_server.api() as api:
        station_id = unique_id()
        await create_station(api, station_id)
        await _token(api, "POLICE", master_pass=True)
        await _token(api, "OFFICER-8", group_id_token="POLICE")
        await _token(api, "MEMBER-9", group_id_token="FLEET")
        async with _connect(borne_server, station_id, ListStation16) as cp:
            officer = await cp.call(call16.Authorize(id_tag="OFFICER-8"))
            member = await cp.call(call16.Authorize(id_tag="MEMBER-9"))
            assert officer.id_tag_info["status"] == "Blocked"
            assert member.id_tag_info == {"status": "Accepted", "parent_id_tag": "FLEET"}


async def test_v201_station_back_after_offline_change_and_lost_list_gets_full_update(
    borne_server: BorneServer,
) -> None:
    """Enabling the list sends it without an explicit sync; a token blocked while the station
    is offline reaches it when it comes back, and since the rebooted station reports version 0
    (it lost its list) the update is a full one."""
    _attach(borne_server)
    station_id = unique_id()
    async with borne_server.api() as api:
        await create_station(api, station_id)
        await _token(api, "OFFLINE-1", local_list=True)
        base = f"/stations/{station_id}/authorization/local-list"
        async with _connect(borne_server, station_id, ListStation201) as cp:
            r = await api.put(base, json={"enabled": True})
            assert r.status_code == 200, r.text
            assert (await cp.update())["update_type"] == "Full"
            state = await _settled(api, base)
            assert cp.version == state["version"] == 1
        r = await api.patch("/id-tokens/OFFLINE-1", json={"status": "Blocked"})
        assert r.status_code == 200
        async with _connect(borne_server, station_id, ListStation201) as cp:
            await cp.received("GetLocalListVersion")
            update = await cp.update()
            assert update["update_type"] == "Full", update
            assert cp.entries["OFFLINE-1"]["status"] == "Blocked"
            assert cp.version == 2


async def test_v16_station_without_local_lists_is_no_longer_kept(
    borne_server: BorneServer,
) -> None:
    _attach(borne_server)
    station_id = unique_id()
    async with borne_server.api() as api:
        await create_station(api, station_id)
        await _token(api, "NOSUP-1", local_list=True)
        base = f"/stations/{station_id}/authorization/local-list"
        async with _connect(borne_server, station_id, ListStation16) as cp:
            cp.statuses = ["NotSupported"]
            r = await api.post(f"{base}/sync", json={})
            assert r.status_code == 200 and r.json()["status"] == "NotSupported", r.text
            assert (await cp.update())["update_type"] == "Full"
            state = (await api.get(base)).json()
            assert not state["pending"] and state["last_status"] == "NotSupported"
            assert not state["enabled"] and state["version"] == 0 and state["tokens"] == []
            await _token(api, "NOSUP-2", local_list=True)  # the list is no longer kept
            await asyncio.sleep(0.5)
            assert cp.updates.empty()
        r = await api.post(f"{base}/sync", json={})
        assert r.status_code == 409  # not connected
        r = await api.get(f"/stations/{unique_id()}/authorization/local-list")
        assert r.status_code == 404
