"""Admission by security profile (R26): what the connection offers against what the station is
configured for. Plain ws:// offers profile 0/1, TLS + Basic profile 2, TLS + a client
certificate naming the station profile 3 (the gateway verified chain and CN)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from borne.core.deps import Deps
from borne.ocpp.directory import TlsPeer
from borne.stations.directory import DatabaseStationDirectory
from borne.stations.models import Station

PASSWORD = "s3cret-Station-Passw0rd"
PLAIN = None
TLS = TlsPeer()
CERT = TlsPeer(client_cn="CP-1", has_certificate=True)
OTHER_CERT = TlsPeer(client_cn="CP-2", has_certificate=True)


def directory(deps: Deps, policy: str = "reject") -> DatabaseStationDirectory:
    return DatabaseStationDirectory(
        deps.db, deps.clock, registration_policy=policy, password_iterations=1_000
    )


@pytest.mark.parametrize(
    ("profile", "tls", "password", "expected"),
    [
        # profile 2: TLS and the password
        (2, TLS, PASSWORD, (True, 200)),
        (2, PLAIN, PASSWORD, (False, 403)),
        (2, TLS, None, (False, 401)),
        (2, TLS, "wrong-password-000000", (False, 401)),
        (2, CERT, None, (True, 200)),  # moving up to profile 3
        # profile 3: a certificate naming the station, no password needed
        (3, CERT, None, (True, 200)),
        (3, TLS, PASSWORD, (False, 403)),
        (3, PLAIN, PASSWORD, (False, 403)),
        (3, OTHER_CERT, PASSWORD, (False, 403)),
        # profile 1: plain or TLS, with the password
        (1, PLAIN, PASSWORD, (True, 200)),
        (1, TLS, PASSWORD, (True, 200)),
        (1, TLS, None, (False, 401)),
        (1, OTHER_CERT, None, (False, 401)),  # a certificate of another station proves nothing
    ],
)
async def test_connection_must_offer_at_least_the_configured_profile(
    deps: Deps,
    make_station,
    profile: int,
    tls: TlsPeer | None,
    password: str | None,
    expected: tuple[bool, int],
) -> None:
    await make_station("CP-1", security_profile=profile, password=PASSWORD)
    username = "CP-1" if password is not None else None
    if tls is None:
        admission = await directory(deps).admit("CP-1", username, password, "r")
    else:
        admission = await directory(deps).admit("CP-1", username, password, "r", tls=tls)
    status = 200 if admission.accepted else admission.http_status
    assert (admission.accepted, status) == expected
    assert PASSWORD not in admission.reason


@pytest.mark.parametrize(("tls", "expected_profile"), [(PLAIN, 1), (TLS, 2), (CERT, 3)])
async def test_unknown_station_is_registered_with_the_profile_it_connected_with(
    deps: Deps, tls: TlsPeer | None, expected_profile: int
) -> None:
    d = directory(deps, "accept")
    if tls is None:
        admission = await d.admit("CP-1", "CP-1", PASSWORD, "r")
    else:
        admission = await d.admit("CP-1", "CP-1", PASSWORD, "r", tls=tls)
    assert admission.accepted
    async with deps.db.unit_of_work() as uow:
        station = await uow.session.scalar(select(Station).where(Station.station_id == "CP-1"))
        assert station is not None and station.security_profile == expected_profile


async def test_unknown_station_with_only_a_certificate_is_not_registered(deps: Deps) -> None:
    admission = await directory(deps, "accept").admit("CP-1", None, None, "r", tls=CERT)
    assert (admission.accepted, admission.http_status) == (False, 401)
