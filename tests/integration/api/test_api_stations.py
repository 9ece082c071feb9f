"""The stations operator API over ASGI: CRUD, live connection, what stations reported, errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from api_helpers import KEY, PASSWORD, LiveConnection, error_of, locs

from borne.core.deps import Deps
from borne.stations.models import (
    ConnectorStatus,
    ConnectorStatusHistory,
    DataTransferMessage,
    ReportedVariable,
    SecurityEvent,
    StationBoot,
    StationNotification,
)

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


async def create(api: httpx.AsyncClient, station_id: str, **fields: Any) -> dict[str, Any]:
    body = {"station_id": station_id, "security_profile": 0, **fields}
    response = await api.post("/api/v1/stations", json=body)
    assert response.status_code == 201, response.text
    out: dict[str, Any] = response.json()
    return out


async def add_rows(deps: Deps, *rows: object) -> None:
    async with deps.db.unit_of_work() as uow:
        uow.session.add_all(rows)
        await uow.commit()


def assert_no_secret(response: httpx.Response) -> None:
    assert PASSWORD not in response.text
    assert "pbkdf2" not in response.text and "password_hash" not in response.text


# --- create, read, list -----------------------------------------------------------------------


async def test_create_then_read_never_shows_the_password(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/v1/stations",
        json={
            "station_id": "CP-1",
            "security_profile": 1,
            "password": PASSWORD,
            "leniency": ["long-serial"],
        },
    )

    assert response.status_code == 201
    assert response.headers["location"] == "/api/v1/stations/CP-1"
    created = response.json()
    assert created["station_id"] == "CP-1"
    assert created["security_profile"] == 1
    assert created["registration_status"] == "Accepted"
    assert created["has_password"] is True and created["password_rotation_pending"] is False
    assert created["leniency"] == ["long-serial"]
    assert created["connected"] is False and created["ocpp_version"] is None
    assert "password" not in created
    assert_no_secret(response)

    detail = await api.get("/api/v1/stations/CP-1")
    listed = await api.get("/api/v1/stations")
    for r in (detail, listed):
        assert r.status_code == 200
        assert_no_secret(r)
    assert detail.json()["connectors"] == []
    assert detail.json()["boot_count"] == 0 and detail.json()["last_boot_at"] is None
    assert [s["station_id"] for s in listed.json()["items"]] == ["CP-1"]


async def test_the_password_schema_is_write_only(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]

    password = schemas["StationIn"]["properties"]["password"]["anyOf"][0]
    assert password["writeOnly"] is True and password["format"] == "password"
    assert password["minLength"] == 16 and password["maxLength"] == 40
    assert "password" not in schemas["StationOut"]["properties"]
    assert "/api/v1/stations/{station_id}/reported-variables" in spec["paths"]
    assert "/api/v1/transactions/{transaction_pk}/meter-values" in spec["paths"]
    assert "/api/v1/id-tokens/{id_token}" in spec["paths"]


async def test_list_pages_by_station_id_and_filters_by_registration(
    api: httpx.AsyncClient,
) -> None:
    for sid, status in [("CP-3", "Pending"), ("CP-1", "Accepted"), ("CP-2", "Pending")]:
        await create(api, sid, registration_status=status)

    first = (await api.get("/api/v1/stations", params={"limit": 2})).json()
    second = (await api.get("/api/v1/stations", params={"limit": 2, "offset": 2})).json()
    pending = (await api.get("/api/v1/stations", params={"registration_status": "Pending"})).json()

    assert [s["station_id"] for s in first["items"]] == ["CP-1", "CP-2"]
    assert (first["total"], first["offset"], first["limit"]) == (3, 0, 2)
    assert [s["station_id"] for s in second["items"]] == ["CP-3"]
    assert (second["total"], second["offset"]) == (3, 2)
    assert [s["station_id"] for s in pending["items"]] == ["CP-2", "CP-3"]
    assert pending["total"] == 2


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 501}, {"offset": -1}, {"limit": "ten"}, {"registration_status": "X"}],
)
async def test_bad_list_parameters_are_422(api: httpx.AsyncClient, params: dict[str, Any]) -> None:
    response = await api.get("/api/v1/stations", params=params)

    assert [loc[0] for loc in locs(response)] == ["query"]


async def test_live_connection_shows_in_list_and_detail(
    api: httpx.AsyncClient, connect: Callable[..., LiveConnection], deps: Deps
) -> None:
    await create(api, "CP-1")
    await create(api, "CP-2")
    conn = connect("CP-2", "ocpp2.0.1")

    items = {s["station_id"]: s for s in (await api.get("/api/v1/stations")).json()["items"]}
    detail = (await api.get("/api/v1/stations/CP-2")).json()

    assert (items["CP-1"]["connected"], items["CP-1"]["ocpp_version"]) == (False, None)
    assert (items["CP-2"]["connected"], items["CP-2"]["ocpp_version"]) == (True, "ocpp2.0.1")
    assert (detail["connected"], detail["ocpp_version"]) == (True, "ocpp2.0.1")

    deps.registry.unregister(conn)
    after = (await api.get("/api/v1/stations/CP-2")).json()
    assert (after["connected"], after["ocpp_version"]) == (False, None)


# --- create: refused input leaves nothing behind -------------------------------------------------


async def test_duplicate_station_is_409(api: httpx.AsyncClient) -> None:
    await create(api, "CP-1")

    response = await api.post(
        "/api/v1/stations", json={"station_id": "CP-1", "security_profile": 0}
    )

    error = error_of(response, 409, "conflict")
    assert "CP-1" in error["message"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"station_id": "CP-9", "security_profile": 1}, "invalid_input"),  # no password
        ({"station_id": "CP-9", "password": "too-short"}, "validation_error"),
        ({"station_id": "CP-9", "password": "x" * 41}, "validation_error"),
        ({"station_id": "CP-9", "security_profile": 4, "password": PASSWORD}, "validation_error"),
        ({"station_id": "CP-9", "security_profile": "one"}, "validation_error"),
        ({"station_id": "CP-9", "registration_status": "Maybe"}, "validation_error"),
        ({"station_id": "CP-9", "security_profile": 0, "leniency": ["a b"]}, "validation_error"),
        ({"station_id": "CP-9", "security_profile": 0, "colour": "red"}, "validation_error"),
        ({"station_id": "a b", "security_profile": 0}, "invalid_input"),
        ({"station_id": "a:b", "security_profile": 0}, "invalid_input"),
        ({"station_id": "bad\u0000id", "security_profile": 0}, "invalid_input"),
        ({"station_id": "x" * 49, "security_profile": 0}, "validation_error"),
        ({"station_id": "", "security_profile": 0}, "validation_error"),
        ({"station_id": 12, "security_profile": 0}, "validation_error"),
        ({"security_profile": 0}, "validation_error"),
    ],
)
async def test_invalid_station_is_422_and_not_stored(
    api: httpx.AsyncClient, body: dict[str, Any], code: str
) -> None:
    response = await api.post("/api/v1/stations", json=body)

    error_of(response, 422, code)
    assert (await api.get("/api/v1/stations")).json()["total"] == 0


async def test_422_never_echoes_the_password(api: httpx.AsyncClient) -> None:
    short = "short-secret-pw"
    response = await api.post(
        "/api/v1/stations", json={"station_id": "CP-1", "password": short, "x": 1}
    )

    assert locs(response) == [["body", "password"], ["body", "x"]]
    assert short not in response.text


async def test_malformed_json_is_400(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/v1/stations", content=b'{"station_id": ', headers={"Content-Type": "application/json"}
    )

    error_of(response, 400, "malformed_json")


# --- authentication ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/stations"),
        ("POST", "/api/v1/stations"),
        ("GET", "/api/v1/stations/CP-1"),
        ("DELETE", "/api/v1/stations/CP-1"),
        ("GET", "/api/v1/stations/CP-1/boots"),
        ("GET", "/api/v1/id-tokens"),
        ("GET", "/api/v1/transactions"),
        ("GET", "/api/v1/transactions/1/meter-values"),
    ],
)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}], ids=["none", "wrong"])
async def test_without_the_key_it_is_401(
    api: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]
) -> None:
    await create(api, "CP-1")
    transport = api._transport  # the same app, without the client's default key

    async with httpx.AsyncClient(transport=transport, base_url="http://test") as anonymous:
        response = await anonymous.request(
            method, path, headers=headers, json={"station_id": "CP-2", "security_profile": 0}
        )

    error_of(response, 401, "unauthorized")
    assert KEY not in response.text
    assert (await api.get("/api/v1/stations")).json()["total"] == 1


async def test_the_x_api_key_header_works_too(api: httpx.AsyncClient) -> None:
    async with httpx.AsyncClient(transport=api._transport, base_url="http://test") as other:
        response = await other.get("/api/v1/stations", headers={"X-API-Key": KEY})

    assert response.status_code == 200


# --- update and delete ---------------------------------------------------------------------------


async def test_patch_changes_only_what_is_given(api: httpx.AsyncClient) -> None:
    await create(api, "CP-1", leniency=["a"])

    status = await api.patch("/api/v1/stations/CP-1", json={"registration_status": "Rejected"})
    secured = await api.patch(
        "/api/v1/stations/CP-1", json={"security_profile": 1, "password": PASSWORD}
    )
    cleared = await api.patch("/api/v1/stations/CP-1", json={"leniency": []})

    assert status.status_code == 200
    assert status.json()["registration_status"] == "Rejected"
    assert status.json()["leniency"] == ["a"] and status.json()["security_profile"] == 0
    assert secured.status_code == 200
    assert secured.json()["security_profile"] == 1 and secured.json()["has_password"] is True
    assert secured.json()["registration_status"] == "Rejected"
    assert_no_secret(secured)
    assert cleared.json()["leniency"] == [] and cleared.json()["security_profile"] == 1


async def test_refused_patch_changes_nothing(api: httpx.AsyncClient) -> None:
    before = await create(api, "CP-1")

    # profile 1 needs a password and the station has none: the status must not change either
    refused = await api.patch(
        "/api/v1/stations/CP-1", json={"security_profile": 1, "registration_status": "Rejected"}
    )
    wrong_type = await api.patch("/api/v1/stations/CP-1", json={"security_profile": "high"})
    unknown_field = await api.patch("/api/v1/stations/CP-1", json={"password_hash": "x"})
    after = (await api.get("/api/v1/stations/CP-1")).json()

    error_of(refused, 422, "invalid_input")
    assert locs(wrong_type) == [["body", "security_profile"]]
    assert locs(unknown_field) == [["body", "password_hash"]]
    assert after["registration_status"] == "Accepted" and after["security_profile"] == 0
    assert after["updated_at"] == before["updated_at"]


async def test_delete_is_204_then_404(api: httpx.AsyncClient) -> None:
    await create(api, "CP-1")

    deleted = await api.delete("/api/v1/stations/CP-1")
    again = await api.delete("/api/v1/stations/CP-1")
    read = await api.get("/api/v1/stations/CP-1")

    assert deleted.status_code == 204 and deleted.content == b""
    error_of(again, 404, "not_found")
    error = error_of(read, 404, "not_found")
    assert error["details"] == {"station_id": "CP-1"}


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("GET", "/status-history"),
        ("GET", "/boots"),
        ("GET", "/notifications"),
        ("GET", "/data-transfers"),
        ("GET", "/reported-variables"),
    ],
)
async def test_unknown_station_is_404(api: httpx.AsyncClient, method: str, suffix: str) -> None:
    body = {"registration_status": "Pending"} if method == "PATCH" else None

    response = await api.request(method, f"/api/v1/stations/NOPE{suffix}", json=body)

    error_of(response, 404, "not_found")


@pytest.mark.parametrize("station_id", ["a:b", "x" * 49, "a%20b", "caf%C3%A9"])
@pytest.mark.parametrize("suffix", ["", "/boots", "/security-events"])
async def test_malformed_station_id_in_the_path_is_422(
    api: httpx.AsyncClient, station_id: str, suffix: str
) -> None:
    response = await api.get(f"/api/v1/stations/{station_id}{suffix}")

    assert locs(response) == [["path", "station_id"]]


# --- what stations reported ----------------------------------------------------------------------


async def test_detail_has_connector_statuses_and_boot_info(
    api: httpx.AsyncClient, deps: Deps
) -> None:
    await create(api, "CP-1")
    await add_rows(
        deps,
        ConnectorStatus(
            station_id="CP-1",
            evse_id=2,
            connector_id=1,
            status="Charging",
            timestamp=T0,
            updated_at=T0,
        ),
        ConnectorStatus(
            station_id="CP-1",
            evse_id=1,
            connector_id=1,
            ocpp_connector_id=1,
            status="Available",
            error_code="NoError",
            timestamp=T0,
            updated_at=T0,
        ),
    )

    detail = (await api.get("/api/v1/stations/CP-1")).json()

    assert [(c["evse_id"], c["status"]) for c in detail["connectors"]] == [
        (1, "Available"),
        (2, "Charging"),
    ]
    assert detail["connectors"][0]["ocpp_connector_id"] == 1
    assert detail["connectors"][0]["error_code"] == "NoError"


async def test_status_history_newest_first_filtered_and_paged(
    api: httpx.AsyncClient, deps: Deps
) -> None:
    await create(api, "CP-1")
    statuses = ["Available", "Preparing", "Charging", "Finishing"]
    await add_rows(
        deps,
        *[
            ConnectorStatusHistory(
                station_id="CP-1",
                evse_id=1 + i % 2,
                connector_id=1,
                status=s,
                timestamp=T0 + timedelta(minutes=i),
                received_at=T0,
            )
            for i, s in enumerate(statuses)
        ],
    )

    page = (await api.get("/api/v1/stations/CP-1/status-history", params={"limit": 3})).json()
    evse2 = (await api.get("/api/v1/stations/CP-1/status-history", params={"evse_id": 2})).json()
    huge = await api.get("/api/v1/stations/CP-1/status-history", params={"evse_id": 2**40})

    assert [h["status"] for h in page["items"]] == ["Finishing", "Charging", "Preparing"]
    assert (page["total"], page["limit"]) == (4, 3)
    assert [h["status"] for h in evse2["items"]] == ["Finishing", "Preparing"]
    assert locs(huge) == [["query", "evse_id"]]


async def test_boots_notifications_and_data_transfers(api: httpx.AsyncClient, deps: Deps) -> None:
    await create(api, "CP-1")
    await add_rows(
        deps,
        StationBoot(station_id="CP-1", booted_at=T0, status="Pending", ocpp_version="ocpp1.6"),
        StationBoot(
            station_id="CP-1",
            booted_at=T0 + timedelta(minutes=1),
            status="Accepted",
            reason="PowerUp",
            ocpp_version="ocpp2.0.1",
            firmware_version="1.2",
        ),
        StationNotification(station_id="CP-1", kind="firmware", status="Downloaded", timestamp=T0),
        StationNotification(
            station_id="CP-1", kind="log", status="Uploaded", request_id=7, timestamp=T0
        ),
        DataTransferMessage(
            station_id="CP-1",
            vendor_id="com.acme",
            message_id="hello",
            data='{"a": 1}',
            response_status="UnknownVendorId",
            received_at=T0,
        ),
    )

    boots = (await api.get("/api/v1/stations/CP-1/boots")).json()
    logs = (await api.get("/api/v1/stations/CP-1/notifications", params={"kind": "log"})).json()
    bad_kind = await api.get("/api/v1/stations/CP-1/notifications", params={"kind": "music"})
    transfers = (await api.get("/api/v1/stations/CP-1/data-transfers")).json()

    assert [b["status"] for b in boots["items"]] == ["Accepted", "Pending"]
    assert boots["items"][0]["reason"] == "PowerUp"
    assert boots["items"][0]["firmware_version"] == "1.2"
    assert [(n["kind"], n["request_id"]) for n in logs["items"]] == [("log", 7)]
    assert locs(bad_kind) == [["query", "kind"]]
    assert transfers["total"] == 1
    item = transfers["items"][0]
    assert (item["vendor_id"], item["data"], item["response_status"]) == (
        "com.acme",
        '{"a": 1}',
        "UnknownVendorId",
    )


async def test_security_events_include_unknown_station_ids(
    api: httpx.AsyncClient, deps: Deps
) -> None:
    await create(api, "CP-1")
    await add_rows(
        deps,
        SecurityEvent(
            station_id="CP-1",
            type="FirmwareUpdated",
            timestamp=T0,
            source="station",
            received_at=T0,
        ),
        SecurityEvent(
            station_id="CP-1",
            type="InvalidCsmsCertificate",
            timestamp=T0,
            source="csms",
            received_at=T0,
        ),
        SecurityEvent(
            station_id="GHOST", type="FailedLogin", timestamp=T0, source="csms", received_at=T0
        ),
    )

    mine = (await api.get("/api/v1/stations/CP-1/security-events")).json()
    from_station = await api.get(
        "/api/v1/stations/CP-1/security-events", params={"source": "station"}
    )
    ghost = (await api.get("/api/v1/stations/GHOST/security-events")).json()

    assert [e["type"] for e in mine["items"]] == ["InvalidCsmsCertificate", "FirmwareUpdated"]
    assert [e["type"] for e in from_station.json()["items"]] == ["FirmwareUpdated"]
    assert [(e["station_id"], e["type"]) for e in ghost["items"]] == [("GHOST", "FailedLogin")]


async def test_reported_variables_hide_secret_values(api: httpx.AsyncClient, deps: Deps) -> None:
    await create(api, "CP-1")

    def variable(component: str, name: str, value: str, mutability: str) -> ReportedVariable:
        return ReportedVariable(
            station_id="CP-1",
            component_name=component,
            variable_name=name,
            value=value,
            mutability=mutability,
            request_id=1,
            seq_no=0,
            updated_at=T0,
        )

    await add_rows(
        deps,
        variable("SecurityCtrlr", "BasicAuthPassword", PASSWORD, "ReadWrite"),
        variable("SecurityCtrlr", "SecurityProfile", "1", "ReadOnly"),
        variable("OCPPCommCtrlr", "HeartbeatInterval", "300", "ReadWrite"),
        variable("Vendor", "Secret", "opaque-vendor-secret", "WriteOnly"),
    )

    everything = await api.get("/api/v1/stations/CP-1/reported-variables")
    security = await api.get(
        "/api/v1/stations/CP-1/reported-variables", params={"component": "SecurityCtrlr"}
    )

    assert everything.json()["total"] == 4
    assert PASSWORD not in everything.text and "opaque-vendor-secret" not in everything.text
    values = {v["variable_name"]: (v["value"], v["value_hidden"]) for v in security.json()["items"]}
    assert values == {"BasicAuthPassword": (None, True), "SecurityProfile": ("1", False)}


async def test_password_that_cannot_be_encoded_is_422(api: httpx.AsyncClient) -> None:
    body = '{"station_id": "CP-1", "security_profile": 1, "password": "%s"}' % ("\\ud800" * 16)

    response = await api.post(
        "/api/v1/stations", content=body.encode(), headers={"Content-Type": "application/json"}
    )

    assert locs(response) == [["body", "password"]]
    assert (await api.get("/api/v1/stations")).json()["total"] == 0
