"""Local authorization lists: which tokens, the diff against what a station holds, the state
kept per station, and the token events that schedule updates (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from borne.authorization import local_lists as lists
from borne.authorization import service
from borne.authorization.events import IdTokenChanged
from borne.authorization.local_list_sync import LocalListConfig, LocalListSyncer
from borne.authorization.service import TokenExtra
from borne.core.deps import Deps
from borne.core.registry import LocalRegistry
from borne.ocpp.outbound import OcppOutbound
from borne.stations.events import StationDeleted

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


async def _token(deps: Deps, value: str, *, local: bool = True, **kw: object) -> None:
    async with deps.db.unit_of_work() as uow:
        await service.create_id_token(
            uow,
            id_token=value,
            now=NOW,
            extra=TokenExtra(local_list=local),
            **kw,  # type: ignore[arg-type]
        )
        await uow.commit()


async def test_only_flagged_tokens_that_fit_the_version_are_listed(deps: Deps) -> None:
    await _token(deps, "A1")
    await _token(deps, "NOTLOCAL", local=False)
    await _token(deps, "X" * 30)  # fits 2.0.1 (36), not 1.6 (20)
    await _token(deps, "B1", group_id_token="G" * 25)  # group too long for 1.6: left out
    async with deps.db.unit_of_work() as uow:
        v16, _ = await lists.desired_entries(uow.session, max_len=20)
        v201, _ = await lists.desired_entries(uow.session, max_len=36)
        capped, left_out = await lists.desired_entries(uow.session, max_len=36, limit=2)
    assert [e.id_token for e in v16] == ["A1", "B1"]
    assert v16[1].group_id_token is None
    assert [e.id_token for e in v201] == ["A1", "X" * 30, "B1"]
    assert v201[2].group_id_token == "G" * 25
    assert [e.id_token for e in capped] == ["A1", "X" * 30] and left_out == 1


async def test_diff_finds_new_changed_and_removed_tokens(deps: Deps) -> None:
    for value in ("A1", "B1", "C1"):
        await _token(deps, value)
    async with deps.db.unit_of_work() as uow:
        await lists.configure(uow.session, "CS1", now=NOW)
        desired, _ = await lists.desired_entries(uow.session, max_len=20)
        first = lists.diff(await lists.held_entries(uow.session, "CS1"), desired)
        assert [e.id_token for e in first.upserts] == ["A1", "B1", "C1"] and not first.removals
        await lists.record_accepted(
            uow.session, "CS1", version=1, full=True, upserts=desired, removals=[], now=NOW
        )
        await uow.commit()
    async with deps.db.unit_of_work() as uow:
        desired, _ = await lists.desired_entries(uow.session, max_len=20)
        assert not lists.diff(await lists.held_entries(uow.session, "CS1"), desired)
        await service.update_id_token(uow, id_token="b1", now=NOW, status="Blocked")
        await service.update_id_token(
            uow, id_token="C1", now=NOW, extra=TokenExtra(local_list=False)
        )
        await service.update_id_token(
            uow, id_token="A1", now=NOW, expiry_date=NOW + timedelta(days=1)
        )
        await uow.commit()
    async with deps.db.unit_of_work() as uow:
        desired, _ = await lists.desired_entries(uow.session, max_len=20)
        change = lists.diff(await lists.held_entries(uow.session, "CS1"), desired)
        assert sorted(e.id_token for e in change.upserts) == ["A1", "B1"]
        assert [e.status for e in change.upserts if e.id_token == "B1"] == ["Blocked"]
        assert [r.id_token for r in change.removals] == ["C1"]
        await lists.record_accepted(
            uow.session,
            "CS1",
            version=2,
            full=False,
            upserts=change.upserts,
            removals=change.removals,
            now=NOW,
        )
        await uow.commit()
    async with deps.db.unit_of_work() as uow:
        held = await lists.held_entries(uow.session, "CS1")
        state = await lists.require_state(uow.session, "CS1")
        desired, _ = await lists.desired_entries(uow.session, max_len=20)
        assert sorted(h.id_token for h in held.values()) == ["A1", "B1"]
        assert state.version == 2 and not state.needs_full
        assert not lists.diff(held, desired)


def test_chunks_split_in_order() -> None:
    assert list(lists.chunks([1, 2, 3, 4, 5], 2)) == [[1, 2], [3, 4], [5]]
    assert list(lists.chunks([], 3)) == []


async def test_a_token_change_marks_every_kept_list_pending(deps: Deps) -> None:
    async with deps.db.unit_of_work() as uow:
        await lists.configure(uow.session, "KEPT", now=NOW)
        await lists.configure(uow.session, "OFF", now=NOW, enabled=False)
        for station in ("KEPT", "OFF"):
            (await lists.require_state(uow.session, station)).pending = False
        await uow.commit()
    syncer = LocalListSyncer(deps, OcppOutbound(LocalRegistry()), LocalListConfig())
    await syncer.on_token_changed(
        IdTokenChanged("T", "ISO14443", "Accepted", None, None, created=True, local_list=True)
    )
    async with deps.db.unit_of_work() as uow:
        assert (await lists.require_state(uow.session, "KEPT")).pending
        assert not (await lists.require_state(uow.session, "OFF")).pending
    # Nobody connected: nothing is sent, nothing fails, the list stays pending.
    assert await syncer.sync_pending() == []
    async with deps.db.unit_of_work() as uow:
        assert (await lists.require_state(uow.session, "KEPT")).pending


async def test_configure_limits_and_reenable(deps: Deps) -> None:
    async with deps.db.unit_of_work() as uow:
        state = await lists.configure(
            uow.session, "CS2", now=NOW, max_entries=10, items_per_message=3
        )
        assert state.limits_checked and state.max_entries == 10 and state.items_per_message == 3
        await lists.configure(uow.session, "CS2", now=NOW, enabled=False)
        state = await lists.configure(uow.session, "CS2", now=NOW)
        assert state.enabled and state.pending and state.needs_full
        assert state.max_entries == 10  # kept across re-enabling
        await uow.commit()


async def test_master_pass_members_may_not_start(deps: Deps) -> None:
    await _token(deps, "POLICE", local=False)
    async with deps.db.unit_of_work() as uow:
        await service.update_id_token(
            uow, id_token="POLICE", now=NOW, extra=TokenExtra(master_pass=True)
        )
        await service.create_id_token(uow, id_token="OFFICER1", now=NOW, group_id_token="POLICE")
        await service.create_id_token(uow, id_token="DRIVER", now=NOW, group_id_token="FLEET")
        await uow.commit()
    async with deps.db.unit_of_work() as uow:
        s = uow.session
        assert (await service.check_token(s, "OFFICER1", now=NOW)).status == "Accepted"
        assert (
            await service.check_token(s, "OFFICER1", now=NOW, for_start=True)
        ).status == "Blocked"
        assert (
            await service.check_token(s, "DRIVER", now=NOW, for_start=True)
        ).status == "Accepted"


async def test_a_deleted_station_forgets_its_list(deps: Deps) -> None:
    await _token(deps, "A1")
    async with deps.db.unit_of_work() as uow:
        await lists.configure(uow.session, "GONE", now=NOW)
        desired, _ = await lists.desired_entries(uow.session, max_len=20)
        await lists.record_accepted(
            uow.session, "GONE", version=1, full=True, upserts=desired, removals=[], now=NOW
        )
        await uow.commit()
    syncer = LocalListSyncer(deps, OcppOutbound(LocalRegistry()), LocalListConfig())
    await syncer.on_station_deleted(StationDeleted("GONE"))
    async with deps.db.unit_of_work() as uow:
        assert await lists.get_state(uow.session, "GONE") is None
        assert await lists.held_entries(uow.session, "GONE") == {}
