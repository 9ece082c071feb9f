"""The operator API of the commands, over ASGI, against a fake station in the real registry."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter

from borne import __version__
from borne.api_context import ApiContext
from borne.app import create_app
from borne.core.deps import Deps
from borne.core.errors import CallQueueFull, StationCallError, StationCallTimeout
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.versions import OcppVersion
from fake_station import FakeStation

KEY = "test-operator-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
V16 = OcppVersion.V16
V201 = OcppVersion.V201

broken = APIRouter()


@broken.get("/broken")
async def explode() -> None:
    raise RuntimeError("internal detail that must not leak")


@pytest.fixture
async def client(deps: Deps) -> AsyncIterator[httpx.AsyncClient]:
    context = ApiContext(
        deps=deps,
        outbound=OcppOutbound(deps.registry),
        api_keys=["other-key", KEY],
        routers=[broken],
    )
    transport = httpx.ASGITransport(app=create_app(context))
    async with httpx.AsyncClient(transport=transport, base_url="http://borne") as c:
        yield c


def station(
    deps: Deps, version: OcppVersion, answers: dict[str, Any], sid: str = "CP-1"
) -> FakeStation:
    fake = FakeStation(sid, version, answers)
    deps.registry.register(fake)
    return fake


def url(command: str, sid: str = "CP-1") -> str:
    return f"/api/v1/stations/{sid}/commands/{command}"


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    error: dict[str, Any] = body["error"]
    return error


# --- infrastructure -------------------------------------------------------------------------


async def test_health_is_open_and_counts_connected_stations(
    client: httpx.AsyncClient, deps: Deps
) -> None:
    first = await client.get("/health")
    station(deps, V16, {})
    second = await client.get("/health")

    assert first.status_code == 200
    assert first.json() == {"status": "ok", "version": __version__, "connected_stations": 0}
    assert second.json()["connected_stations"] == 1


async def test_openapi_and_docs_are_served(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    docs = await client.get("/docs")

    assert spec["info"] == {
        "title": "Borne",
        "version": __version__,
        "description": spec["info"]["description"],
    }
    assert "/api/v1/stations/{station_id}/commands/reset" in spec["paths"]
    assert {"HTTPBearer", "APIKeyHeader"} <= set(spec["components"]["securitySchemes"])
    assert docs.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key"},
        {"Authorization": f"Basic {KEY}"},
        {"X-API-Key": "wrong-key"},
        {"X-API-Key": ""},
        {"Authorization": "Bearer "},
    ],
    ids=["none", "wrong-bearer", "not-bearer", "wrong-header", "empty-header", "empty-bearer"],
)
async def test_missing_or_wrong_key_is_401(
    client: httpx.AsyncClient, deps: Deps, headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    fake = station(deps, V16, {"Reset": {"status": "Accepted"}})
    caplog.set_level(logging.DEBUG)

    response = await client.post(url("reset"), json={"type": "soft"}, headers=headers)

    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"
    assert "wrong-key" not in response.text and KEY not in response.text
    assert "wrong-key" not in caplog.text and KEY not in caplog.text
    assert fake.calls == []


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": f"Bearer {KEY}"}, {"authorization": f"bearer {KEY}"}, {"X-API-Key": KEY}],
)
async def test_a_right_key_in_either_header_is_accepted(
    client: httpx.AsyncClient, deps: Deps, headers: dict[str, str]
) -> None:
    station(deps, V16, {"Reset": {"status": "Accepted"}})

    response = await client.post(url("reset"), json={"type": "soft"}, headers=headers)

    assert response.status_code == 200


async def test_malformed_json_without_a_key_is_still_401(client: httpx.AsyncClient) -> None:
    response = await client.post(
        url("reset"), content=b"{not json", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 401


@pytest.mark.parametrize(
    ("sid", "body"),
    [("CP-1", {"type": "medium"}), ("A" * 49, {"type": "soft"})],
    ids=["body", "path"],
)
async def test_invalid_input_without_a_key_is_401_not_422(
    client: httpx.AsyncClient, sid: str, body: dict[str, Any]
) -> None:
    response = await client.post(url("reset", sid), json=body)

    assert response.status_code == 401


async def test_malformed_json_is_400(client: httpx.AsyncClient, deps: Deps) -> None:
    station(deps, V16, {})

    response = await client.post(
        url("reset"), content=b"{not json", headers={**AUTH, "Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_json"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({}, ["body", "type"]),
        ({"type": "medium"}, ["body", "type"]),
        ({"type": "soft", "evse_id": "one"}, ["body", "evse_id"]),
        ({"type": "soft", "evse_id": -1}, ["body", "evse_id"]),
        ({"type": "soft", "surprise": 1}, ["body", "surprise"]),
    ],
)
async def test_invalid_body_is_a_clean_422(
    client: httpx.AsyncClient, deps: Deps, body: dict[str, Any], loc: list[str]
) -> None:
    fake = station(deps, V201, {"Reset": {"status": "Accepted"}})

    response = await client.post(url("reset"), json=body, headers=AUTH)

    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert [e["loc"] for e in error["details"]["errors"]] == [loc]
    assert "Traceback" not in response.text
    assert fake.calls == []


@pytest.mark.parametrize("sid", ["A" * 49, "CP:1"], ids=["too-long", "colon"])
async def test_invalid_station_id_is_422(client: httpx.AsyncClient, sid: str) -> None:
    response = await client.post(url("reset", sid), json={"type": "soft"}, headers=AUTH)

    assert response.status_code == 422
    assert error_of(response)["details"]["errors"][0]["loc"] == ["path", "station_id"]


async def test_unknown_route_and_method_are_json(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/nothing-here", headers=AUTH)
    wrong_method = await client.get(url("reset"), headers=AUTH)

    assert missing.status_code == 404
    assert error_of(missing)["code"] == "not_found"
    assert wrong_method.status_code == 405
    assert error_of(wrong_method)["code"] == "method_not_allowed"


async def test_unexpected_error_is_a_generic_500_with_the_traceback_in_the_log(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await client.get("/api/v1/broken", headers=AUTH)

    assert response.status_code == 500
    assert error_of(response) == {
        "code": "internal_error",
        "message": "internal server error",
        "details": {},
    }
    assert "must not leak" not in response.text
    assert "must not leak" in caplog.text and "Traceback" in caplog.text


async def test_extra_routers_are_behind_authentication(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/broken")

    assert response.status_code == 401


# --- commands -------------------------------------------------------------------------------


async def test_unknown_station_is_409(client: httpx.AsyncClient) -> None:
    response = await client.post(url("reset", "nobody"), json={"type": "soft"}, headers=AUTH)

    assert response.status_code == 409
    assert error_of(response)["code"] == "station_not_connected"


async def test_station_callerror_is_502_with_its_code(
    client: httpx.AsyncClient, deps: Deps
) -> None:
    station(deps, V16, {"Reset": StationCallError("InternalError", "relay stuck", {"relay": 2})})

    response = await client.post(url("reset"), json={"type": "hard"}, headers=AUTH)

    assert response.status_code == 502
    error = error_of(response)
    assert error["code"] == "station_call_error"
    assert error["details"] == {
        "error_code": "InternalError",
        "description": "relay stuck",
        "error_details": {"relay": 2},
    }


async def test_station_timeout_is_504(client: httpx.AsyncClient, deps: Deps) -> None:
    station(deps, V201, {"Reset": StationCallTimeout("no answer from CP-1 in 30 s")})

    response = await client.post(url("reset"), json={"type": "hard"}, headers=AUTH)

    assert response.status_code == 504
    assert error_of(response)["code"] == "station_timeout"


async def test_station_queue_full_is_503(client: httpx.AsyncClient, deps: Deps) -> None:
    station(deps, V201, {"ClearCache": CallQueueFull("too many calls waiting")})

    response = await client.post(url("clear-cache"), headers=AUTH)

    assert response.status_code == 503


async def test_command_the_version_lacks_is_422(client: httpx.AsyncClient, deps: Deps) -> None:
    fake = station(deps, V201, {})

    response = await client.post(url("get-configuration"), json={}, headers=AUTH)

    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid_input"
    assert "get variables" in error["message"]
    assert fake.calls == []


CASES = [
    (
        "reset",
        V16,
        {"type": "hard"},
        ("Reset", {"type": "Hard"}),
        {"status": "Accepted"},
        {"status": "Accepted"},
    ),
    (
        "reset",
        V201,
        {"type": "soft", "evse_id": 1},
        ("Reset", {"type": "OnIdle", "evseId": 1}),
        {"status": "Rejected", "statusInfo": {"reasonCode": "Busy"}},
        {"status": "Rejected", "reason": "Busy"},
    ),
    (
        "remote-start",
        V16,
        {"id_token": "TAG1", "connector_id": 1},
        ("RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 1}),
        {"status": "Accepted"},
        {"status": "Accepted", "remote_start_id": None},
    ),
    (
        "remote-start",
        V201,
        {"id_token": "TAG1", "evse_id": 2, "remote_start_id": 9},
        (
            "RequestStartTransaction",
            {"idToken": {"idToken": "TAG1", "type": "Central"}, "evseId": 2, "remoteStartId": 9},
        ),
        {"status": "Accepted"},
        {"status": "Accepted", "remote_start_id": 9, "transaction_id": None},
    ),
    (
        "remote-stop",
        V16,
        {"transaction_id": 17},
        ("RemoteStopTransaction", {"transactionId": 17}),
        {"status": "Accepted"},
        {"status": "Accepted"},
    ),
    (
        "remote-stop",
        V201,
        {"transaction_id": "abc-1"},
        ("RequestStopTransaction", {"transactionId": "abc-1"}),
        {"status": "Accepted"},
        {"status": "Accepted"},
    ),
    (
        "unlock-connector",
        V201,
        {"evse_id": 1, "connector_id": 1},
        ("UnlockConnector", {"evseId": 1, "connectorId": 1}),
        {"status": "Unlocked"},
        {"status": "Unlocked"},
    ),
    (
        "reserve-now",
        V16,
        {"reservation_id": 5, "id_token": "TAG1", "expiry": "2030-01-01T12:00:00Z"},
        (
            "ReserveNow",
            {
                "connectorId": 0,
                "expiryDate": "2030-01-01T12:00:00Z",
                "idTag": "TAG1",
                "reservationId": 5,
            },
        ),
        {"status": "Occupied"},
        {"status": "Occupied"},
    ),
    (
        "reserve-now",
        V201,
        {
            "reservation_id": 6,
            "id_token": "TAG1",
            "expiry": "2030-01-01T12:00:00Z",
            "evse_id": 2,
            "group_id_token": "GRP",
        },
        (
            "ReserveNow",
            {
                "id": 6,
                "expiryDateTime": "2030-01-01T12:00:00Z",
                "idToken": {"idToken": "TAG1", "type": "Central"},
                "evseId": 2,
                "groupIdToken": {"idToken": "GRP", "type": "Central"},
            },
        ),
        {"status": "Accepted"},
        {"status": "Accepted"},
    ),
    (
        "cancel-reservation",
        V201,
        {"reservation_id": 6},
        ("CancelReservation", {"reservationId": 6}),
        {"status": "Rejected"},
        {"status": "Rejected"},
    ),
    (
        "change-availability",
        V16,
        {"availability": "inoperative"},
        ("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}),
        {"status": "Scheduled"},
        {"status": "Scheduled"},
    ),
    (
        "change-configuration",
        V16,
        {"key": "MeterValueSampleInterval", "value": "30"},
        ("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "30"}),
        {"status": "NotSupported"},
        {"status": "NotSupported"},
    ),
    (
        "get-configuration",
        V16,
        {"keys": ["A", "B"]},
        ("GetConfiguration", {"key": ["A", "B"]}),
        {"configurationKey": [{"key": "A", "readonly": True, "value": "1"}], "unknownKey": ["B"]},
        {
            "status": "Accepted",
            "entries": [{"key": "A", "value": "1", "readonly": True}],
            "unknown_keys": ["B"],
        },
    ),
    (
        "get-variables",
        V201,
        {"variables": [{"component": "EVSE", "variable": "Power", "evse_id": 1}]},
        (
            "GetVariables",
            {
                "getVariableData": [
                    {
                        "component": {"name": "EVSE", "evse": {"id": 1}},
                        "variable": {"name": "Power"},
                    }
                ]
            },
        ),
        {
            "getVariableResult": [
                {
                    "attributeStatus": "Accepted",
                    "attributeValue": "22000",
                    "component": {"name": "EVSE", "evse": {"id": 1}},
                    "variable": {"name": "Power"},
                }
            ]
        },
        {
            "status": "Accepted",
            "results": [
                {
                    "component": "EVSE",
                    "variable": "Power",
                    "component_instance": None,
                    "variable_instance": None,
                    "evse_id": 1,
                    "connector_id": None,
                    "status": "Accepted",
                    "attribute_type": None,
                    "value": "22000",
                    "reason": None,
                    "reason_info": None,
                }
            ],
        },
    ),
    (
        "set-variables",
        V201,
        {"variables": [{"component": "C", "variable": "V", "value": "1"}]},
        (
            "SetVariables",
            {
                "setVariableData": [
                    {"attributeValue": "1", "component": {"name": "C"}, "variable": {"name": "V"}}
                ]
            },
        ),
        {
            "setVariableResult": [
                {
                    "attributeStatus": "Accepted",
                    "component": {"name": "C"},
                    "variable": {"name": "V"},
                }
            ]
        },
        {"status": "Accepted"},
    ),
    (
        "get-base-report",
        V201,
        {"report_base": "ConfigurationInventory", "request_id": 3},
        ("GetBaseReport", {"requestId": 3, "reportBase": "ConfigurationInventory"}),
        {"status": "EmptyResultSet"},
        {"status": "EmptyResultSet", "request_id": 3},
    ),
    (
        "trigger-message",
        V16,
        {"message": "heartbeat"},
        ("TriggerMessage", {"requestedMessage": "Heartbeat"}),
        {"status": "Accepted"},
        {"status": "Accepted"},
    ),
    (
        "trigger-message",
        V201,
        {"message": "status_notification", "evse_id": 1, "connector_id": 1},
        (
            "TriggerMessage",
            {"requestedMessage": "StatusNotification", "evse": {"id": 1, "connectorId": 1}},
        ),
        {"status": "Accepted"},
        {"status": "Accepted"},
    ),
    (
        "data-transfer",
        V201,
        {"vendor_id": "acme", "message_id": "ping", "data": {"n": 1}},
        ("DataTransfer", {"vendorId": "acme", "messageId": "ping", "data": {"n": 1}}),
        {"status": "Accepted", "data": {"pong": True}},
        {"status": "Accepted", "data": {"pong": True}},
    ),
]


@pytest.mark.parametrize(
    ("command", "version", "body", "sent", "answer", "expected"),
    CASES,
    ids=[f"{c[0]}-{c[1].value}" for c in CASES],
)
async def test_command_endpoint_sends_the_call_and_returns_the_answer(
    client: httpx.AsyncClient,
    deps: Deps,
    command: str,
    version: OcppVersion,
    body: dict[str, Any],
    sent: tuple[str, dict[str, Any]],
    answer: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    fake = station(deps, version, {sent[0]: answer})

    response = await client.post(url(command), json=body, headers=AUTH)

    assert response.status_code == 200, response.text
    assert fake.calls == [sent]
    result = response.json()
    assert result["station_id"] == "CP-1"
    assert result["ocpp_version"] == version.value
    assert result["action"] == sent[0]
    assert result["raw"] == answer
    for name, value in expected.items():
        assert result[name] == value


async def test_clear_cache_needs_no_body(client: httpx.AsyncClient, deps: Deps) -> None:
    fake = station(deps, V16, {"ClearCache": {"status": "Accepted"}})

    response = await client.post(url("clear-cache"), headers=AUTH)

    assert response.status_code == 200
    assert response.json()["status"] == "Accepted"
    assert fake.calls == [("ClearCache", {})]


async def test_raw_sends_any_valid_call(client: httpx.AsyncClient, deps: Deps) -> None:
    fake = station(deps, V16, {"GetLocalListVersion": {"listVersion": 4}})

    response = await client.post(
        url("raw"), json={"action": "GetLocalListVersion", "payload": {}}, headers=AUTH
    )

    assert response.status_code == 200
    assert response.json() == {
        "station_id": "CP-1",
        "ocpp_version": "ocpp1.6",
        "action": "GetLocalListVersion",
        "raw": {"listVersion": 4},
    }
    assert fake.calls == [("GetLocalListVersion", {})]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"action": "Reset", "payload": {"type": "Sideways"}}, "invalid_input"),
        ({"action": "GetVariables", "payload": {}}, "invalid_input"),
        ({"action": "NoSuchAction", "payload": {}}, "invalid_input"),
        ({"action": "Re set", "payload": {}}, "validation_error"),
        ({"action": "Reset", "payload": []}, "validation_error"),
    ],
    ids=["schema-refused", "other-version", "unknown-action", "bad-name", "payload-not-object"],
)
async def test_raw_refusals_are_422(
    client: httpx.AsyncClient, deps: Deps, body: dict[str, Any], code: str
) -> None:
    fake = station(deps, V16, {"Reset": {"status": "Accepted"}})

    response = await client.post(url("raw"), json=body, headers=AUTH)

    assert response.status_code == 422
    assert error_of(response)["code"] == code
    assert fake.calls == []


# --- credentials change only through password rotation ---------------------------------------


@pytest.mark.parametrize(
    ("version", "command", "body"),
    [
        (V16, "change-configuration", {"key": "AuthorizationKey", "value": "x" * 20}),
        (
            V16,
            "raw",
            {
                "action": "ChangeConfiguration",
                "payload": {"key": "authorizationkey", "value": "x" * 20},
            },
        ),
        (
            V201,
            "set-variables",
            {
                "variables": [
                    {
                        "component": "SecurityCtrlr",
                        "variable": "BasicAuthPassword",
                        "value": "x" * 20,
                    }
                ]
            },
        ),
        (
            V201,
            "raw",
            {
                "action": "SetVariables",
                "payload": {
                    "setVariableData": [
                        {
                            "attributeValue": "x" * 20,
                            "component": {"name": "SecurityCtrlr"},
                            "variable": {"name": "BasicAuthPassword"},
                        }
                    ]
                },
            },
        ),
    ],
)
async def test_station_password_cannot_be_set_by_generic_commands(
    client: httpx.AsyncClient,
    deps: Deps,
    version: OcppVersion,
    command: str,
    body: dict[str, Any],
) -> None:
    """A password Borne has not stored would lock the station out at its next login."""
    fake = station(deps, version, {"ChangeConfiguration": {"status": "Accepted"}})

    response = await client.post(url(command), json=body, headers=AUTH)

    assert response.status_code == 422
    error = error_of(response)
    assert "password-rotation" in error["message"]
    assert fake.calls == []


@pytest.mark.parametrize(
    ("version", "command", "body"),
    [
        (V16, "change-configuration", {"key": "SecurityProfile", "value": "0"}),
        (
            V201,
            "set-variables",
            {
                "variables": [
                    {"component": "SecurityCtrlr", "variable": "SecurityProfile", "value": "1"}
                ]
            },
        ),
        (
            V201,
            "raw",
            {
                "action": "SetNetworkProfile",
                "payload": {"configurationSlot": 1, "connectionData": {}},
            },
        ),
    ],
)
async def test_security_profile_cannot_be_changed_by_generic_commands(
    client: httpx.AsyncClient,
    deps: Deps,
    version: OcppVersion,
    command: str,
    body: dict[str, Any],
) -> None:
    """Only the security-profile action checks for downgrades (R26): generic commands refuse."""
    fake = station(deps, version, {"ChangeConfiguration": {"status": "Accepted"}})

    response = await client.post(url(command), json=body, headers=AUTH)

    assert response.status_code == 422
    assert "security-profile" in error_of(response)["message"]
    assert fake.calls == []
