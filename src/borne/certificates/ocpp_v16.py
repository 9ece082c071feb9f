"""OCPP 1.6 (security whitepaper) side of the certificates domain: the SignCertificate handler,
and translators of CertificateSigned, InstallCertificate, GetInstalledCertificateIds and
DeleteCertificate. The whitepaper knows two root types; Borne names them as 2.0.1 does
(``CSMSRootCertificate`` is ``CentralSystemRootCertificate``)."""

from __future__ import annotations

from functools import partial
from typing import Literal

from borne.certificates.config import CaSource, CertificatesConfig
from borne.certificates.hashdata import HashData
from borne.certificates.results import InstalledId, InstalledIdsResult
from borne.certificates.signing import CertificateSigner
from borne.commands.results import CommandResult, ResultBase, base, build, send
from borne.core.deps import Deps
from borne.core.errors import InvalidInput
from borne.ocpp.context import CallContext
from borne.ocpp.model_base import OcppModel
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.router import Router
from borne.ocpp.v16 import models as v16
from borne.ocpp.versions import OcppVersion

VERSION = OcppVersion.V16
Use16 = Literal["CentralSystemRootCertificate", "ManufacturerRootCertificate"]
TO_V16: dict[str, Use16] = {
    "CSMSRootCertificate": "CentralSystemRootCertificate",
    "ManufacturerRootCertificate": "ManufacturerRootCertificate",
}
FROM_V16 = {v: k for k, v in TO_V16.items()}


def register(
    router: Router, deps: Deps, outbound: OcppOutbound, config: CertificatesConfig, ca: CaSource
) -> None:
    signer = CertificateSigner(deps, config, ca)

    async def sign_certificate(
        ctx: CallContext, req: v16.SignCertificateRequest
    ) -> v16.SignCertificateResponse:
        outcome = await signer.sign(
            station_id=ctx.station_id,
            certificate_type="ChargingStationCertificate",
            csr_pem=req.csr,
            received_at=ctx.received_at,
        )
        if not outcome.accepted:
            return v16.SignCertificateResponse(status="Rejected")
        signer.deliver_later(
            ctx.station_id,
            outcome,
            partial(certificate_signed, outbound, ctx.station_id, call_timeout=None),
        )
        return v16.SignCertificateResponse(status="Accepted")

    router.register("SignCertificate", sign_certificate)


def _result(station_id: str, action: str, answer: OcppModel, status: str) -> ResultBase:
    return base(station_id, VERSION, action, answer, status)


def _use(certificate_type: str) -> Use16:
    try:
        return TO_V16[certificate_type]
    except KeyError:
        raise InvalidInput(
            f"{certificate_type} does not exist in OCPP 1.6: only CSMSRootCertificate "
            "(CentralSystemRootCertificate) and ManufacturerRootCertificate"
        ) from None


async def certificate_signed(
    outbound: OcppOutbound, station_id: str, chain: str, *, call_timeout: float | None
) -> CommandResult:
    request = build(v16.CertificateSignedRequest, certificate_chain=chain)
    answer = await send(outbound, station_id, request, v16.CertificateSignedResponse, call_timeout)
    return CommandResult(**_result(station_id, "CertificateSigned", answer, answer.status))


async def install_certificate(
    outbound: OcppOutbound,
    station_id: str,
    *,
    certificate_type: str,
    certificate: str,
    call_timeout: float | None,
) -> CommandResult:
    request = build(
        v16.InstallCertificateRequest,
        certificate_type=_use(certificate_type),
        certificate=certificate,
    )
    answer = await send(outbound, station_id, request, v16.InstallCertificateResponse, call_timeout)
    return CommandResult(**_result(station_id, "InstallCertificate", answer, answer.status))


def _hash(data: v16.CertificateHashDataType) -> HashData:
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
    """1.6 asks for one type per call: without ``certificate_types`` both roots are asked and
    the answers merged (``Accepted`` when either listed something)."""
    uses = [_use(t) for t in certificate_types or TO_V16]
    found: list[InstalledId] = []
    raws: list[dict[str, object]] = []
    status = "NotFound"
    answer: v16.GetInstalledCertificateIdsResponse | None = None
    for use in dict.fromkeys(uses):
        request = build(v16.GetInstalledCertificateIdsRequest, certificate_type=use)
        answer = await send(
            outbound, station_id, request, v16.GetInstalledCertificateIdsResponse, call_timeout
        )
        raws.append({"certificateType": use, **answer.to_payload()})
        if answer.status == "Accepted":
            status = "Accepted"
        found += [InstalledId(FROM_V16[use], _hash(h)) for h in answer.certificate_hash_data or ()]
    assert answer is not None  # at least one type is always asked
    out = _result(station_id, "GetInstalledCertificateIds", answer, status)
    out["raw"] = {"answers": raws}
    return InstalledIdsResult(**out, certificates=found)


async def delete_certificate(
    outbound: OcppOutbound, station_id: str, *, hash_data: HashData, call_timeout: float | None
) -> CommandResult:
    request = build(
        v16.DeleteCertificateRequest,
        certificate_hash_data=build(
            v16.CertificateHashDataType,
            hash_algorithm=hash_data.hash_algorithm,
            issuer_name_hash=hash_data.issuer_name_hash,
            issuer_key_hash=hash_data.issuer_key_hash,
            serial_number=hash_data.serial_number,
        ),
    )
    answer = await send(outbound, station_id, request, v16.DeleteCertificateResponse, call_timeout)
    return CommandResult(**_result(station_id, "DeleteCertificate", answer, answer.status))
