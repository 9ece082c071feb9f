"""The tariffs operator API: store in either OCPI shape, read back in both, refuse precisely,
validate, preview, assign, delete; errors are JSON and refusals leave nothing behind."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from tariff_kit import (
    API,
    assign,
    create_location,
    create_station,
    create_tariff,
    energy_tariff,
    error_of,
    exact,
    ocpi_example,
    post_json,
    simple_tariff,
)

from borne.core.deps import Deps
from borne.tariffs.events import TariffAssigned, TariffChanged

D = Decimal


async def test_store_a_221_tariff_and_read_it_in_both_shapes(api: httpx.AsyncClient) -> None:
    tariff = energy_tariff("E1", "0.2500", min_price={"excl_vat": D("1.50"), "incl_vat": D("1.80")})

    r = await api.post(f"{API}/tariffs", **post_json({"tariff": tariff}))

    assert r.status_code == 201, r.text
    created = exact(r)
    assert r.headers["location"] == f"/api/v1/tariffs/{created['id']}"
    assert created["origin_version"] == "2.2.1" and created["version"] == "2.3.0"
    stored = created["tariff"]
    assert stored["tax_included"] == "NO"
    assert stored["min_price"] == {"before_taxes": D("1.50"), "after_taxes": D("1.80")}
    assert '"price": 0.2500' in r.text  # exact digits, never through float
    assert stored["last_updated"] == created["last_updated"].replace("+00:00", "Z")

    old = exact(await api.get(f"{API}/tariffs/{created['id']}", params={"version": "2.2.1"}))
    assert old["version"] == "2.2.1"
    assert "tax_included" not in old["tariff"]
    assert old["tariff"]["min_price"] == {"excl_vat": D("1.50"), "incl_vat": D("1.80")}
    assert old["tariff"]["elements"] == tariff["elements"]

    listed = exact(await api.get(f"{API}/tariffs"))
    assert listed["total"] == 1 and listed["items"][0]["ocpi_id"] == "E1"


async def test_tax_inclusive_tariff_has_no_221_form(api: httpx.AsyncClient) -> None:
    record = await create_tariff(api, simple_tariff())
    r = await api.get(f"{API}/tariffs/{record}", params={"version": "2.2.1"})
    error = error_of(r, 422, "invalid_input")
    assert error["details"]["errors"][0]["field"] == "tax_included"


async def test_refusal_names_every_field_and_stores_nothing(api: httpx.AsyncClient) -> None:
    bad = simple_tariff(currency="euro")
    bad["elements"][1]["restrictions"] = {"start_time": "25:00", "end_time": "08:00"}
    bad["elements"][1]["price_components"][0]["step_size"] = 0

    r = await api.post(f"{API}/tariffs", **post_json({"tariff": bad, "partner": "NL-ABC"}))

    error = error_of(r, 422, "invalid_input")
    fields = {e["field"] for e in error["details"]["errors"]}
    assert {
        "currency",
        "elements[1].restrictions.start_time",
        "elements[1].price_components[0].step_size",
        "partner",
    } <= fields
    assert all(e["reason"] for e in error["details"]["errors"])
    assert (await api.get(f"{API}/tariffs")).json()["total"] == 0


async def test_structural_refusal_and_bad_envelopes(api: httpx.AsyncClient) -> None:
    no_elements = simple_tariff()
    del no_elements["elements"]
    r = await api.post(f"{API}/tariffs", **post_json({"tariff": no_elements}))
    assert error_of(r, 422, "invalid_input")["details"]["errors"][0]["field"] == "elements"

    r = await api.post(f"{API}/tariffs", **post_json({"tariff": simple_tariff(), "extra": 1}))
    assert error_of(r, 422, "validation_error")["details"]["errors"][0]["loc"] == [
        "body",
        "extra",
    ]
    r = await api.post(
        f"{API}/tariffs", content=b'{"tariff": ', headers={"Content-Type": "application/json"}
    )
    error_of(r, 400, "malformed_json")
    r = await api.post(
        f"{API}/tariffs",
        **post_json({"tariff": simple_tariff(), "ad_hoc": True, "token_group": "G1"}),
    )
    assert error_of(r, 422, "invalid_input")["details"]["errors"][0]["field"] == "token_group"
    assert (await api.get(f"{API}/tariffs")).json()["total"] == 0
    error_of(await api.get(f"{API}/tariffs/999"), 404, "not_found")
    error_of(await api.get(f"{API}/tariffs/abc"), 422, "validation_error")


async def test_validate_stores_nothing(api: httpx.AsyncClient) -> None:
    r = await api.post(f"{API}/tariffs/validate", **post_json({"tariff": energy_tariff("V", "1")}))
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is True and r.json()["detected_version"] == "2.2.1"
    assert r.json()["tariff"]["tax_included"] == "NO"

    bad = energy_tariff(
        "V", "1", start_date_time="2024-02-01T00:00:00Z", end_date_time="2024-01-01T00:00:00Z"
    )
    r = await api.post(f"{API}/tariffs/validate", **post_json({"tariff": bad}))
    fields = [e["field"] for e in error_of(r, 422, "invalid_input")["details"]["errors"]]
    assert "end_date_time" in fields or "start_date_time" in fields
    assert (await api.get(f"{API}/tariffs")).json()["total"] == 0


async def test_duplicate_update_and_identity(api: httpx.AsyncClient) -> None:
    record = await create_tariff(api, energy_tariff("U1", "0.30"))
    r = await api.post(f"{API}/tariffs", **post_json({"tariff": energy_tariff("U1", "0.40")}))
    error_of(r, 409, "conflict")

    r = await api.put(
        f"{API}/tariffs/{record}",
        **post_json({"tariff": energy_tariff("U1", "0.40"), "token_group": "fleet-a"}),
    )
    assert r.status_code == 200, r.text
    body = exact(r)
    assert body["tariff"]["elements"][0]["price_components"][0]["price"] == D("0.40")
    assert body["token_group"] == "FLEET-A"

    r = await api.patch(f"{API}/tariffs/{record}", json={"token_group": None})
    assert r.status_code == 200 and r.json()["token_group"] is None
    assert r.json()["tariff"]["elements"][0]["price_components"][0]["price"] == 0.40

    r = await api.put(f"{API}/tariffs/{record}", **post_json({"tariff": energy_tariff("U2", "1")}))
    assert error_of(r, 422, "invalid_input")["details"]["errors"][0]["field"] == "id"
    bad = energy_tariff("U1", "-1")
    bad["elements"][0]["price_components"][0]["step_size"] = -5
    r = await api.patch(f"{API}/tariffs/{record}", **post_json({"tariff": bad}))
    error_of(r, 422, "invalid_input")
    # nothing half-written: the stored tariff is the last good one
    again = exact(await api.get(f"{API}/tariffs/{record}"))
    assert again["tariff"]["elements"][0]["price_components"][0]["price"] == D("0.40")


async def test_assign_unassign_delete_and_events(api: httpx.AsyncClient, deps: Deps) -> None:
    seen: list[object] = []

    async def record(ev: object) -> None:
        seen.append(ev)

    deps.bus.subscribe(TariffChanged, record)
    deps.bus.subscribe(TariffAssigned, record)
    await create_station(api, "CP-A")
    await create_location(api, "LOC-A")
    tariff = await create_tariff(api, energy_tariff("A1", "0.30"))
    await assign(api, tariff, location_id="LOC-A")
    await assign(api, tariff, location_id="LOC-A")  # idempotent
    await assign(api, tariff, station_id="CP-A", evse_id=1, connector_id=2)

    listed = (await api.get(f"{API}/tariffs/{tariff}/assignments")).json()
    assert [(a["level"], a["location_id"], a["connector_id"]) for a in listed] == [
        ("location", "LOC-A", None),
        ("connector", None, 2),
    ]
    error_of(await api.delete(f"{API}/tariffs/{tariff}"), 409, "conflict")
    error_of(await api.delete(f"{API}/locations/LOC-A"), 409, "conflict")
    r = await api.put(f"{API}/tariffs/{tariff}/assignments", json={"default": True})
    error_of(r, 422, "invalid_input")  # only an ad hoc tariff can be the network default
    r = await api.put(f"{API}/tariffs/{tariff}/assignments", json={"location_id": "NOPE"})
    error_of(r, 404, "not_found")
    r = await api.put(f"{API}/tariffs/{tariff}/assignments", json={"station_id": "CP-A"})
    error_of(r, 422, "invalid_input")
    r = await api.put(
        f"{API}/tariffs/{tariff}/assignments", json={"location_id": "LOC-A", "station_id": "CP-A"}
    )
    error_of(r, 422, "invalid_input")

    r = await api.delete(f"{API}/tariffs/{tariff}/assignments", params={"location_id": "LOC-A"})
    assert r.status_code == 204
    r = await api.delete(f"{API}/tariffs/{tariff}/assignments", params={"location_id": "LOC-A"})
    error_of(r, 404, "not_found")
    r = await api.delete(
        f"{API}/tariffs/{tariff}/assignments",
        params={"station_id": "CP-A", "evse_id": 1, "connector_id": 2},
    )
    assert r.status_code == 204
    assert (await api.delete(f"{API}/tariffs/{tariff}")).status_code == 204
    assert (await api.delete(f"{API}/locations/LOC-A")).status_code == 204

    await deps.supervisor.shutdown()  # let the deliveries finish
    changes = [(e.change, e.ocpi_id) for e in seen if isinstance(e, TariffChanged)]
    assert changes == [("created", "A1"), ("deleted", "A1")]
    assigned = [(e.level, e.assigned) for e in seen if isinstance(e, TariffAssigned)]
    assert assigned == [
        ("location", True),
        ("connector", True),
        ("location", False),
        ("connector", False),
    ]


def _periods() -> dict[str, Any]:
    """tariff_4 (complex), Monday 2019-06-03 09:30 Berlin: 165 min at 16 A, then 42 min parked."""
    return {
        "start": "2019-06-03T09:30:00+02:00",
        "usage": {
            "energy_kwh": 20,
            "duration_minutes": 165,
            "parking_minutes": 42,
            "max_current_a": 16,
        },
    }


async def test_preview_reproduces_the_spec_complex_example(api: httpx.AsyncClient) -> None:
    tariff = ocpi_example("2.2.1", "tariff_4_complex.json")
    record = await create_tariff(api, tariff)
    await create_location(api, "LOC-B", time_zone="Europe/Berlin")

    r = await api.post(
        f"{API}/tariffs/{record}/preview", json={**_periods(), "location_id": "LOC-B"}
    )

    assert r.status_code == 200, r.text
    out = exact(r)
    assert out["total"] == {"excl": D("9.00"), "incl": D("10.30")}
    assert out["time_zone"] == "Europe/Berlin" and out["record_id"] == record
    assert out["category_totals"]["parking"] == {"excl": D("3.75"), "incl": D("4.12")}
    assert out["category_totals"]["fixed"] == {"excl": D("2.50"), "incl": D("2.88")}
    parking = [ln for ln in out["lines"] if ln["dimension"] == "PARKING_TIME"]
    assert parking[0]["billed_quantity"] == D("0.75") and parking[0]["element_index"] == 4
    assert "Total before limits: 9.00 excl. / 10.30 incl. EUR" in out["explanation"]
    assert out["ocpi_costs"]["total_cost"]["before_taxes"] == D("9.00")

    # the same, inline and with explicit OCPI charging periods
    periods = [
        {
            "start_date_time": "2019-06-03T07:30:00Z",
            "dimensions": [
                {"type": "ENERGY", "volume": 20},
                {"type": "TIME", "volume": D("2.75")},
                {"type": "MAX_CURRENT", "volume": 16},
            ],
        },
        {
            "start_date_time": "2019-06-03T10:15:00Z",
            "dimensions": [{"type": "PARKING_TIME", "volume": D("0.7")}],
        },
    ]
    body = {
        "tariff": tariff,
        "charging_periods": periods,
        "end": "2019-06-03T10:57:00Z",
        "time_zone": "Europe/Berlin",
    }
    r = await api.post(f"{API}/tariffs/preview", **post_json(body))
    assert r.status_code == 200, r.text
    assert exact(r)["total"] == {"excl": D("9.00"), "incl": D("10.30")}


async def test_preview_errors(api: httpx.AsyncClient) -> None:
    record = await create_tariff(api, energy_tariff("P1", "0.30"))
    base = _periods()
    r = await api.post(f"{API}/tariffs/{record}/preview", json={**base, "time_zone": "Mars/Base"})
    error_of(r, 422, "invalid_input")
    r = await api.post(f"{API}/tariffs/preview", json=base)  # no tariff
    assert error_of(r, 422, "invalid_input")["details"]["errors"][0]["field"] == "tariff"
    r = await api.post(f"{API}/tariffs/{record}/preview", json={"start": base["start"]})
    assert error_of(r, 422, "invalid_input")["details"]["errors"][0]["field"] == "usage"
    r = await api.post(f"{API}/tariffs/preview", json={**base, "tariff_id": 424242})
    error_of(r, 404, "not_found")
    r = await api.post(f"{API}/tariffs/{record}/preview", json={**base, "location_id": "NOPE"})
    error_of(r, 404, "not_found")
    r = await api.post(
        f"{API}/tariffs/{record}/preview",
        json={**base, "usage": {"duration_minutes": -1}},
    )
    error_of(r, 422, "validation_error")
    # a session before the tariff's validity
    late = await create_tariff(
        api, energy_tariff("P2", "1", start_date_time="2030-01-01T00:00:00Z")
    )
    r = await api.post(f"{API}/tariffs/{late}/preview", json=base)
    error_of(r, 422, "invalid_input")
