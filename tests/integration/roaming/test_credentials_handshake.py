"""The OCPI credentials handshake over real HTTP, both ways, with rotation, switch and DELETE."""

from __future__ import annotations

from roaming_peer import World, role, token_header, world

from borne.roaming import partners as svc

__all__ = ["world"]  # the fixture, imported from roaming_peer

B = "peer-token-B-" + "x" * 20


async def test_partner_registers_with_borne(world: World) -> None:
    partner_id, token_a = await world.create_partner()

    versions = await world.ocpi_call("GET", "/versions", token_a)
    assert versions.status_code == 200
    listed = {v["version"]: v["url"] for v in versions.json()["data"]}
    assert listed == {
        "2.2.1": f"{world.ocpi}/2.2.1/details",
        "2.3.0": f"{world.ocpi}/2.3.0/details",
    }
    details = (await world.ocpi_call("GET", "/2.2.1/details", token_a)).json()["data"]
    modules = {(e["identifier"], e["role"]) for e in details["endpoints"]}
    assert ("locations", "SENDER") in modules
    assert ("commands", "RECEIVER") in modules
    assert ("credentials", "RECEIVER") in modules

    creds = await world.register(token_a, B)

    token_c = creds["token"]
    assert token_c not in (token_a, B)
    assert creds["url"] == f"{world.ocpi}/versions"
    assert creds["roles"] == [
        {
            "role": "CPO",
            "business_details": {"name": "Borne Test"},
            "party_id": "BRN",
            "country_code": "NL",
        }
    ]
    # Borne fetched the peer's versions and details with token B.
    assert ("GET", "/versions", B) in world.peer.calls
    assert ("GET", "/2.2.1", B) in world.peer.calls

    partner = await world.partner(partner_id)
    assert partner["status"] == "registered"
    assert partner["version"] == "2.2.1"
    assert partner["versions_url"] == world.peer.versions_url
    assert {e["identifier"] for e in partner["endpoints"]} == {"credentials", "tokens", "cdrs"}
    assert [(r["country_code"], r["party_id"], r["role"]) for r in partner["roles"]] == [
        ("NL", "EMS", "EMSP")
    ]
    assert partner["last_success_at"] is not None

    # Token A is retired (R28); token C works; the GET echoes the caller's token.
    assert (await world.ocpi_call("GET", "/versions", token_a)).status_code == 401
    got = await world.ocpi_call("GET", "/2.2.1/credentials", token_c)
    assert got.json()["data"]["token"] == token_c

    # Borne sends token B to the peer from now on.
    async with world.ctx.db.unit_of_work() as uow:
        link = await svc.get_link(uow, partner_id=partner_id)
    assert link is not None
    assert (link.token, link.version) == (B, "2.2.1")
    assert link.endpoint("cdrs", "RECEIVER") == f"{world.peer.base}/2.2.1/cdrs"


async def test_second_post_is_405(world: World) -> None:
    _, token_a = await world.create_partner()
    token_c = (await world.register(token_a, B))["token"]
    again = await world.ocpi_call("POST", "/2.2.1/credentials", token_c, world.peer.credentials(B))
    assert again.status_code == 405
    assert again.json()["status_code"] == 2000


async def test_unknown_or_missing_token_is_401(world: World) -> None:
    await world.create_partner()
    assert (await world.ocpi_call("GET", "/versions", "not-a-token")).status_code == 401
    bare = await world.http.get(f"{world.ocpi}/versions")
    assert bare.status_code == 401
    # Authentication comes before the body: junk from a stranger is still 401.
    junk = await world.http.post(
        f"{world.ocpi}/2.2.1/credentials",
        content=b"{not json",
        headers={"Authorization": "Token bm9wZQ=="},
    )
    assert junk.status_code == 401


async def test_raw_token_only_when_allowed(world: World) -> None:
    _, strict = await world.create_partner("strict")
    _, lenient = await world.create_partner("lenient", accept_raw_tokens=True)
    raw = {"Authorization": f"Token {strict}"}
    assert (await world.http.get(f"{world.ocpi}/versions", headers=raw)).status_code == 401
    raw = {"Authorization": f"Token {lenient}"}
    assert (await world.http.get(f"{world.ocpi}/versions", headers=raw)).status_code == 200


async def test_unreachable_partner_answers_3001_and_keeps_token_a(world: World) -> None:
    partner_id, token_a = await world.create_partner()
    world.peer.down = True
    r = await world.ocpi_call("POST", "/2.2.1/credentials", token_a, world.peer.credentials(B))
    assert r.status_code == 200
    assert r.json()["status_code"] == 3001
    partner = await world.partner(partner_id)
    assert partner["status"] == "pending"
    assert partner["last_error"]
    assert B not in str(partner)

    world.peer.down = False
    assert (await world.ocpi_call("GET", "/versions", token_a)).status_code == 200
    await world.register(token_a, B)


