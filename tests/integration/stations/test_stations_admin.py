"""Operator use cases on stations: validation, conflicts, updates, paging, deletion."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from borne.core.deps import Deps
from borne.core.errors import Conflict, InvalidInput, NotFound
from borne.stations import admin

PASSWORD = "s3cret-Station-Passw0rd"
NOW = datetime(2030, 1, 1, tzinfo=UTC)


async def test_create_validates_and_refuses_duplicates(deps: Deps, make_station) -> None:
    view = await make_station("CP-1", security_profile=1, password=PASSWORD)
    assert view.has_password and view.security_profile == 1
    assert view.registration_status == "Accepted"
    with pytest.raises(Conflict):
        await make_station("CP-1")
    for bad_id in ["", "x" * 49, "a b", "a:b", "a/b", "caf\u00e9"]:
        with pytest.raises(InvalidInput):
            await make_station(bad_id)
    with pytest.raises(InvalidInput):  # profile >= 1 needs a password
        await make_station("CP-2", security_profile=1)
    with pytest.raises(InvalidInput):
        await make_station("CP-2", security_profile=4)
    with pytest.raises(InvalidInput):
        await make_station("CP-2", registration_status="Maybe")
    assert (await make_station("x" * 48)).station_id == "x" * 48


async def test_update_changes_only_what_is_given(deps: Deps, make_station) -> None:
    await make_station("CP-1", leniency=["b", "a", "a"])
    async with deps.db.unit_of_work() as uow:
        view = await admin.update_station(uow, station_id="CP-1", now=NOW, leniency=["z"])
        assert view.leniency == ("z",) and view.security_profile == 0
        with pytest.raises(InvalidInput):  # no password on record
            await admin.update_station(uow, station_id="CP-1", now=NOW, security_profile=1)
        view = await admin.update_station(
            uow,
            station_id="CP-1",
            now=NOW,
            security_profile=1,
            password=PASSWORD,
            registration_status="Rejected",
            password_iterations=1_000,
        )
        await uow.commit()
    assert (view.security_profile, view.has_password, view.registration_status) == (
        1,
        True,
        "Rejected",
    )
    assert view.updated_at == NOW
    async with deps.db.unit_of_work() as uow:
        with pytest.raises(NotFound):
            await admin.update_station(uow, station_id="nope", now=NOW, leniency=[])


async def test_list_is_paginated_and_filtered(deps: Deps, make_station) -> None:
    for i in range(5):
        await make_station(f"CP-{i}", registration_status="Pending" if i % 2 else "Accepted")
    async with deps.db.unit_of_work() as uow:
        first = await admin.list_stations(uow, offset=0, limit=2)
        rest = await admin.list_stations(uow, offset=2, limit=10)
        pending = await admin.list_stations(uow, registration_status="Pending")
        with pytest.raises(InvalidInput):
            await admin.list_stations(uow, limit=0)
    assert first.total == 5
    ids = [s.station_id for s in [*first.items, *rest.items]]
    assert ids == [f"CP-{i}" for i in range(5)]
    assert [s.station_id for s in pending.items] == ["CP-1", "CP-3"]


async def test_delete_removes_the_station(deps: Deps, make_station, make_ctx, call) -> None:
    from borne.ocpp.versions import OcppVersion

    await make_station("CP-1")
    ctx = make_ctx("CP-1", OcppVersion.V16)
    await call(
        ctx, "StatusNotification", {"connectorId": 1, "status": "Available", "errorCode": "NoError"}
    )
    async with deps.db.unit_of_work() as uow:
        await admin.delete_station(uow, station_id="CP-1")
        await uow.commit()
    async with deps.db.unit_of_work() as uow:
        with pytest.raises(NotFound):
            await admin.get_station(uow, station_id="CP-1")
        with pytest.raises(NotFound):
            await admin.delete_station(uow, station_id="CP-1")
    await make_station("CP-1")  # statuses went with it: a new station starts clean
    async with deps.db.unit_of_work() as uow:
        assert await admin.list_connector_statuses(uow, station_id="CP-1") == []
