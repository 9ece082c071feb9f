"""resolve_tariff: specificity, scoping, ad hoc fallback, validity windows and time zones."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from tariff_kit import assign, attach, create_location, create_station, create_tariff, energy_tariff

from borne.core.deps import Deps
from borne.tariffs.service import ResolvedTariff, resolve_tariff

NOW = datetime(2024, 6, 3, 10, 0, tzinfo=UTC)


async def resolve(deps: Deps, **kw: object) -> ResolvedTariff | None:
    args: dict[str, object] = {"station_id": "CP-1", "evse_id": 1, "connector_id": 1, "at": NOW}
    args.update(kw)
    async with deps.db.unit_of_work() as uow:
        return await resolve_tariff(uow.session, **args)  # type: ignore[arg-type]


async def ocpi_id(deps: Deps, **kw: object) -> str | None:
    found = await resolve(deps, **kw)
    return None if found is None else found.tariff.id


@pytest.fixture
async def site(api: httpx.AsyncClient) -> None:
    await create_station(api, "CP-1")
    await create_station(api, "CP-2")
    await create_location(api, "LOC-1", time_zone="Europe/Paris")
    await attach(api, "LOC-1", "CP-1")


async def test_nothing_assigned_is_none_and_utc_without_location(
    api: httpx.AsyncClient, deps: Deps, site: None
) -> None:
    assert await resolve(deps) is None
    record = await create_tariff(api, energy_tariff("EV", "0.40"))
    await assign(api, record, station_id="CP-2", evse_id=1)
    found = await resolve(deps, station_id="CP-2")
    assert found is not None
    assert (found.record_id, found.tariff.id, found.time_zone) == (record, "EV", "UTC")
    assert str(found.tariff.elements[0].price_components[0].price) == "0.40"
    assert await resolve(deps, station_id="CP-2", evse_id=2) is None
    assert await resolve(deps, station_id="CP-2", evse_id=None, connector_id=None) is None


async def test_most_specific_assignment_wins(
    api: httpx.AsyncClient, deps: Deps, site: None
) -> None:
    loc = await create_tariff(api, energy_tariff("LOC", "0.30"))
    evse = await create_tariff(api, energy_tariff("EVSE", "0.40"))
    conn = await create_tariff(api, energy_tariff("CONN", "0.50"))
    await assign(api, loc, location_id="LOC-1")
    found = await resolve(deps)
    assert found is not None and found.tariff.id == "LOC" and found.time_zone == "Europe/Paris"
    await assign(api, evse, station_id="CP-1", evse_id=1)
    assert await ocpi_id(deps) == "EVSE"
    await assign(api, conn, station_id="CP-1", evse_id=1, connector_id=1)
    assert await ocpi_id(deps) == "CONN"
    assert await ocpi_id(deps, connector_id=2) == "EVSE"
    assert await ocpi_id(deps, evse_id=2) == "LOC"
    assert await ocpi_id(deps, evse_id=None, connector_id=None) == "LOC"


async def test_scoped_tariffs_beat_unscoped_and_apply_only_to_their_scope(
    api: httpx.AsyncClient, deps: Deps, site: None
) -> None:
    for tariff_id, options in (
        ("PUBLIC", {}),
        ("FLEET", {"token_group": "Fleet-A"}),
        ("ROAM", {"partner": "NL*ABC"}),
    ):
        record = await create_tariff(api, energy_tariff(tariff_id, "0.30"), **options)
        await assign(api, record, location_id="LOC-1")
    assert await ocpi_id(deps) == "PUBLIC"
    assert await ocpi_id(deps, token_group="FLEET-a") == "FLEET"  # case-insensitive
    assert await ocpi_id(deps, token_group="other") == "PUBLIC"
    assert await ocpi_id(deps, partner="nl*abc") == "ROAM"
    assert await ocpi_id(deps, partner="NL*ABC", token_group="Fleet-A") == "ROAM"
    assert await ocpi_id(deps, partner="DE*XYZ") == "PUBLIC"
    # specificity comes before scope: an unscoped connector tariff beats a scoped location one
    conn = await create_tariff(api, energy_tariff("CONN", "0.50"))
    await assign(api, conn, station_id="CP-1", evse_id=1, connector_id=1)
    assert await ocpi_id(deps, token_group="Fleet-A") == "CONN"


async def test_ad_hoc_is_the_fallback_with_a_network_default(
    api: httpx.AsyncClient, deps: Deps, site: None
) -> None:
    default = await create_tariff(api, energy_tariff("ADHOC-ALL", "0.60"), ad_hoc=True)
    await assign(api, default, default=True)
    assert await ocpi_id(deps) == "ADHOC-ALL"
    assert await ocpi_id(deps, station_id="CP-2") == "ADHOC-ALL"  # no location needed
    local = await create_tariff(api, energy_tariff("ADHOC-LOC", "0.55"), ad_hoc=True)
    await assign(api, local, location_id="LOC-1")
    assert await ocpi_id(deps) == "ADHOC-LOC"
    regular = await create_tariff(api, energy_tariff("REGULAR", "0.30"))
    await assign(api, regular, location_id="LOC-1")
    assert await ocpi_id(deps) == "REGULAR"
    assert await ocpi_id(deps, station_id="CP-2") == "ADHOC-ALL"
    # the network default must stay ad hoc
    r = await api.patch(f"/api/v1/tariffs/{default}", json={"ad_hoc": False})
    assert r.status_code == 409, r.text


async def test_validity_windows_and_scheduled_successor(
    api: httpx.AsyncClient, deps: Deps, site: None
) -> None:
    old = await create_tariff(
        api, energy_tariff("OLD", "0.30", end_date_time="2024-07-01T00:00:00Z")
    )
    new = await create_tariff(
        api, energy_tariff("NEW", "0.35", start_date_time="2024-06-15T00:00:00Z")
    )
    for record in (old, new):
        await assign(api, record, location_id="LOC-1")
    assert await ocpi_id(deps) == "OLD"
    assert await ocpi_id(deps, at=datetime(2024, 6, 20, tzinfo=UTC)) == "NEW"  # later start wins
    assert await ocpi_id(deps, at=datetime(2024, 6, 15, tzinfo=UTC)) == "NEW"  # start inclusive
    assert await ocpi_id(deps, at=datetime(2024, 7, 1, tzinfo=UTC)) == "NEW"  # end exclusive
    assert await ocpi_id(deps, at=datetime(2024, 1, 1, tzinfo=UTC)) == "OLD"


async def test_time_zone_follows_the_location_and_updates(
    api: httpx.AsyncClient, deps: Deps, site: None
) -> None:
    record = await create_tariff(api, energy_tariff("TZ", "0.30"))
    await assign(api, record, station_id="CP-1", evse_id=1)
    found = await resolve(deps)
    assert found is not None and found.time_zone == "Europe/Paris"
    r = await api.patch("/api/v1/locations/LOC-1", json={"time_zone": "America/New_York"})
    assert r.status_code == 200, r.text
    found = await resolve(deps)
    assert found is not None and found.time_zone == "America/New_York"
    assert (await api.delete("/api/v1/locations/LOC-1/stations/CP-1")).status_code == 204
    found = await resolve(deps)
    assert found is not None and found.time_zone == "UTC"


async def test_updated_tariff_is_resolved_fresh_and_deleted_station_drops_assignments(
    api: httpx.AsyncClient, deps: Deps, site: None
) -> None:
    from tariff_kit import post_json

    record = await create_tariff(api, energy_tariff("FRESH", "0.30"))
    await assign(api, record, station_id="CP-1", evse_id=1)
    assert (await resolve(deps)) is not None
    r = await api.put(
        f"/api/v1/tariffs/{record}", **post_json({"tariff": energy_tariff("FRESH", "0.45")})
    )
    assert r.status_code == 200
    found = await resolve(deps)
    assert found is not None
    assert str(found.tariff.elements[0].price_components[0].price) == "0.45"
    assert (await api.delete("/api/v1/stations/CP-1")).status_code == 204
    assert (await api.get(f"/api/v1/tariffs/{record}/assignments")).json() == []


async def test_naive_instant_is_refused(deps: Deps) -> None:
    from borne.core.errors import InvalidInput

    with pytest.raises(InvalidInput):
        await resolve(deps, at=datetime(2024, 1, 1))