async def test_invalid_credentials_object_is_2001(world: World) -> None:
    _, token_a = await world.create_partner()
    bad = world.peer.credentials("has space")
    r = await world.ocpi_call("POST", "/2.2.1/credentials", token_a, bad)
    assert (r.status_code, r.json()["status_code"]) == (200, 2001)
    broken = await world.http.post(
        f"{world.ocpi}/2.2.1/credentials",
        content=b"{not json",
        headers=token_header(token_a),
    )
    assert broken.status_code == 400


async def test_put_with_partner_down_keeps_everything(world: World) -> None:
    """R33: a failed rotation keeps the old token C working and the old token B in use."""
    partner_id, token_a = await world.create_partner()
    token_c = (await world.register(token_a, B))["token"]

    world.peer.down = True
    b2 = "peer-token-B2-" + "y" * 20
    r = await world.ocpi_call("PUT", "/2.2.1/credentials", token_c, world.peer.credentials(b2))
    assert r.json()["status_code"] == 3001
    assert (await world.ocpi_call("GET", "/versions", token_c)).status_code == 200
    async with world.ctx.db.unit_of_work() as uow:
        link = await svc.get_link(uow, partner_id=partner_id)
    assert link is not None and link.token == B

    # Back up: the rotation succeeds, the old token C dies only now.
    world.peer.down = False
    world.peer.accepted.add(b2)
    r = await world.ocpi_call("PUT", "/2.2.1/credentials", token_c, world.peer.credentials(b2))
    assert r.json()["status_code"] == 1000, r.text
    token_c2 = r.json()["data"]["token"]
    assert token_c2 != token_c
    assert ("GET", "/versions", b2) in world.peer.calls
    assert (await world.ocpi_call("GET", "/versions", token_c)).status_code == 401
    assert (await world.ocpi_call("GET", "/versions", token_c2)).status_code == 200
    async with world.ctx.db.unit_of_work() as uow:
        link = await svc.get_link(uow, partner_id=partner_id)
    assert link is not None and link.token == b2


async def test_put_at_other_version_switches(world: World) -> None:
    world.peer.versions = ("2.2.1", "2.3.0")
    partner_id, token_a = await world.create_partner()
    token_c = (await world.register(token_a, B))["token"]
    assert (await world.partner(partner_id))["version"] == "2.2.1"

    r = await world.ocpi_call("PUT", "/2.3.0/credentials", token_c, world.peer.credentials(B))
    assert r.json()["status_code"] == 1000, r.text
    partner = await world.partner(partner_id)
    assert partner["version"] == "2.3.0"
    assert all("/2.3.0/" in e["url"] for e in partner["endpoints"])

    # A version the peer does not offer: 3002, nothing changes.
    world.peer.versions = ("2.3.0",)
    token_c2 = r.json()["data"]["token"]
    r = await world.ocpi_call("PUT", "/2.2.1/credentials", token_c2, world.peer.credentials(B))
    assert r.json()["status_code"] == 3002
    assert (await world.partner(partner_id))["version"] == "2.3.0"


async def test_put_and_delete_before_registration_are_405(world: World) -> None:
    _, token_a = await world.create_partner()
    r = await world.ocpi_call("PUT", "/2.2.1/credentials", token_a, world.peer.credentials(B))
    assert r.status_code == 405
    assert (await world.ocpi_call("DELETE", "/2.2.1/credentials", token_a)).status_code == 405


async def test_delete_unregisters(world: World) -> None:
    partner_id, token_a = await world.create_partner()
    token_c = (await world.register(token_a, B))["token"]
    r = await world.ocpi_call("DELETE", "/2.2.1/credentials", token_c)
    assert (r.status_code, r.json()["status_code"]) == (200, 1000)
    assert (await world.ocpi_call("GET", "/versions", token_c)).status_code == 401
    partner = await world.partner(partner_id)
    assert partner["status"] == "unregistered"
    assert partner["roles"] == []
    async with world.ctx.db.unit_of_work() as uow:
        assert await svc.get_link(uow, partner_id=partner_id) is None


async def test_two_roles_on_one_connection(world: World) -> None:
    world.peer.roles = [role("EMSP", "nl", "ems", "Peer eMSP"), role("NSP", "NL", "NAV", "Nav")]
    partner_id, token_a = await world.create_partner()
    token_c = (await world.register(token_a, B))["token"]
    roles = {
        (r["country_code"], r["party_id"], r["role"])
        for r in (await world.partner(partner_id))["roles"]
    }
    assert roles == {("NL", "EMS", "EMSP"), ("NL", "NAV", "NSP")}
    party = await world.party(token_c)
    assert party is not None
    assert {(r.country_code, r.party_id, r.role) for r in party.roles} == roles


async def test_role_taken_by_another_partner_is_refused(world: World) -> None:
    _, token_a1 = await world.create_partner("first")
    await world.register(token_a1, B)
    partner2, token_a2 = await world.create_partner("second")
    r = await world.ocpi_call(
        "POST", "/2.2.1/credentials", token_a2, world.peer.credentials("other-B-" + "z" * 20)
    )
    assert r.json()["status_code"] == 2001
    assert "EMS" in r.json()["status_message"]
    assert (await world.partner(partner2))["status"] == "pending"
    assert (await world.ocpi_call("GET", "/versions", token_a2)).status_code == 200
