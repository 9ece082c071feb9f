"""Reserve and cancel through the operator API: what the station receives, what is stored."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from res_helpers import V16, V201, Env, soon

from borne.core.errors import StationCallError, StationCallTimeout
from borne.reservations.service import ID_LOW


async def test_v16_connector_reservation_is_sent_and_accepted(env: Env) -> None:
    fake = env.station("CP-16", V16)
    expiry = soon(1800)

    r = await env.reserve(
        "CP-16", connector_id=2, id_token="TAG1", group_id_token="GRP", expiry=expiry
    )

    assert r.status_code == 201, r.text
    body = r.json()
    action, payload = fake.last
    assert action == "ReserveNow"
    assert payload["connectorId"] == 2 and payload["idTag"] == "TAG1"
    assert payload["parentIdTag"] == "GRP"
    assert payload["reservationId"] == body["reservation_id"] >= ID_LOW
    assert body["status"] == "accepted" and body["active"] is True
    assert (body["evse_id"], body["connector_id"], body["ocpp_version"]) == (2, 2, "ocpp1.6")
    assert datetime.fromisoformat(body["expiry"]) == datetime.fromisoformat(expiry)


async def test_v16_any_connector_is_connector_zero(env: Env) -> None:
    fake = env.station("CP-16", V16)

    body = (await env.reserve("CP-16")).json()

    assert fake.last[1]["connectorId"] == 0
    assert body["evse_id"] is None and body["connector_id"] is None


async def test_v201_evse_and_any_evse(env: Env) -> None:
    fake = env.station("CP-201", V201)

    one = (await env.reserve("CP-201", evse_id=1, id_token_type="ISO14443")).json()
    evse_payload = fake.last[1]
    anyone = (await env.reserve("CP-201")).json()
    any_payload = fake.last[1]

    assert evse_payload["evseId"] == 1 and evse_payload["id"] == one["reservation_id"]
    assert evse_payload["idToken"] == {"idToken": "TAG1", "type": "ISO14443"}
    assert "evseId" not in any_payload and any_payload["id"] == anyone["reservation_id"]
    assert one["status"] == anyone["status"] == "accepted"
    assert one["reservation_id"] != anyone["reservation_id"]


async def test_station_refusals_are_stored(env: Env) -> None:
    env.station("CP-16", V16, {"ReserveNow": {"status": "Occupied"}})
    env.station(
        "CP-201",
        V201,
        {"ReserveNow": {"status": "Rejected", "statusInfo": {"reasonCode": "NoConnector"}}},
    )

    occupied = (await env.reserve("CP-16", connector_id=1)).json()
    rejected = (await env.reserve("CP-201", evse_id=9)).json()

    assert (occupied["status"], occupied["active"]) == ("occupied", False)
    assert (rejected["status"], rejected["reason"]) == ("rejected", "NoConnector")
    assert rejected["ended_at"] is not None


async def test_errors_not_connected_past_expiry_call_error_timeout(env: Env) -> None:
    env.station("CP-ERR", V16, {"ReserveNow": StationCallError("InternalError", "boom")})
    env.station("CP-SLOW", V201, {"ReserveNow": StationCallTimeout("no answer")})

    offline = await env.reserve("CP-NONE")
    past = await env.reserve("CP-ERR", expiry=soon(-5))
    failed = await env.reserve("CP-ERR")
    slow = await env.reserve("CP-SLOW")
    stored = (await env.api.get("/reservations")).json()

    assert offline.status_code == 409 and past.status_code == 422
    assert failed.status_code == 502 and slow.status_code == 504
    by_station = {r["station_id"]: r for r in stored["items"]}
    assert stored["total"] == 2 and "CP-NONE" not in by_station
    assert by_station["CP-ERR"]["status"] == "failed"
    assert "station_call_error" in by_station["CP-ERR"]["reason"]
    assert by_station["CP-SLOW"]["status"] == "requested"
    assert by_station["CP-SLOW"]["reason"] == "station_timeout"


async def test_value_refused_by_the_v16_schema_is_failed_422(env: Env) -> None:
    env.station("CP-16", V16)

    r = await env.reserve("CP-16", id_token="X" * 30)  # 1.6 idTag: at most 20 characters

    assert r.status_code == 422
    listed = (await env.api.get("/reservations", params={"status": "failed"})).json()
    assert listed["total"] == 1


async def test_cancel_sends_cancel_reservation_once(env: Env) -> None:
    fake = env.station("CP-201", V201)
    body = (await env.reserve("CP-201", evse_id=1)).json()

    r = await env.api.post(f"/reservations/{body['id']}/cancel")
    again = await env.api.post(f"/reservations/{body['id']}/cancel")

    assert r.status_code == 200, r.text
    assert r.json()["station_status"] == "Accepted"
    assert r.json()["reservation"]["status"] == "cancelled"
    assert fake.last == ("CancelReservation", {"reservationId": body["reservation_id"]})
    assert again.status_code == 409
    assert [c[0] for c in fake.calls] == ["ReserveNow", "CancelReservation"]


async def test_cancel_refused_by_station_means_not_held(env: Env) -> None:
    env.station("CP-16", V16, {"CancelReservation": {"status": "Rejected"}})
    body = (await env.reserve("CP-16", connector_id=1)).json()

    r = await env.api.post(f"/reservations/{body['id']}/cancel")

    assert r.json()["station_status"] == "Rejected"
    assert r.json()["reservation"]["status"] == "cancelled"
    assert r.json()["reservation"]["reason"] == "not_held_by_station"


async def test_list_filters_and_station_routes(env: Env) -> None:
    env.station("CP-A", V16)
    env.station("CP-B", V201, {"ReserveNow": {"status": "Faulted"}})
    a = (await env.reserve("CP-A", id_token="tagA")).json()
    await env.reserve("CP-B", id_token="TAGB")
    via_station = await env.api.post(
        "/stations/CP-A/reservations", json={"id_token": "TAGC", "expiry": soon()}
    )

    async def ids(path: str, **params: object) -> list[int]:
        page = (await env.api.get(path, params=params)).json()
        return [r["id"] for r in page["items"]]

    assert via_station.status_code == 201
    c = via_station.json()
    assert await ids("/reservations") == [c["id"], c["id"] - 1, a["id"]]
    assert await ids("/reservations", station_id="CP-A") == [c["id"], a["id"]]
    assert await ids("/reservations", active=True) == [c["id"], a["id"]]
    assert await ids("/reservations", status="faulted") == [c["id"] - 1]
    assert await ids("/reservations", id_token="TAGA") == [a["id"]]
    assert await ids("/stations/CP-A/reservations", limit=1) == [c["id"]]
    assert (await env.api.get("/reservations", params={"status": "nope"})).status_code == 422
    assert (await env.api.get("/reservations/999999")).status_code == 404
    assert (await env.api.post("/reservations/999999/cancel")).status_code == 404


async def test_expiry_is_computed_on_read_and_made_durable_by_the_sweep(env: Env) -> None:
    env.station("CP-16", V16)
    body = (await env.reserve("CP-16", connector_id=1, expiry=soon(1.5))).json()
    assert body["status"] == "accepted"

    left = datetime.fromisoformat(body["expiry"]) - datetime.now(UTC)
    await asyncio.sleep(left.total_seconds() + 0.1)
    read = await env.get(body["id"])
    expired = (await env.api.get("/reservations", params={"status": "expired"})).json()
    cancel = await env.api.post(f"/reservations/{body['id']}/cancel")
    swept = await env.wiring.tracker.sweep_once()

    assert read["status"] == "expired" and read["active"] is False
    assert read["ended_at"] == body["expiry"]
    assert [r["id"] for r in expired["items"]] == [body["id"]]
    assert cancel.status_code == 409
    assert swept == 1 and await env.wiring.tracker.sweep_once() == 0
    await env.until(body["id"], lambda b: b["status"] == "expired")
    assert await env.event_seen(lambda e: getattr(e, "status", None) == "expired")
