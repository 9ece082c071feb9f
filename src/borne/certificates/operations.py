"""Operator commands on station certificates and security profiles, version-agnostic: each one
asks the translator of the station's version, then records what the station accepted.

Errors as for every command (``borne.commands.service``): 404 unknown station, 409 not
connected or a security-profile downgrade, 422 invalid input (or a type the station's version
lacks), 502 CALLERROR, 504 no answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives.serialization import Encoding

from borne.certificates import ocpp_v16, ocpp_v201, service
from borne.certificates.config import CaSource
from borne.certificates.events import SecurityProfileRaised
from borne.certificates.hashdata import HashData, hash_data, is_self_issued, parse_pem, subject_of
from borne.certificates.results import InstalledIdsResult, ProfileResult
from borne.commands import service as commands
from borne.commands.results import CommandResult, TriggerKind, VariableRef, VariableSet
from borne.core.deps import Deps
from borne.core.errors import Conflict, InvalidInput, StationNotConnected
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.versions import OcppVersion
from borne.stations import admin

PRIORITY_VARIABLE = VariableRef(component="OCPPCommCtrlr", variable="NetworkConfigurationPriority")
PROFILE_KEY_V16 = "SecurityProfile"
# Answers that mean "done" or "done at the next reboot/idle moment".
_OK = frozenset({"Accepted", "RebootRequired", "Scheduled"})


class Translator(Protocol):
    async def install_certificate(
        self,
        outbound: OcppOutbound,
        station_id: str,
        *,
        certificate_type: str,
        certificate: str,
        call_timeout: float | None,
    ) -> CommandResult: ...

    async def get_installed_certificate_ids(
        self,
        outbound: OcppOutbound,
        station_id: str,
        *,
        certificate_types: list[str] | None,
        call_timeout: float | None,
    ) -> InstalledIdsResult: ...

    async def delete_certificate(
        self,
        outbound: OcppOutbound,
        station_id: str,
        *,
        hash_data: HashData,
        call_timeout: float | None,
    ) -> CommandResult: ...


def _version(outbound: OcppOutbound, station_id: str) -> OcppVersion:
    version = outbound.version_of(station_id)
    if version is None:
        raise StationNotConnected(f"station {station_id} is not connected")
    return version


def translator_for(outbound: OcppOutbound, station_id: str) -> Translator:
    if _version(outbound, station_id) is OcppVersion.V16:
        return ocpp_v16
    return ocpp_v201


async def _check_station(deps: Deps, station_id: str) -> admin.StationView:
    async with deps.db.unit_of_work() as uow:
        return await admin.get_station(uow, station_id=station_id)


@dataclass(frozen=True, kw_only=True)
class InstallResult:
    result: CommandResult
    hash_data: HashData


async def install_certificate(
    deps: Deps,
    outbound: OcppOutbound,
    ca: CaSource,
    *,
    station_id: str,
    certificate_type: str,
    certificate_pem: str | None = None,
    call_timeout: float | None = None,
) -> InstallResult:
    """Install a root certificate on the station (without PEM: Borne's own CA, as
    ``CSMSRootCertificate``, what a station needs before moving to profile 2 or 3)."""
    if certificate_pem is None:
        authority = ca()
        if authority is None:
            raise InvalidInput("no certificate given and no Borne CA configured")
        cert = authority.certificate
        certificate_pem = cert.public_bytes(Encoding.PEM).decode("ascii")
    else:
        cert = parse_pem(certificate_pem)
    if not is_self_issued(cert):
        raise InvalidInput("only root (self-signed) certificates can be installed this way")
    await _check_station(deps, station_id)
    result = await translator_for(outbound, station_id).install_certificate(
        outbound,
        station_id,
        certificate_type=certificate_type,
        certificate=certificate_pem,
        call_timeout=call_timeout,
    )
    data = hash_data(cert, cert)
    if result.status == "Accepted":
        async with deps.db.unit_of_work() as uow:
            await service.store_installed(
                uow,
                station_id=station_id,
                certificate_type=certificate_type,
                data=data,
                subject=subject_of(cert),
                now=deps.clock.now(),
            )
            await uow.commit()
    return InstallResult(result=result, hash_data=data)


async def get_installed_certificate_ids(
    deps: Deps,
    outbound: OcppOutbound,
    *,
    station_id: str,
    certificate_types: list[str] | None = None,
    call_timeout: float | None = None,
) -> InstalledIdsResult:
    """Ask the station which certificates it holds; its answer replaces what Borne stored for
    those types (NotFound: it holds none of them)."""
    await _check_station(deps, station_id)
    result = await translator_for(outbound, station_id).get_installed_certificate_ids(
        outbound, station_id, certificate_types=certificate_types, call_timeout=call_timeout
    )
    if result.status in ("Accepted", "NotFound"):
        async with deps.db.unit_of_work() as uow:
            await service.replace_reported(
                uow,
                station_id=station_id,
                types=certificate_types,
                reported=[(c.certificate_type, c.hash_data) for c in result.certificates],
                now=deps.clock.now(),
            )
            await uow.commit()
    return result


async def delete_certificate(
    deps: Deps,
    outbound: OcppOutbound,
    *,
    station_id: str,
    hash_data: HashData,
    call_timeout: float | None = None,
) -> CommandResult:
    """Delete a certificate from the station; Borne forgets it once the station deleted it
    (or says it never had it)."""
    if hash_data.hash_algorithm not in ("SHA256", "SHA384", "SHA512"):
        raise InvalidInput("hash_algorithm must be SHA256, SHA384 or SHA512")
    await _check_station(deps, station_id)
    result = await translator_for(outbound, station_id).delete_certificate(
        outbound, station_id, hash_data=hash_data, call_timeout=call_timeout
    )
    if result.status in ("Accepted", "NotFound"):
        async with deps.db.unit_of_work() as uow:
            await service.remove_installed(uow, station_id=station_id, data=hash_data)
            await uow.commit()
    return result


async def request_renewal(
    outbound: OcppOutbound,
    station_id: str,
    *,
    certificate_type: str = service.STATION_CERTIFICATE,
    call_timeout: float | None = None,
) -> CommandResult:
    """Ask the station for a new CSR now (2.0.1 TriggerMessage, 1.6 ExtendedTriggerMessage)."""
    message: TriggerKind = (
        "sign_v2g_certificate"
        if certificate_type == service.V2G_CERTIFICATE
        else "sign_charging_station_certificate"
    )
    return await commands.trigger_message(
        outbound, station_id, message=message, call_timeout=call_timeout
    )


@dataclass(frozen=True, kw_only=True)
class NetworkProfile:
    """2.0.1 SetNetworkProfile data (1.6 needs none of it)."""

    csms_url: str | None = None
    configuration_slot: int = 1
    ocpp_interface: str = "Wired0"
    message_timeout_s: int = 30
    # NetworkConfigurationPriority afterwards (default: the new slot alone).
    priority: str | None = None
    reset: bool = True  # A05: the station connects with the new profile after a reset


async def raise_security_profile(
    deps: Deps,
    outbound: OcppOutbound,
    *,
    station_id: str,
    security_profile: int,
    network: NetworkProfile | None = None,
    call_timeout: float | None = None,
) -> ProfileResult:
    """Move a station to a higher security profile (1.6 ChangeConfiguration SecurityProfile;
    2.0.1 SetNetworkProfile, then NetworkConfigurationPriority, then an OnIdle reset). A lower
    profile than the configured one is refused (409, R26). Once the station accepted, Borne
    stores the new profile and holds the station to it."""
    network = network or NetworkProfile()
    if security_profile not in (1, 2, 3):
        raise InvalidInput("security profile must be 1, 2 or 3")
    station = await _check_station(deps, station_id)
    current = station.security_profile
    if security_profile < current:
        raise Conflict(
            f"security profile downgrade refused: station {station_id} is at profile {current}",
            details={"security_profile": current, "requested": security_profile},
        )
    if security_profile in (1, 2) and not station.has_password:
        raise InvalidInput("profiles 1 and 2 need a station password: set one first")
    if _version(outbound, station_id) is OcppVersion.V16:
        steps = [
            await commands.change_configuration(
                outbound,
                station_id,
                key=PROFILE_KEY_V16,
                value=str(security_profile),
                call_timeout=call_timeout,
            )
        ]
    else:
        steps = await _network_profile_v201(
            outbound, station_id, security_profile, network, call_timeout
        )
    applied = all(s.status in _OK for s in steps)
    if applied:
        async with deps.db.unit_of_work() as uow:
            await admin.update_station(
                uow, station_id=station_id, now=deps.clock.now(), security_profile=security_profile
            )
            if security_profile != current:
                uow.add_event(SecurityProfileRaised(station_id, current, security_profile))
            await uow.commit()
    last = steps[-1]
    return ProfileResult(
        station_id=station_id,
        ocpp_version=last.ocpp_version,
        action=last.action,
        status="Accepted" if applied else last.status,
        raw=last.raw,
        reason=last.reason,
        reason_info=last.reason_info,
        security_profile=security_profile if applied else current,
        previous_profile=current,
        applied=applied,
        steps=steps,
    )


async def _network_profile_v201(
    outbound: OcppOutbound,
    station_id: str,
    profile: int,
    network: NetworkProfile,
    call_timeout: float | None,
) -> list[CommandResult]:
    url = network.csms_url
    if url is None:
        raise InvalidInput("2.0.1 stations need csms_url for SetNetworkProfile")
    scheme = "wss://" if profile >= 2 else "ws://"
    if not url.startswith(scheme):
        raise InvalidInput(f"csms_url must start with {scheme} for profile {profile}")
    steps = [
        await ocpp_v201.set_network_profile(
            outbound,
            station_id,
            configuration_slot=network.configuration_slot,
            csms_url=url,
            security_profile=profile,
            ocpp_interface=network.ocpp_interface,
            message_timeout_s=network.message_timeout_s,
            call_timeout=call_timeout,
        )
    ]
    if steps[-1].status != "Accepted":
        return steps
    priority = network.priority or str(network.configuration_slot)
    steps.append(
        await commands.set_variables(
            outbound,
            station_id,
            items=[VariableSet(ref=PRIORITY_VARIABLE, value=priority)],
            call_timeout=call_timeout,
        )
    )
    if network.reset and steps[-1].status in _OK:
        steps.append(
            await commands.reset(outbound, station_id, kind="soft", call_timeout=call_timeout)
        )
    return steps
