"""How a reservation ends: 2.0.1 ReservationStatusUpdate, transactions that use it, starts of
other tokens on a reserved EVSE (recorded, and the ``held_for_other`` refusal hook)."""

from __future__ import annotations

from datetime import UTC, datetime

from res_helpers import V16, V201, Env

from borne.reservations import service
from borne.reservations.events import ReservationViolated


async def test_v201_status_update_expired_and_removed(env: Env) -> None:
    env.station("CP-201", V201)
    a = (await env.reserve("CP-201", evse_id=1)).json()
    b = (await env.reserve("CP-201", evse_id=2)).json()

    for rid, update in ((a["reservation_id"], "Expired"), (b["reservation_id"], "Removed")):
        answer = await env.ocpp(
            V201,
            "CP-201",
            "ReservationStatusUpdate",
            {"reservationId": rid, "reservationUpdateStatus": update},
        )
        assert answer == {}
    # Unknown ids (an OCPI partner's, another station's) are acknowledged and change nothing.
    other = await env.ocpp(
        V201,
        "CP-OTHER",
        "ReservationStatusUpdate",
        {"reservationId": a["reservation_id"], "reservationUpdateStatus": "Removed"},
    )

    assert other == {}
    assert (await env.get(a["id"]))["status"] == "expired"
    removed = await env.get(b["id"])
    assert (removed["status"], removed["reason"]) == ("cancelled", "removed_by_station")


async def test_v16_start_with_reservation_id_uses_it(env: Env) -> None:
    env.station("CP-16", V16)
    body = (await env.reserve("CP-16", connector_id=1)).json()

    await env.start16("CP-16", connector=1, reservationId=body["reservation_id"])

    used = await env.until(body["id"], lambda b: b["status"] == "used")
    assert used["transaction_pk"] is not None and used["active"] is False


async def test_v201_started_event_with_reservation_id_uses_it(env: Env) -> None:
    env.station("CP-201", V201)
    body = (await env.reserve("CP-201")).json()  # any EVSE

    await env.started201(
        "CP-201",
        "TX-1",
        evse=2,
        transactionInfo={"transactionId": "TX-1"},
        reservationId=body["reservation_id"],
    )

    used = await env.until(body["id"], lambda b: b["status"] == "used")
    assert used["transaction_pk"] is not None


async def test_start_of_the_reserved_group_without_reservation_id_uses_it(env: Env) -> None:
    env.station("CP-16", V16)
    await env.token("MEMBER", group="FLEET")
    body = (await env.reserve("CP-16", connector_id=1, group_id_token="FLEET")).json()

    await env.start16("CP-16", connector=1, tag="MEMBER")

    used = await env.until(body["id"], lambda b: b["status"] == "used")
    assert used["violated_by_transaction_pk"] is None


async def test_start_of_another_token_on_the_reserved_connector_is_recorded(env: Env) -> None:
    env.station("CP-16", V16)
    reserved = (await env.reserve("CP-16", connector_id=1, id_token="OWNER")).json()
    anywhere = (await env.reserve("CP-16", id_token="OWNER2")).json()

    await env.start16("CP-16", connector=2, tag="STRANGER")  # another connector: fine
    await env.start16("CP-16", connector=1, tag="STRANGER")

    assert await env.event_seen(lambda e: isinstance(e, ReservationViolated))
    flagged = await env.get(reserved["id"])
    assert flagged["violated_by_transaction_pk"] is not None
    assert flagged["status"] == "accepted"  # still held for its owner
    assert (await env.get(anywhere["id"]))["violated_by_transaction_pk"] is None


async def test_held_for_other_refusal_hook(env: Env) -> None:
    env.station("CP-201", V201)
    body = (await env.reserve("CP-201", evse_id=1, id_token="OWNER", group_id_token="FLEET")).json()
    now = datetime.now(UTC)

    async def held(evse: int, token: str, group: str | None = None, rid: int | None = None) -> bool:
        async with env.deps.db.unit_of_work() as uow:
            return await service.held_for_other(
                uow.session,
                station_id="CP-201",
                evse_id=evse,
                id_token=token,
                group_id_token=group,
                reservation_id=rid,
                now=now,
            )

    assert await held(1, "STRANGER") is True
    assert await held(1, "owner") is False  # tokens are case-insensitive
    assert await held(1, "MEMBER", "FLEET") is False
    assert await held(1, "STRANGER", rid=body["reservation_id"]) is False
    assert await held(2, "STRANGER") is False
    await env.api.post(f"/reservations/{body['id']}/cancel")
    assert await held(1, "STRANGER") is False
