"""R24 rotation through OCPP: ``POST /api/v1/stations/{id}/password-rotation`` sends the new
password to the connected station (1.6 ChangeConfiguration AuthorizationKey, 2.0.1 SetVariables
SecurityCtrlr.BasicAuthPassword); the old password stays valid until the station logs in with
the new one, and a refused rotation leaves only the old one valid. The password is never logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from helpers import (
    BOOT16,
    PASSWORD,
    BorneServer,
    connect16,
    connect201,
    create_station,
    open_ws,
    raw_connect,
    start_server,
    station_detail,
    stop_server,
    unique_id,
)
from websockets.exceptions import InvalidStatus

NEW_PASSWORD = "rotated-Secret-0123456789"
OTHER_PASSWORD = "another-Secret-9876543210"


def _path(station_id: str) -> str:
    return f"/stations/{station_id}/password-rotation"


async def _rotate(api: httpx.AsyncClient, station_id: str, password: str) -> httpx.Response:
    return await api.post(_path(station_id), json={"new_password": password})


async def _secured_station(server: BorneServer) -> str:
    station_id = unique_id("ROT")
    async with server.api() as api:
        await create_station(api, station_id, profile=1, password=PASSWORD)
    return station_id


async def _login_works(server: BorneServer, station_id: str, subprotocol: str, pw: str) -> None:
    """A full login: the upgrade is admitted and a BootNotification is accepted."""
    async with raw_connect(server, station_id, subprotocol, pw) as raw:
        if subprotocol == "ocpp1.6":
            boot = await raw.result("BootNotification", BOOT16)
        else:
            boot = await raw.result(
                "BootNotification",
                {"chargingStation": {"vendorName": "E2E", "model": "Rot"}, "reason": "PowerUp"},
            )
        assert boot["status"] == "Accepted"


async def _login_refused(server: BorneServer, station_id: str, subprotocol: str, pw: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        ws = await open_ws(server, station_id, subprotocol, pw)
        await ws.close()
    assert refused.value.response.status_code == 401


def _password_logged(caplog: pytest.LogCaptureFixture, *secrets: str) -> list[str]:
    """Server-side log lines that contain one of ``secrets`` (the test's own station client,
    the ``ocpp`` package, logs its frames: it is not Borne)."""
    return [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if not r.name.startswith(("ocpp", "websockets.client"))
        and any(s in r.getMessage() or s in (r.exc_text or "") for s in secrets)
    ]


def _set_variable_answer(status: str) -> dict[str, Any]:
    return {
        "set_variable_result": [
            {
                "attribute_status": status,
                "component": {"name": "SecurityCtrlr"},
                "variable": {"name": "BasicAuthPassword"},
            }
        ]
    }


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


# ------------------------------------------------------------------------------ accepted


async def test_r24_rotation_16_old_password_valid_until_station_uses_the_new_one(
    borne_server: BorneServer, debug_logs: pytest.LogCaptureFixture
) -> None:
    station_id = await _secured_station(borne_server)
    async with borne_server.api() as api:
        async with connect16(borne_server, station_id, PASSWORD) as cp:
            assert (await cp.boot()).status == "Accepted"
            r = await _rotate(api, station_id, NEW_PASSWORD)
            assert r.status_code == 200, r.text
            assert r.json() == {
                "station_id": station_id,
                "ocpp_version": "ocpp1.6",
                "action": "ChangeConfiguration",
                "status": "Accepted",
                "accepted": True,
                "password_rotation_pending": True,
                "reason": None,
            }
            assert await cp.received("ChangeConfiguration") == {
                "key": "AuthorizationKey",
                "value": NEW_PASSWORD,
            }
            assert (await station_detail(api, station_id))["password_rotation_pending"] is True
        # the station has not used the new password yet: the old one still works
        await _login_works(borne_server, station_id, "ocpp1.6", PASSWORD)
        assert (await station_detail(api, station_id))["password_rotation_pending"] is True
        # the station reconnects with its new password: the rotation completes
        await _login_works(borne_server, station_id, "ocpp1.6", NEW_PASSWORD)
        detail = await station_detail(api, station_id)
        assert (detail["password_rotation_pending"], detail["has_password"]) == (False, True)
        await _login_refused(borne_server, station_id, "ocpp1.6", PASSWORD)
        await _login_works(borne_server, station_id, "ocpp1.6", NEW_PASSWORD)
    assert _password_logged(debug_logs, NEW_PASSWORD, PASSWORD) == []


async def test_r24_rotation_201_through_set_variables(
    borne_server: BorneServer, debug_logs: pytest.LogCaptureFixture
) -> None:
    station_id = await _secured_station(borne_server)
    async with borne_server.api() as api:
        async with connect201(borne_server, station_id, PASSWORD) as cp:
            assert (await cp.boot()).status == "Accepted"
            r = await _rotate(api, station_id, NEW_PASSWORD)
            assert r.status_code == 200, r.text
            body = r.json()
            assert (body["action"], body["status"], body["ocpp_version"]) == (
                "SetVariables",
                "Accepted",
                "ocpp2.0.1",
            )
            assert body["password_rotation_pending"] is True
            [item] = (await cp.received("SetVariables"))["set_variable_data"]
            assert item["component"] == {"name": "SecurityCtrlr"}
            assert item["variable"] == {"name": "BasicAuthPassword"}
            assert item["attribute_value"] == NEW_PASSWORD
        await _login_works(borne_server, station_id, "ocpp2.0.1", PASSWORD)
        await _login_works(borne_server, station_id, "ocpp2.0.1", NEW_PASSWORD)
        await _login_refused(borne_server, station_id, "ocpp2.0.1", PASSWORD)
        assert (await station_detail(api, station_id))["password_rotation_pending"] is False
    assert _password_logged(debug_logs, NEW_PASSWORD, PASSWORD) == []


async def test_r24_reboot_required_counts_as_accepted(borne_server: BorneServer) -> None:
    station_id = await _secured_station(borne_server)
    async with borne_server.api() as api, connect16(borne_server, station_id, PASSWORD) as cp:
        cp.answers["ChangeConfiguration"] = {"status": "RebootRequired"}
        r = await _rotate(api, station_id, NEW_PASSWORD)
        assert (r.status_code, r.json()["status"], r.json()["accepted"]) == (
            200,
            "RebootRequired",
            True,
        )
    await _login_works(borne_server, station_id, "ocpp1.6", NEW_PASSWORD)
    await _login_refused(borne_server, station_id, "ocpp1.6", PASSWORD)


# ------------------------------------------------------------------------------ refused


@pytest.mark.parametrize("status", ["Rejected", "NotSupported"])
async def test_r24_refused_rotation_16_new_password_never_works(
    borne_server: BorneServer, status: str
) -> None:
    station_id = await _secured_station(borne_server)
    async with borne_server.api() as api:
        async with connect16(borne_server, station_id, PASSWORD) as cp:
            cp.answers["ChangeConfiguration"] = {"status": status}
            r = await _rotate(api, station_id, NEW_PASSWORD)
            assert r.status_code == 200, r.text
            assert (r.json()["status"], r.json()["accepted"]) == (status, False)
            assert r.json()["password_rotation_pending"] is False
            assert (await cp.received("ChangeConfiguration"))["value"] == NEW_PASSWORD
        assert (await station_detail(api, station_id))["password_rotation_pending"] is False
    await _login_refused(borne_server, station_id, "ocpp1.6", NEW_PASSWORD)
    await _login_works(borne_server, station_id, "ocpp1.6", PASSWORD)


async def test_r24_refused_rotation_201(borne_server: BorneServer) -> None:
    station_id = await _secured_station(borne_server)
    async with borne_server.api() as api, connect201(borne_server, station_id, PASSWORD) as cp:
        cp.answers["SetVariables"] = _set_variable_answer("Rejected")
        r = await _rotate(api, station_id, NEW_PASSWORD)
        assert (r.status_code, r.json()["status"], r.json()["accepted"]) == (200, "Rejected", False)
    await _login_refused(borne_server, station_id, "ocpp2.0.1", NEW_PASSWORD)
    await _login_works(borne_server, station_id, "ocpp2.0.1", PASSWORD)


async def test_r24_station_callerror_is_502_and_withdraws_the_new_password(
    borne_server: BorneServer,
) -> None:
    station_id = await _secured_station(borne_server)
    async with (
        borne_server.api() as api,
        raw_connect(borne_server, station_id, "ocpp1.6", PASSWORD) as raw,
    ):
        assert (await raw.result("BootNotification", BOOT16))["status"] == "Accepted"
        rotation = asyncio.create_task(_rotate(api, station_id, NEW_PASSWORD))
        call = await raw.recv()
        assert call[:3] == [2, call[1], "ChangeConfiguration"]
        await raw.send_text(json.dumps([4, call[1], "InternalError", "cannot store it", {}]))
        r = await rotation
        assert r.status_code == 502, r.text
        assert r.json()["error"]["details"]["error_code"] == "InternalError"
        assert NEW_PASSWORD not in r.text
        assert (await station_detail(api, station_id))["password_rotation_pending"] is False
    await _login_refused(borne_server, station_id, "ocpp1.6", NEW_PASSWORD)
    await _login_works(borne_server, station_id, "ocpp1.6", PASSWORD)


async def test_r24_refused_second_rotation_keeps_the_first_accepted_one(
    borne_server: BorneServer,
) -> None:
    """The station accepted password A and has not reconnected yet; a rotation to B is refused:
    the station still holds A, so A must keep working (and the old one too)."""
    station_id = await _secured_station(borne_server)
    async with borne_server.api() as api, connect16(borne_server, station_id, PASSWORD) as cp:
        assert (await _rotate(api, station_id, NEW_PASSWORD)).json()["accepted"] is True
        cp.answers["ChangeConfiguration"] = {"status": "Rejected"}
        assert (await _rotate(api, station_id, OTHER_PASSWORD)).json()["accepted"] is False
    await _login_refused(borne_server, station_id, "ocpp1.6", OTHER_PASSWORD)
    await _login_works(borne_server, station_id, "ocpp1.6", PASSWORD)
    await _login_works(borne_server, station_id, "ocpp1.6", NEW_PASSWORD)
    await _login_refused(borne_server, station_id, "ocpp1.6", PASSWORD)


# ------------------------------------------------------------------- unknown outcome


@pytest.fixture
async def impatient_server(db_url: str) -> AsyncIterator[BorneServer]:
    server = await start_server(db_url, ocpp_call_timeout_s=0.5)
    try:
        yield server
    finally:
        await stop_server(server)


async def test_r24_no_answer_keeps_both_passwords_valid(impatient_server: BorneServer) -> None:
    """No answer in time: the station may have stored the new password, so both stay valid."""
    server = impatient_server
    station_id = await _secured_station(server)
    async with server.api() as api, raw_connect(server, station_id, "ocpp1.6", PASSWORD) as raw:
        assert (await raw.result("BootNotification", BOOT16))["status"] == "Accepted"
        r = await _rotate(api, station_id, NEW_PASSWORD)
        assert r.status_code == 504, r.text
        assert r.json()["error"]["details"]["password_rotation_pending"] is True
        assert (await raw.recv())[2] == "ChangeConfiguration"
    await _login_works(server, station_id, "ocpp1.6", PASSWORD)
    await _login_works(server, station_id, "ocpp1.6", NEW_PASSWORD)


# ------------------------------------------------------------------------ bad requests


async def test_r24_rotation_errors(borne_server: BorneServer) -> None:
    station_id = await _secured_station(borne_server)
    async with borne_server.api() as api:
        r = await _rotate(api, station_id, NEW_PASSWORD)
        assert (r.status_code, r.json()["error"]["code"]) == (409, "station_not_connected")
        async with connect16(borne_server, station_id, PASSWORD) as cp:
            await cp.boot()
            for bad in (
                "too-short",
                "x" * 41,
                "sixteen chars with spaces",
                "ünïcode-password-1234",
            ):
                r = await _rotate(api, station_id, bad)
                assert r.status_code == 422, (bad, r.text)
                assert bad not in r.text
            for body in ({}, {"new_password": 12345678901234567}, {"password": NEW_PASSWORD}):
                r = await api.post(_path(station_id), json=body)
                assert r.status_code == 422, (body, r.text)
            assert cp.calls["ChangeConfiguration"] == []  # nothing was sent
            assert (await station_detail(api, station_id))["password_rotation_pending"] is False
        r = await api.post(_path("no:such"), json={"new_password": NEW_PASSWORD})
        assert r.status_code == 422
    async with httpx.AsyncClient(base_url=borne_server.api_url + "/api/v1") as anonymous:
        r = await anonymous.post(_path(station_id), json={"new_password": NEW_PASSWORD})
        assert r.status_code == 401


async def test_r24_profile_0_station_cannot_rotate(borne_server: BorneServer) -> None:
    """Profile 0 logs in without a password, so a rotated one could never be confirmed."""
    async with borne_server.api() as api:
        await create_station(api, "OPEN-1", profile=0)
        async with connect16(borne_server, "OPEN-1", None) as cp:
            await cp.boot()
            r = await _rotate(api, "OPEN-1", NEW_PASSWORD)
            assert r.status_code == 422
            assert "profile 0" in r.json()["error"]["message"]
            assert cp.calls["ChangeConfiguration"] == []
