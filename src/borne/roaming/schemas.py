"""Pydantic models: the OCPI credentials object (wire) and the operator API of partners.

Operator answers never carry a token (R27), except ``PartnerCreatedOut.token``: the token A,
shown once when it is made.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from borne.roaming.partners import PartnerView

# OCPI token text: printable ASCII without whitespace (U+0021 to U+007E), at most 64.
TOKEN_PATTERN = r"^[\x21-\x7e]{1,64}$"
_URL = r"^https?://\S+$"

# --- OCPI wire (both versions; unknown fields are accepted, as 2.3.0 requires) ---------------


class BusinessDetailsIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, max_length=100)
    website: str | None = Field(default=None, max_length=255)
    logo: dict[str, Any] | None = None


class CredentialsRoleIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP"]
    business_details: BusinessDetailsIn
    party_id: str = Field(pattern=r"^[A-Za-z0-9]{3}$")
    country_code: str = Field(pattern=r"^[A-Za-z]{2}$")


class CredentialsIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    token: str = Field(pattern=TOKEN_PATTERN, repr=False)
    url: str = Field(max_length=255, pattern=_URL)
    roles: list[CredentialsRoleIn] = Field(min_length=1)
    hub_party_id: str | None = Field(default=None, max_length=5)


# --- operator API ----------------------------------------------------------------------------


class PartnerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    token_base64: bool = Field(
        default=True, description="send Borne's token base64-encoded (OCPI 2.2+)"
    )
    accept_raw_tokens: bool = Field(
        default=False, description="also accept this partner's token sent without base64"
    )


class PartnerPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    token_base64: bool | None = None
    accept_raw_tokens: bool | None = None
    suspended: bool | None = Field(default=None, description="refuse every token, send nothing")


class RegisterIn(BaseModel):
    """What a partner gave Borne out of band: its versions URL and a token A."""

    model_config = ConfigDict(extra="forbid")

    versions_url: str = Field(max_length=255, pattern=_URL)
    token: str = Field(pattern=TOKEN_PATTERN, repr=False)


class UpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal["2.2.1", "2.3.0"] | None = Field(
        default=None, description="switch to this version (default: keep the current one)"
    )


class RoleOut(BaseModel):
    country_code: str
    party_id: str
    role: str
    business_details: dict[str, Any]


class EndpointOut(BaseModel):
    identifier: str
    role: str
    url: str


class PartnerOut(BaseModel):
    id: int
    name: str
    status: str = Field(description="pending, registered, suspended or unregistered")
    version: str | None
    versions_url: str | None = Field(description="the partner's versions endpoint")
    endpoints: list[EndpointOut]
    roles: list[RoleOut]
    token_base64: bool
    accept_raw_tokens: bool
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: PartnerView) -> PartnerOut:
        return cls(
            id=view.id,
            name=view.name,
            status=view.status,
            version=view.version,
            versions_url=view.their_versions_url,
            endpoints=[
                EndpointOut(identifier=e.identifier, role=e.role, url=e.url) for e in view.endpoints
            ],
            roles=[
                RoleOut(
                    country_code=r.country_code,
                    party_id=r.party_id,
                    role=r.role,
                    business_details=r.business_details,
                )
                for r in view.roles
            ],
            token_base64=view.token_base64,
            accept_raw_tokens=view.accept_raw_tokens,
            last_success_at=view.last_success_at,
            last_error=view.last_error,
            last_error_at=view.last_error_at,
            created_at=view.created_at,
            updated_at=view.updated_at,
        )


class PartnerCreatedOut(BaseModel):
    """A new token A: give it and ``ocpi_versions_url`` to the partner; it is not shown again."""

    partner: PartnerOut
    token: str = Field(description="token A, shown once")
    ocpi_versions_url: str = Field(description="Borne's OCPI versions endpoint")
