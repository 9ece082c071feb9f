"""Operator API of partners: creation (token A once), outbound registration, status, R27."""

from __future__ import annotations

from roaming_peer import World, world

__all__ = ["world"]  # the fixture, imported from roaming_peer

PEER_A = "peer-gave-us-token-A-" + "q" * 10
B = "peer-token-B-" + "x" * 20


async def test_create_shows_token_a_once(world: World) -> None:
    r = await world.api.post("/api/v1/partners", json={"name": "Acme eMSP"})
    assert r.status_code == 201
    body = r.json()
    token_a = body["token"]
    assert len(token_a) >= 32
    assert body["ocpi_versions_url"] == f"{world.ocpi}/versions"
    assert body["partner"]["status"] == "pending"
    assert r.headers["cache-control"] == "no-store"

    listed = await world.api.get("/api/v1/partners")
    one = await world.api.get(f"/api/v1/partners/{body['partner']['id']}")
    for answer in (listed, one):
        assert answer.status_code == 200
        assert token_a not in answer.text
    assert [p["name"] for p in listed.json()] == ["Acme eMSP"]


async def test_answers_never_carry_tokens(world: World) -> None:
    partner_id, token_a = await world.create_partner()
    token_c = (await world.register(token_a, B))["token"]
    secrets_ = (token_a, B, token_c)
    for path in ("/api/v1/partners", f"/api/v1/partners/{partner_id}"):
        text = (await world.api.get(path)).text
        assert not [s for s in secrets_ if s in text]
    patched = await world.api.patch(f"/api/v1/partners/{partner_id}", json={"name": "Renamed"})
    assert patched.status_code == 200
    assert not [s for s in secrets_ if s in patched.text]


async def test_borne_registers_with_partner(world: World) -> None:
    partner_id, borne_token_a = await world.create_partner("Peer (we register)")
    world.peer.accepted = {PEER_A}
    r = await world.api.post(
        f"/api/v1/partners/{partner_id}/register",
        json={"versions_url": world.peer.versions_url, "token": PEER_A},
    )
    assert r.status_code == 200, r.text
    partner = r.json()
    assert partner["status"] == "registered"
    assert partner["version"] == "2.2.1"
    assert [(x["country_code"], x["party_id"], x["role"]) for x in partner["roles"]] == [
        ("NL", "EMS", "EMSP")
    ]
    assert PEER_A not in r.text

    # The peer checked Borne's versions and details with the token Borne offered (valid while
    # the POST was in flight), and got Borne's CPO role.
    offered = world.peer.borne_token
    assert offered is not None and offered != borne_token_a
    assert world.peer.borne_seen["versions"]["status_code"] == 1000
    assert world.peer.borne_seen["details"]["status_code"] == 1000
    assert world.peer.borne_seen["offer"]["roles"][0]["role"] == "CPO"
    assert offered not in r.text

    # From now on: the offered token is Borne's token for the peer; our token A is retired;
    # Borne sends the peer's token C.
    assert (await world.ocpi_call("GET", "/2.2.1/details", offered)).status_code == 200
    assert (await world.ocpi_call("GET", "/versions", borne_token_a)).status_code == 401
    party = await world.party(offered)
    assert party is not None and party.registered
    from borne.roaming import partners as svc

    async with world.ctx.db.unit_of_work() as uow:
        link = await svc.get_link(uow, partner_id=partner_id)
    assert link is not None
    assert link.token in world.peer.accepted


async def test_registration_with_wrong_token_fails_cleanly(world: World) -> None:
    partner_id, borne_token_a = await world.create_partner()
    world.peer.accepted = {PEER_A}
    r = await world.api.post(
        f"/api/v1/partners/{partner_id}/register",
        json={"versions_url": world.peer.versions_url, "token": "wrong-token-" + "w" * 20},
    )
    assert r.status_code == 502
    assert r.json()["error"]["code"] == "partner_unreachable"
    partner = await world.partner(partner_id)
    assert partner["status"] == "pending"
    assert partner["last_error"] and "wrong-token" not in partner["last_error"]
    assert (await world.ocpi_call("GET", "/versions", borne_token_a)).status_code == 200


async def test_borne_rotates_its_credentials(world: World) -> None:
    world.peer.versions = ("2.2.1", "2.3.0")
    partner_id, _ = await world.create_partner()
    world.peer.accepted = {PEER_A}
    await world.api.post(
        f"/api/v1/partners/{partner_id}/register",
        json={"versions_url": world.peer.versions_url, "token": PEER_A},
    )
    first = world.peer.borne_token
    assert first is not None
    assert (await world.partner(partner_id))["version"] == "2.3.0"  # newest mutual version

    # Peer down: the rotation fails, the current tokens stay.
    world.peer.down = True
    r = await world.api.post(f"/api/v1/partners/{partner_id}/update", json={"version": "2.2.1"})
    assert r.status_code == 502
    world.peer.down = False
    assert (await world.ocpi_call("GET", "/versions", first)).status_code == 200

    r = await world.api.post(f"/api/v1/partners/{partner_id}/update", json={"version": "2.2.1"})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == "2.2.1"
    second = world.peer.borne_token
    assert second not in (None, first)
    assert (await world.ocpi_call("GET", "/versions", first)).status_code == 401
    assert (await world.ocpi_call("GET", "/versions", second or "")).status_code == 200


async def test_suspend_unregister_and_new_token_a(world: World) -> None:
    partner_id, token_a = await world.create_partner()
    token_c = (await world.register(token_a, B))["token"]

    r = await world.api.patch(f"/api/v1/partners/{partner_id}", json={"suspended": True})
    assert r.json()["status"] == "suspended"
    assert (await world.ocpi_call("GET", "/versions", token_c)).status_code == 401
    r = await world.api.patch(f"/api/v1/partners/{partner_id}", json={"suspended": False})
    assert r.json()["status"] == "registered"
    assert (await world.ocpi_call("GET", "/versions", token_c)).status_code == 200

    # A new token A is refused while registered.
    assert (await world.api.post(f"/api/v1/partners/{partner_id}/token")).status_code == 409
    r = await world.api.delete(f"/api/v1/partners/{partner_id}")
    assert r.json()["status"] == "unregistered"
    assert (await world.ocpi_call("GET", "/versions", token_c)).status_code == 401

    r = await world.api.post(f"/api/v1/partners/{partner_id}/token")
    assert r.status_code == 200
    new_a = r.json()["token"]
    await world.register(new_a, B)
    assert (await world.partner(partner_id))["status"] == "registered"


async def test_bad_operator_input(world: World) -> None:
    assert (await world.api.get("/api/v1/partners/999")).status_code == 404
    r = await world.api.post("/api/v1/partners", json={"name": ""})
    assert r.status_code == 422
    r = await world.api.post(
        "/api/v1/partners/1/register", json={"versions_url": "ftp://x", "token": "t"}
    )
    assert r.status_code == 422
    no_key = await world.http.get(f"{world.borne}/api/v1/partners")
    assert no_key.status_code == 401
