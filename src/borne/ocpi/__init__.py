"""OCPI transport library (inbound server side and outbound client).

Imports only ``borne.core`` and third-party packages, never a domain: the roaming
domain supplies routers and the :class:`PartyAuthenticator`.
"""

from borne.ocpi.auth import (
    AnyParty,
    RegisteredParty,
    authorization_header,
    require_party,
    require_registered_party,
    token_candidates,
)
from borne.ocpi.envelope import (
    OcpiModel,
    OcpiResponse,
    envelope,
    ocpi_datetime,
    ok,
    parse_ocpi_datetime,
)
from borne.ocpi.errors import (
    InvalidParameters,
    NotFoundError,
    OcpiError,
    Unauthorized,
    UnknownLocation,
    UnknownToken,
)
from borne.ocpi.headers import Routing, RoutingHeaders, request_ids, routing_headers
from borne.ocpi.pagination import Page, PageParams, page_params, paginated
from borne.ocpi.party import Party, PartyAuthenticator, PartyRole
from borne.ocpi.server import create_ocpi_app
from borne.ocpi.versions import OcpiVersion

__all__ = [
    "AnyParty",
    "InvalidParameters",
    "NotFoundError",
    "OcpiError",
    "OcpiModel",
    "OcpiResponse",
    "OcpiVersion",
    "Page",
    "PageParams",
    "Party",
    "PartyAuthenticator",
    "PartyRole",
    "RegisteredParty",
    "Routing",
    "RoutingHeaders",
    "Unauthorized",
    "UnknownLocation",
    "UnknownToken",
    "authorization_header",
    "create_ocpi_app",
    "envelope",
    "ocpi_datetime",
    "ok",
    "page_params",
    "paginated",
    "parse_ocpi_datetime",
    "request_ids",
    "require_party",
    "require_registered_party",
    "routing_headers",
    "token_candidates",
]
