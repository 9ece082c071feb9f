"""What the certificate commands give back, whatever OCPP version the station speaks.

Certificate types use the OCPP 2.0.1 names; on 1.6 ``CSMSRootCertificate`` is the whitepaper's
``CentralSystemRootCertificate`` (the other 2.0.1 roots do not exist there).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from borne.certificates.hashdata import HashData
from borne.commands.results import CommandResult

InstallType = Literal[
    "CSMSRootCertificate", "ManufacturerRootCertificate", "V2GRootCertificate", "MORootCertificate"
]
InstalledType = Literal[
    "CSMSRootCertificate",
    "ManufacturerRootCertificate",
    "V2GRootCertificate",
    "MORootCertificate",
    "V2GCertificateChain",
]
SigningType = Literal["ChargingStationCertificate", "V2GCertificate"]


@dataclass(frozen=True)
class InstalledId:
    certificate_type: str
    hash_data: HashData


@dataclass(frozen=True, kw_only=True)
class InstalledIdsResult(CommandResult):
    """``status``: ``Accepted`` when the station listed certificates, ``NotFound`` when it has
    none of the types asked."""

    certificates: list[InstalledId] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class ProfileResult(CommandResult):
    """The outcome of a security-profile upgrade: ``status`` is ``Accepted`` only when every
    step was; ``steps`` lists each call sent with the station's answer."""

    security_profile: int
    previous_profile: int
    applied: bool
    steps: list[CommandResult] = field(default_factory=list)
