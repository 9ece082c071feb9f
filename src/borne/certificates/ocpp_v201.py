"""OCPP 2.0.1 side of the certificates domain: the SignCertificate, GetCertificateStatus and
Get15118EVCertificate handlers, and translators of CertificateSigned, InstallCertificate,
GetInstalledCertificateIds, DeleteCertificate and SetNetworkProfile (A02/A03, A05, M01-M06)."""

from __future__ import annotations

from functools import partial

from borne.certificates.config import CaSource, CertificatesConfig
from borne.certificates.hashdata import HashData
from borne.certificates.iso15118 import CertificateStatus
from borne.certificates.results import InstalledId, InstalledIdsResult
from borne.certificates.signing import CertificateSigner
from borne.commands.results import CommandResult, ResultBase, base, build, send
from borne.core.deps import Deps
from borne.core.errors import InvalidInput
from borne.ocpp.context import CallContext
from borne.ocpp.model_base import OcppModel
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.router import Router
from borne.ocpp.v201 import models as v201
from borne.ocpp.versions import OcppVersion

VERSION = OcppVersion.V201
INSTALLED_TYPES = frozenset(
    {
        "CSMSRootCertificate",
        "ManufacturerRootCertificate",
        "V2GRootCertificate",
        "MORootCertificate",
        "V2GCertificateChain",
    }
)


def register(
    router: Router, deps: Deps, outbound: OcppOutbound, config: CertificatesConfig, ca: CaSource
) -> None:
    """SignCertificate, GetCertificateStatus and Get15118EVCertificate."""
    signer = CertificateSigner(deps, config, ca)
    ocsp = CertificateStatus(deps, ca)

    async def sign_certificate(
        ctx: CallContext, req: v201.SignCertificateRequest
    ) -> v201.SignCertificateResponse:
        kind = req.certificate_type or "ChargingStationCertificate"
        outcome = await signer.sign(
            station_id=ctx.station_id,
            certificate_type=kind,
            csr_pem=req.csr,
            received_at=ctx.received_at,
        )
        if not outcome.accepted:
            info = build(
                v201.StatusInfoType,
                reason_code="InvalidCSR",
                additional_info=(outcome.reason or "")[:512] or None,
            )
            return v201.SignCertificateResponse(status="Rejected", status_info=info)
        # The station named the type: CertificateSigned must name it back (A02.FR.09).
        signer.deliver_later(
            ctx.station_id,
            outcome,
            partial(
                certificate_signed,
                outbound,
                ctx.station_id,
                certificate_type=req.certificate_type,
                call_timeout=None,
            ),
        )
        return v201.SignCertificateResponse(status="Accepted")

    async def get_certificate_status(
        ctx: CallContext, req: v201.GetCertificateStatusRequest
    ) -> v201.GetCertificateStatusResponse:
        data = req.ocsp_request_data
        answer = await ocsp.status(
            HashData(
                data.hash_algorithm, data.issuer_name_hash, data.issuer_key_hash, data.serial_number
            ),
            now=ctx.received_at,
        )
        if not answer.accepted:
            info = build(v201.StatusInfoType, reason_code=answer.reason or "Failed")
            return v201.GetCertificateStatusResponse(status="Failed", status_info=info)
        return v201.GetCertificateStatusResponse(status="Accepted", ocsp_result=answer.ocsp_result)

    async def get_15118_ev_certificate(
        ctx: CallContext, req: v201.Get15118EVCertificateRequest
    ) -> v201.Get15118EVCertificateResponse:
        # No contract-certificate pool (V2G PKI provider) is configured: the EV cannot get one.
        info = build(
            v201.StatusInfoType,
            reason_code="NoCertificatePool",
            additional_info="no contract certificate pool is configured",
        )
        return v201.Get15118EVCertificateResponse(
            status="Failed", status_info=info, exi_response=""
        )

    router.register("SignCertificate", sign_certificate)
    router.register("GetCertificateStatus", get_certificate_status)
    router.register("Get15118EVCertificate", get_15118_ev_certificate)


def _result(
    station_id: str,
    action: str,
    answer: OcppModel,
    status: str,
    info: v201.StatusInfoType | None = None,
) -> ResultBase:
    return base(
        station_id,
        VERSION,
        action,
        answer,
        status,
        reason=None if info is None else info.reason_code,
        reason_info=None if info is None else info.additional_info,
    )


