"""Operator API models of station certificates and security profiles."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from borne.certificates.hashdata import HashData
from borne.certificates.results import (
    InstalledIdsResult,
    InstalledType,
    InstallType,
    ProfileResult,
    SigningType,
)
from borne.commands.schemas import CommandOut

HashAlgorithm = Literal["SHA256", "SHA384", "SHA512"]
Interface = Literal[
    "Wired0", "Wired1", "Wired2", "Wired3", "Wireless0", "Wireless1", "Wireless2", "Wireless3"
]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class HashDataIn(Body):
    """OCPP CertificateHashData, as ``GET .../certificates`` and the station list it."""

    hash_algorithm: HashAlgorithm
    issuer_name_hash: str = Field(min_length=1, max_length=128, pattern=r"^[0-9A-Fa-f]+$")
    issuer_key_hash: str = Field(min_length=1, max_length=128, pattern=r"^[0-9A-Fa-f]+$")
    serial_number: str = Field(min_length=1, max_length=40, pattern=r"^[0-9A-Fa-f]+$")

    def to_hash(self) -> HashData:
        return HashData(
            self.hash_algorithm, self.issuer_name_hash, self.issuer_key_hash, self.serial_number
        )


class HashDataOut(Out):
    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str


class InstallIn(Body):
    certificate_type: InstallType = Field(
        "CSMSRootCertificate",
        description="2.0.1 names; a 1.6 station knows CSMSRootCertificate (sent as "
        "CentralSystemRootCertificate) and ManufacturerRootCertificate only",
    )
    certificate: str | None = Field(
        None,
        max_length=5500,
        description="a PEM root certificate; absent: Borne's own CA (CSMSRootCertificate)",
    )


class InstallOut(CommandOut):
    hash_data: HashDataOut = Field(description="how the station will list the certificate")


class InstalledIdsIn(Body):
    certificate_types: list[InstalledType] | None = Field(
        None, min_length=1, description="absent: every type"
    )


class InstalledIdOut(BaseModel):
    certificate_type: str
    hash_data: HashDataOut


class InstalledIdsOut(CommandOut):
    certificates: list[InstalledIdOut]

    @classmethod
    def of_ids(cls, result: InstalledIdsResult) -> Self:
        return cls.model_validate(
            {
                **CommandOut.of(result).model_dump(),
                "certificates": [
                    {"certificate_type": c.certificate_type, "hash_data": vars(c.hash_data)}
                    for c in result.certificates
                ],
            }
        )


class RenewIn(Body):
    certificate_type: SigningType = "ChargingStationCertificate"


class InstalledCertificateOut(Out):
    id: int
    certificate_type: str
    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str
    subject: str | None
    source: str = Field(description="installed (by Borne) or reported (by the station)")
    updated_at: datetime


class IssuedCertificateOut(Out):
    id: int
    station_id: str
    certificate_type: str
    serial_number: str = Field(description="lower-case hex")
    subject: str
    not_before: datetime
    not_after: datetime
    issued_at: datetime
    delivery_status: str = Field(description="Pending, Accepted, Rejected or Failed")
    delivery_detail: str | None
    delivered_at: datetime | None
    renewal_requested_at: datetime | None
    certificate_pem: str


class SecurityProfileIn(Body):
    security_profile: int = Field(ge=1, le=3)
    csms_url: str | None = Field(
        None,
        max_length=512,
        description="2.0.1 only (required there): the URL the station connects to, "
        "wss:// for profiles 2 and 3",
    )
    configuration_slot: int = Field(1, ge=0, description="2.0.1 network profile slot")
    ocpp_interface: Interface = "Wired0"
    message_timeout_s: int = Field(30, ge=1)
    priority: str | None = Field(
        None, max_length=32, description="2.0.1 NetworkConfigurationPriority; default: the slot"
    )
    reset: bool = Field(True, description="2.0.1: reset (OnIdle) so the new profile is used")


class ProfileOut(CommandOut):
    security_profile: int = Field(description="what Borne now requires of the station")
    previous_profile: int
    applied: bool = Field(description="the station accepted every step")
    steps: list[CommandOut]

    @classmethod
    def of_profile(cls, result: ProfileResult) -> Self:
        return cls.model_validate(
            {
                **CommandOut.of(result).model_dump(),
                "security_profile": result.security_profile,
                "previous_profile": result.previous_profile,
                "applied": result.applied,
                "steps": [CommandOut.of(s) for s in result.steps],
            }
        )
