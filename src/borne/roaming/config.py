"""What the roaming domain needs from settings and the runtime, built once by the composition."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request

from borne.core.clock import Clock
from borne.core.uow import Database
from borne.ocpi.client import OcpiClient
from borne.ocpi.versions import OcpiVersion

if TYPE_CHECKING:
    from borne.settings import Settings

#: The versions Borne serves, newest first (the handshake prefers the newest mutual one).
SUPPORTED_VERSIONS: tuple[str, ...] = (OcpiVersion.V230.value, OcpiVersion.V221.value)


@dataclass(frozen=True)
class RoamingConfig:
    """Borne's own OCPI identity: where partners reach it and the CPO role it announces."""

    base_url: str  # e.g. http://127.0.0.1:8000/ocpi (no trailing slash needed)
    country_code: str
    party_id: str
    business_name: str
    business_website: str | None = None

    @property
    def root(self) -> str:
        return self.base_url.rstrip("/")

    @property
    def versions_url(self) -> str:
        return f"{self.root}/versions"

    def details_url(self, version: str) -> str:
        return f"{self.root}/{version}/details"

    def credentials_url(self, version: str) -> str:
        return f"{self.root}/{version}/credentials"

    def module_url(self, version: str, module: str) -> str:
        return f"{self.root}/{version}/cpo/{module}"

    @classmethod
    def from_settings(cls, settings: Settings) -> RoamingConfig:
        return cls(
            base_url=settings.ocpi_base_url,
            country_code=settings.ocpi_country_code,
            party_id=settings.ocpi_party_id,
            business_name=settings.ocpi_business_name,
        )


@dataclass(frozen=True)
class RoamingContext:
    """Put on ``app.state.roaming`` of the OCPI sub-app and of the operator API app."""

    db: Database
    clock: Clock
    config: RoamingConfig
    # Shared outbound OCPI client (handshakes call the partner's versions and credentials).
    client: OcpiClient


def get_roaming(request: Request) -> RoamingContext:
    """FastAPI dependency: the ``RoamingContext`` the composition stored on ``app.state``."""
    context: RoamingContext = request.app.state.roaming
    return context
