"""Everything the certificates domain adds to the runtime, built in one call by ``bootstrap``:
the SignCertificate handlers (both versions), the operator API router and the renewal loop."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fastapi import APIRouter

from borne.certificates import api, ocpp_v16, ocpp_v201
from borne.certificates.config import CaSource, CertificatesConfig
from borne.certificates.renewal import RenewalLoop
from borne.core.deps import Deps
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.router import Router
from borne.ocpp.versions import OcppVersion


@dataclass
class Certificates:
    config: CertificatesConfig
    renewal: RenewalLoop
    router: APIRouter


def build_certificates(
    deps: Deps,
    outbound: OcppOutbound,
    routers: Mapping[OcppVersion, Router],
    config: CertificatesConfig,
    ca: CaSource,
) -> Certificates:
    """Register the OCPP handlers on ``routers``; mount ``.router`` and add
    ``.renewal.start`` to the runtime's starters."""
    ocpp_v16.register(routers[OcppVersion.V16], deps, outbound, config, ca)
    ocpp_v201.register(routers[OcppVersion.V201], deps, outbound, config, ca)
    return Certificates(
        config=config,
        renewal=RenewalLoop(deps, outbound, config),
        router=api.build_router(config, ca),
    )
