"""Operator API of station certificates and security profiles, under
``/api/v1/stations/{station_id}``:

- ``GET  /certificates``: the certificate ids Borne knows to be installed on the station;
- ``GET  /certificates/issued``: certificates Borne's CA signed for it (newest first);
- ``POST /certificates/install`` (InstallCertificate), ``/certificates/installed-ids``
  (GetInstalledCertificateIds), ``/certificates/delete`` (DeleteCertificate),
  ``/certificates/renew`` (trigger a SignCertificate now);
- ``POST /security-profile``: raise the station's security profile (a downgrade → 409).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from borne.api_context import ApiContext, get_context
from borne.api_errors import error_responses
from borne.certificates import operations, service
from borne.certificates.config import CaSource, CertificatesConfig
from borne.certificates.schemas import (
    HashDataIn,
    HashDataOut,
    InstalledCertificateOut,
    InstalledIdsIn,
    InstalledIdsOut,
    InstallIn,
    InstallOut,
    IssuedCertificateOut,
    ProfileOut,
    RenewIn,
    SecurityProfileIn,
)
from borne.commands.schemas import CommandOut
from borne.stations.schemas import PageOut, page_out

StationId = Annotated[
    str, Path(min_length=1, max_length=48, pattern=r"^[^:]+$", description="the station's id")
]
Context = Annotated[ApiContext, Depends(get_context)]
_COMMAND_ERRORS = error_responses(401, 404, 409, 422, 502, 503, 504)


def build_router(config: CertificatesConfig, ca: CaSource) -> APIRouter:
    router = APIRouter(prefix="/stations/{station_id}", tags=["certificates"])
    timeout = config.call_timeout_s

    @router.get(
        "/certificates",
        summary="Certificates installed on the station (as Borne knows them)",
        responses=error_responses(401, 404),
    )
    async def installed(station_id: StationId, ctx: Context) -> list[InstalledCertificateOut]:
        async with ctx.deps.db.unit_of_work() as uow:
            rows = await service.list_installed(uow, station_id=station_id)
            return [InstalledCertificateOut.model_validate(r) for r in rows]

    @router.get(
        "/certificates/issued",
        summary="Certificates Borne's CA signed for the station, newest first",
        responses=error_responses(401, 404, 422),
    )
    async def issued(
        station_id: StationId,
        ctx: Context,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> PageOut[IssuedCertificateOut]:
        async with ctx.deps.db.unit_of_work() as uow:
            page = await service.list_issued(uow, station_id=station_id, offset=offset, limit=limit)
            return page_out(IssuedCertificateOut, page)

    @router.post(
        "/certificates/install",
        summary="Install a root certificate on the station (InstallCertificate)",
        responses=_COMMAND_ERRORS,
    )
    async def install(station_id: StationId, body: InstallIn, ctx: Context) -> InstallOut:
        out = await operations.install_certificate(
            ctx.deps,
            ctx.outbound,
            ca,
            station_id=station_id,
            certificate_type=body.certificate_type,
            certificate_pem=body.certificate,
            call_timeout=timeout,
        )
        return InstallOut.model_validate(
            {
                **CommandOut.of(out.result).model_dump(),
                "hash_data": HashDataOut.model_validate(out.hash_data),
            }
        )

    @router.post(
        "/certificates/installed-ids",
        summary="Ask the station which certificates it holds (GetInstalledCertificateIds)",
        responses=_COMMAND_ERRORS,
    )
    async def installed_ids(
        station_id: StationId, body: InstalledIdsIn, ctx: Context
    ) -> InstalledIdsOut:
        result = await operations.get_installed_certificate_ids(
            ctx.deps,
            ctx.outbound,
            station_id=station_id,
            certificate_types=None
            if body.certificate_types is None
            else list(body.certificate_types),
            call_timeout=timeout,
        )
        return InstalledIdsOut.of_ids(result)

    @router.post(
        "/certificates/delete",
        summary="Delete a certificate from the station (DeleteCertificate)",
        responses=_COMMAND_ERRORS,
    )
    async def delete(station_id: StationId, body: HashDataIn, ctx: Context) -> CommandOut:
        result = await operations.delete_certificate(
            ctx.deps,
            ctx.outbound,
            station_id=station_id,
            hash_data=body.to_hash(),
            call_timeout=timeout,
        )
        return CommandOut.of(result)

    @router.post(
        "/certificates/renew",
        summary="Ask the station for a new CSR now (TriggerMessage / ExtendedTriggerMessage)",
        responses=_COMMAND_ERRORS,
    )
    async def renew(station_id: StationId, body: RenewIn, ctx: Context) -> CommandOut:
        result = await operations.request_renewal(
            ctx.outbound, station_id, certificate_type=body.certificate_type, call_timeout=timeout
        )
        return CommandOut.of(result)

    @router.post(
        "/security-profile",
        summary="Raise the station's security profile; a downgrade is refused (409)",
        responses=_COMMAND_ERRORS,
    )
    async def security_profile(
        station_id: StationId, body: SecurityProfileIn, ctx: Context
    ) -> ProfileOut:
        result = await operations.raise_security_profile(
            ctx.deps,
            ctx.outbound,
            station_id=station_id,
            security_profile=body.security_profile,
            network=operations.NetworkProfile(
                csms_url=body.csms_url,
                configuration_slot=body.configuration_slot,
                ocpp_interface=body.ocpp_interface,
                message_timeout_s=body.message_timeout_s,
                priority=body.priority,
                reset=body.reset,
            ),
            call_timeout=timeout,
        )
        return ProfileOut.of_profile(result)

    return router
