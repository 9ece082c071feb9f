"""The id tokens operator API over ASGI: CRUD, case-insensitive values, filters, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from api_helpers import error_of, locs

from borne.authorization import service
from borne.core.deps import Deps

URL = "/api/v1/id-tokens"


async def create(api: httpx.AsyncClient, id_token: str, **fields: Any) -> dict[str, Any]:
    response = await api.post(URL, json={"id_token": id_token, **fields})
    assert response.status_code == 201, response.text
    out: dict[str, Any] = response.json()
    return out


async def test_create_and_read_in_any_letter_case(api: httpx.AsyncClient, deps: Deps) -> None:
    response = await api.post(
        URL,
        json={
            "id_token": "04A1B2C3",
            "type": "ISO14443",
            "status": "Accepted",
            "expiry_date": "2099-01-01T01:00:00+01:00",
            "group_id_token": "FLEET-1",
            "label": "Alice's card",
        },
    )
    read = await api.get(f"{URL}/04a1b2c3")

    assert response.status_code == 201
    assert response.headers["location"] == "/api/v1/id-tokens/04A1B2C3"
    token = response.json()
    assert token["id_token"] == "04A1B2C3" and token["type"] == "ISO14443"
    assert token["status"] == token["effective_status"] == "Accepted"
    assert datetime.fromisoformat(token["expiry_date"]) == datetime(2099, 1, 1, tzinfo=UTC)
    assert (token["group_id_token"], token["label"], token["notes"]) == (
        "FLEET-1",
        "Alice's card",
        None,
    )
    assert read.status_code == 200 and read.json() == token
    async with deps.db.unit_of_work() as uow:  # what an Authorize would answer
        verdict = await service.check_token(uow.session, "04a1b2c3", now=datetime.now(UTC))
    assert (verdict.status, verdict.group_id_token) == ("Accepted", "FLEET-1")


async def test_defaults_and_expired_tokens(api: httpx.AsyncClient) -> None:
    plain = await create(api, "TAG1")
    past = datetime.now(UTC) - timedelta(days=1)
    expired = await create(api, "TAG2", expiry_date=past.isoformat())

    assert (plain["type"], plain["status"], plain["expiry_date"]) == ("ISO14443", "Accepted", None)
    assert (expired["status"], expired["effective_status"]) == ("Accepted", "Expired")


async def test_duplicate_in_another_case_is_409_and_keeps_the_first(
    api: httpx.AsyncClient,
) -> None:
    await create(api, "ABC", label="first")

    response = await api.post(URL, json={"id_token": "abc", "label": "second"})

    error_of(response, 409, "conflict")
    listed = (await api.get(URL)).json()
    assert [(t["id_token"], t["label"]) for t in listed["items"]] == [("ABC", "first")]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"id_token": ""}, ["body", "id_token"]),
        ({"id_token": "x" * 256}, ["body", "id_token"]),
        ({"id_token": "bad\ttoken"}, ["body", "id_token"]),
        ({"id_token": 1234}, ["body", "id_token"]),
        ({"id_token": "T", "type": "Magic"}, ["body", "type"]),
        ({"id_token": "T", "status": "Maybe"}, ["body", "status"]),
        ({"id_token": "T", "expiry_date": "2030-01-01T00:00:00"}, ["body", "expiry_date"]),
        ({"id_token": "T", "expiry_date": "soon"}, ["body", "expiry_date"]),
        ({"id_token": "T", "expiry_date": "0001-01-01T00:00:00+01:00"}, ["body", "expiry_date"]),
        ({"id_token": "T", "label": "nul\u0000"}, ["body", "label"]),
        ({"id_token": "T", "label": "x" * 256}, ["body", "label"]),
        ({"id_token": "T", "group_id_token": ""}, ["body", "group_id_token"]),
        ({"id_token": "T", "owner": "me"}, ["body", "owner"]),
        ({}, ["body", "id_token"]),
    ],
)
async def test_invalid_token_is_422_and_not_stored(
    api: httpx.AsyncClient, body: dict[str, Any], loc: list[str]
) -> None:
    response = await api.post(URL, json=body)

    assert locs(response) == [loc]
    assert (await api.get(URL)).json()["total"] == 0


async def test_list_pages_in_creation_order_with_filters(api: httpx.AsyncClient) -> None:
    await create(api, "T1", group_id_token="G1")
    await create(api, "T2", status="Blocked", group_id_token="G1")
    await create(api, "T3", group_id_token="G2")
    await create(api, "T4")

    first = (await api.get(URL, params={"limit": 3})).json()
    rest = (await api.get(URL, params={"limit": 3, "offset": 3})).json()
    group = (await api.get(URL, params={"group_id_token": "G1"})).json()
    accepted_g1 = (await api.get(URL, params={"group_id_token": "G1", "status": "Accepted"})).json()

    assert [t["id_token"] for t in first["items"]] == ["T1", "T2", "T3"]
    assert (first["total"], first["offset"], first["limit"]) == (4, 0, 3)
    assert [t["id_token"] for t in rest["items"]] == ["T4"]
    assert [t["id_token"] for t in group["items"]] == ["T1", "T2"]
    assert [t["id_token"] for t in accepted_g1["items"]] == ["T1"]


@pytest.mark.parametrize(
    "params",
    [{"status": "Nope"}, {"limit": 0}, {"limit": 501}, {"offset": -5}, {"group_id_token": "a\x00"}],
)
async def test_bad_list_parameters_are_422(api: httpx.AsyncClient, params: dict[str, Any]) -> None:
    response = await api.get(URL, params=params)

    assert [loc[0] for loc in locs(response)] == ["query"]


async def test_patch_changes_what_is_sent_and_null_clears(api: httpx.AsyncClient) -> None:
    await create(api, "TAG1", label="card", group_id_token="G1", expiry_date="2099-01-01T00:00:00Z")

    blocked = await api.patch(f"{URL}/tag1", json={"status": "Blocked"})
    cleared = await api.patch(f"{URL}/TAG1", json={"label": None, "expiry_date": None})
    moved = await api.patch(f"{URL}/TAG1", json={"group_id_token": "G2", "type": "Central"})

    assert blocked.status_code == 200
    assert blocked.json()["status"] == blocked.json()["effective_status"] == "Blocked"
    assert (blocked.json()["label"], blocked.json()["group_id_token"]) == ("card", "G1")
    assert (cleared.json()["label"], cleared.json()["expiry_date"]) == (None, None)
    assert cleared.json()["group_id_token"] == "G1" and cleared.json()["status"] == "Blocked"
    assert (moved.json()["group_id_token"], moved.json()["type"]) == ("G2", "Central")
    assert moved.json()["updated_at"] >= moved.json()["created_at"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"status": None}, ["body", "status"]),
        ({"type": None}, ["body", "type"]),
        ({"status": "Sleeping"}, ["body", "status"]),
        ({"expiry_date": "2030-01-01"}, ["body", "expiry_date"]),
        ({"id_token": "OTHER"}, ["body", "id_token"]),
    ],
)
async def test_invalid_patch_is_422_and_changes_nothing(
    api: httpx.AsyncClient, body: dict[str, Any], loc: list[str]
) -> None:
    before = await create(api, "TAG1", label="card")

    response = await api.patch(f"{URL}/TAG1", json={"label": "changed", **body})

    assert locs(response) == [loc]
    assert (await api.get(f"{URL}/TAG1")).json() == before


async def test_unknown_token_is_404(api: httpx.AsyncClient) -> None:
    for response in [
        await api.get(f"{URL}/NOPE"),
        await api.patch(f"{URL}/NOPE", json={"status": "Blocked"}),
        await api.delete(f"{URL}/NOPE"),
    ]:
        error = error_of(response, 404, "not_found")
        assert error["details"] == {"id_token": "NOPE"}


async def test_malformed_token_in_the_path_is_422(api: httpx.AsyncClient) -> None:
    response = await api.get(f"{URL}/{'x' * 256}")
    control = await api.get(f"{URL}/a%01b")

    assert locs(response) == [["path", "id_token"]]
    assert locs(control) == [["path", "id_token"]]


async def test_delete_is_204_then_404(api: httpx.AsyncClient, deps: Deps) -> None:
    await create(api, "TAG1")

    deleted = await api.delete(f"{URL}/tag1")
    again = await api.get(f"{URL}/TAG1")

    assert deleted.status_code == 204 and deleted.content == b""
    error_of(again, 404, "not_found")
    async with deps.db.unit_of_work() as uow:
        verdict = await service.check_token(uow.session, "TAG1", now=datetime.now(UTC))
    assert verdict.status == "Invalid"


async def test_location_of_a_token_with_reserved_characters(api: httpx.AsyncClient) -> None:
    response = await api.post(URL, json={"id_token": "Key #1/a?b"})
    location = response.headers["location"]
    read = await api.get(location)

    assert location == "/api/v1/id-tokens/Key%20%231%2Fa%3Fb"
    assert read.status_code == 200 and read.json()["id_token"] == "Key #1/a?b"