async def certificate_signed(
    outbound: OcppOutbound,
    station_id: str,
    chain: str,
    *,
    certificate_type: str | None,
    call_timeout: float | None,
) -> CommandResult:
    request = build(
        v201.CertificateSignedRequest, certificate_chain=chain, certificate_type=certificate_type
    )
    answer = await send(outbound, station_id, request, v201.CertificateSignedResponse, call_timeout)
    return CommandResult(
        **_result(station_id, "CertificateSigned", answer, answer.status, answer.status_info)
    )


async def install_certificate(
    outbound: OcppOutbound,
    station_id: str,
    *,
    certificate_type: str,
    certificate: str,
    call_timeout: float | None,
) -> CommandResult:
    request = build(
        v201.InstallCertificateRequest, certificate_type=certificate_type, certificate=certificate
    )
    answer = await send(
        outbound, station_id, request, v201.InstallCertificateResponse, call_timeout
    )
    return CommandResult(
        **_result(station_id, "InstallCertificate", answer, answer.status, answer.status_info)
    )


def _hash(data: v201.CertificateHashDataType) -> HashData:
    return HashData(
        data.hash_algorithm, data.issuer_name_hash, data.issuer_key_hash, data.serial_number
    )


async def get_installed_certificate_ids(
    outbound: OcppOutbound,
    station_id: str,
    *,
    certificate_types: list[str] | None,
    call_timeout: float | None,
) -> InstalledIdsResult:
    for kind in certificate_types or ():
        if kind not in INSTALLED_TYPES:
            raise InvalidInput(f"{kind} is not a 2.0.1 certificate type")
    request = build(
        v201.GetInstalledCertificateIdsRequest, certificate_type=certificate_types or None
    )
    answer = await send(
        outbound, station_id, request, v201.GetInstalledCertificateIdsResponse, call_timeout
    )
    found: list[InstalledId] = []
    for chain in answer.certificate_hash_data_chain or ():
        found.append(InstalledId(chain.certificate_type, _hash(chain.certificate_hash_data)))
        # Sub-CA certificates of a V2G chain can be deleted on their own too.
        found += [
            InstalledId(chain.certificate_type, _hash(child))
            for child in chain.child_certificate_hash_data or ()
        ]
    return InstalledIdsResult(
        **_result(
            station_id, "GetInstalledCertificateIds", answer, answer.status, answer.status_info
        ),
        certificates=found,
    )


async def delete_certificate(
    outbound: OcppOutbound, station_id: str, *, hash_data: HashData, call_timeout: float | None
) -> CommandResult:
    request = build(
        v201.DeleteCertificateRequest,
        certificate_hash_data=build(
            v201.CertificateHashDataType,
            hash_algorithm=hash_data.hash_algorithm,
            issuer_name_hash=hash_data.issuer_name_hash,
            issuer_key_hash=hash_data.issuer_key_hash,
            serial_number=hash_data.serial_number,
        ),
    )
    answer = await send(outbound, station_id, request, v201.DeleteCertificateResponse, call_timeout)
    return CommandResult(
        **_result(station_id, "DeleteCertificate", answer, answer.status, answer.status_info)
    )


async def set_network_profile(
    outbound: OcppOutbound,
    station_id: str,
    *,
    configuration_slot: int,
    csms_url: str,
    security_profile: int,
    ocpp_interface: str,
    message_timeout_s: int,
    call_timeout: float | None,
) -> CommandResult:
    request = build(
        v201.SetNetworkProfileRequest,
        configuration_slot=configuration_slot,
        connection_data=build(
            v201.NetworkConnectionProfileType,
            ocpp_version="OCPP20",  # the 2.0.1 enum has no OCPP201: OCPP20 stands for 2.0.x
            ocpp_transport="JSON",
            ocpp_csms_url=csms_url,
            message_timeout=message_timeout_s,
            security_profile=security_profile,
            ocpp_interface=ocpp_interface,
        ),
    )
    answer = await send(outbound, station_id, request, v201.SetNetworkProfileResponse, call_timeout)
    return CommandResult(
        **_result(station_id, "SetNetworkProfile", answer, answer.status, answer.status_info)
    )
