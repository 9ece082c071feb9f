"""Admission of connecting stations (R23, R24, R25) and connection stamps."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from borne.core.deps import Deps
from borne.ocpp.versions import OcppVersion
from borne.stations import admin, passwords
from borne.stations.directory import FAILED_LOGIN_EVENT, DatabaseStationDirectory
from borne.stations.models import Station

PASSWORD = "s3cret-Station-Passw0rd"
NEW_PASSWORD = "n3w-Rotated-Passw0rd!"


def directory(deps: Deps, policy: str = "reject", *, allow_unsecured: bool = True):
    return DatabaseStationDirectory(
        deps.db,
        deps.clock,
        registration_policy=policy,
        allow_unsecured=allow_unsecured,
        password_iterations=1_000,
    )


async def stored(deps: Deps, station_id: str) -> Station | None:
    async with deps.db.unit_of_work() as uow:
        row = await uow.session.scalar(select(Station).where(Station.station_id == station_id))
        if row is not None:
            uow.session.expunge(row)
        return row


async def test_unknown_station_rejected_under_reject_policy(deps: Deps) -> None:
    admission = await directory(deps, "reject").admit("CP-9", None, None, "10.0.0.1")
    assert (admission.accepted, admission.http_status) == (False, 404)
    assert await stored(deps, "CP-9") is None


@pytest.mark.parametrize(("policy", "status"), [("pending", "Pending"), ("accept", "Accepted")])
async def test_unknown_station_registered_under_open_policies(
    deps: Deps, policy: str, status: str
) -> None:
    admission = await directory(deps, policy).admit("CP-9", None, None, "10.0.0.1")
    assert admission.accepted
    assert admission.registration_status == "Pending"  # not booted yet
    station = await stored(deps, "CP-9")
    assert station is not None
    assert (station.registration_status, station.security_profile) == (status, 0)


async def test_unknown_station_with_credentials_is_pinned_to_its_password(deps: Deps) -> None:
    d = directory(deps, "accept", allow_unsecured=False)
    assert not (await d.admit("CP-9", None, None, "r")).accepted
    assert (await d.admit("CP-9", "CP-9", PASSWORD, "r")).accepted
    station = await stored(deps, "CP-9")
    assert station is not None and station.security_profile == 1
    assert not (await d.admit("CP-9", "CP-9", "another-password-16", "r")).accepted
    assert (await d.admit("CP-9", "CP-9", PASSWORD, "r")).accepted


async def test_unknown_station_with_invalid_id_is_refused(deps: Deps) -> None:
    admission = await directory(deps, "accept").admit("bad id", None, None, "r")
    assert not admission.accepted
    assert await stored(deps, "bad id") is None


async def test_profile_0_admitted_without_credentials_only_when_allowed(
    deps: Deps, make_station
) -> None:
    await make_station("CP-0", security_profile=0, leniency=["long-serial"])
    admission = await directory(deps).admit("CP-0", None, None, "r")
    assert admission.accepted
    assert admission.leniency == frozenset({"long-serial"})
    # Credentials, even wrong ones, are ignored for profile 0.
    assert (await directory(deps).admit("CP-0", "x", "whatever", "r")).accepted
    refused = await directory(deps, allow_unsecured=False).admit("CP-0", None, None, "r")
    assert (refused.accepted, refused.http_status) == (False, 401)


@pytest.mark.parametrize(
    ("username", "password"),
    [
        (None, None),
        ("CP-1", None),
        ("CP-2", PASSWORD),
        ("CP-1", "wrong-password-xyz"),
        ("cp-1", PASSWORD),
    ],
)
async def test_profile_1_requires_matching_basic_credentials(
    deps: Deps, make_station, username, password
) -> None:
    await make_station("CP-1", security_profile=1, password=PASSWORD)
    admission = await directory(deps).admit("CP-1", username, password, "r")
    assert (admission.accepted, admission.http_status) == (False, 401)
    assert admission.reason
    assert PASSWORD not in admission.reason
    assert (password or "-") not in admission.reason


async def test_admission_status_follows_boot_and_operator(deps: Deps, make_station) -> None:
    await make_station("CP-1", security_profile=1, password=PASSWORD)
    d = directory(deps)
    ok = await d.admit("CP-1", "CP-1", PASSWORD, "r")
    assert (ok.accepted, ok.registration_status) == (True, "Pending")  # never booted
    async with deps.db.unit_of_work() as uow:
        station = await uow.session.get(Station, "CP-1")
        assert station is not None
        station.last_boot_status = "Accepted"
        await uow.commit()
    assert (await d.admit("CP-1", "CP-1", PASSWORD, "r")).registration_status == "Accepted"
    async with deps.db.unit_of_work() as uow:
        await admin.update_station(
            uow, station_id="CP-1", now=datetime.now(UTC), registration_status="Rejected"
        )
        await uow.commit()
    assert (await d.admit("CP-1", "CP-1", PASSWORD, "r")).registration_status == "Rejected"


async def test_rotation_keeps_old_password_until_the_new_one_is_used(
    deps: Deps, make_station
) -> None:
    await make_station("CP-1", security_profile=1, password=PASSWORD)
    async with deps.db.unit_of_work() as uow:
        await admin.set_pending_password(
            uow,
            station_id="CP-1",
            password=NEW_PASSWORD,
            now=datetime.now(UTC),
            password_iterations=1_000,
        )
        await uow.commit()
    d = directory(deps)
    assert (await d.admit("CP-1", "CP-1", PASSWORD, "r")).accepted  # old still valid
    assert (await d.admit("CP-1", "CP-1", NEW_PASSWORD, "r")).accepted  # new accepted...
    assert not (await d.admit("CP-1", "CP-1", PASSWORD, "r")).accepted  # ...and now the only one
    assert (await d.admit("CP-1", "CP-1", NEW_PASSWORD, "r")).accepted
    station = await stored(deps, "CP-1")
    assert station is not None and station.pending_password_hash is None


async def test_cancelled_rotation_keeps_only_the_old_password(deps: Deps, make_station) -> None:
    await make_station("CP-1", security_profile=1, password=PASSWORD)
    now = datetime.now(UTC)
    async with deps.db.unit_of_work() as uow:
        await admin.set_pending_password(
            uow, station_id="CP-1", password=NEW_PASSWORD, now=now, password_iterations=1_000
        )
        await admin.cancel_pending_password(uow, station_id="CP-1", now=now)
        await uow.commit()
    d = directory(deps)
    assert not (await d.admit("CP-1", "CP-1", NEW_PASSWORD, "r")).accepted
    assert (await d.admit("CP-1", "CP-1", PASSWORD, "r")).accepted


async def test_passwords_are_hashed_and_never_logged_or_shown(
    deps: Deps, make_station, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    view = await make_station("CP-1", security_profile=1, password=PASSWORD)
    d = directory(deps, "accept")
    await d.admit("CP-1", "CP-1", PASSWORD, "10.0.0.1")
    await d.admit("CP-1", "CP-1", NEW_PASSWORD, "10.0.0.1")
    await d.record_failed_login("CP-1", "10.0.0.1", "wrong password")
    await d.admit("CP-7", "CP-7", NEW_PASSWORD, "10.0.0.2")  # auto-registered with a password

    station = await stored(deps, "CP-1")
    assert station is not None and station.password_hash is not None
    assert station.password_hash.startswith("pbkdf2_sha256$1000$")
    assert PASSWORD not in station.password_hash
    assert passwords.verify_password(PASSWORD, station.password_hash)
    # Captured at DEBUG, database drivers included: the secrets themselves never appear.
    assert PASSWORD not in caplog.text
    assert NEW_PASSWORD not in caplog.text
    for text in (repr(station), repr(view), str(view)):  # nor does the hash in reprs
        assert PASSWORD not in text
        assert station.password_hash not in text
    with pytest.raises(Exception) as short:
        await make_station("CP-2", security_profile=1, password="short-secret")
    assert "short-secret" not in str(short.value)


async def test_failed_login_is_a_csms_security_event(deps: Deps) -> None:
    d = directory(deps)
    await d.record_failed_login("GHOST", "10.1.2.3:5555", "unknown station")
    async with deps.db.unit_of_work() as uow:
        page = await admin.list_security_events(uow, station_id="GHOST", source="csms")
    [event] = page.items
    assert event.type == FAILED_LOGIN_EVENT
    assert event.tech_info is not None and "10.1.2.3:5555" in event.tech_info


async def test_connected_and_disconnected_are_stamped(deps: Deps, make_station) -> None:
    await make_station("CP-1")
    d = directory(deps)
    await d.connected("CP-1", OcppVersion.V201, "10.0.0.1:1234")
    await d.disconnected("CP-1")
    async with deps.db.unit_of_work() as uow:
        view = await admin.get_station(uow, station_id="CP-1")
    assert view.ocpp_version == "ocpp2.0.1"
    assert view.connected_at is not None and view.disconnected_at is not None
    assert view.disconnected_at >= view.connected_at
