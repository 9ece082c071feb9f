"""An independent OCPI eMSP peer for Borne's end-to-end tests (imports nothing from ``borne``)."""

from .client import OcpiClient, OcpiError, OcpiResponse, encode_token, next_link
from .peer import EMSP_ENDPOINTS, SUPPORTED_VERSIONS, EmspPeer
from .schemas import SchemaLibrary, is_ocpi_datetime
from .store import (
    AuthorizeRequest,
    AuthorizeRule,
    CommandRecord,
    PageInfo,
    PullReport,
    ReceivedObjects,
    RecordedRequest,
    Violation,
    ocpi_now,
)

__all__ = [
    "EMSP_ENDPOINTS",
    "SUPPORTED_VERSIONS",
    "AuthorizeRequest",
    "AuthorizeRule",
    "CommandRecord",
    "EmspPeer",
    "OcpiClient",
    "OcpiError",
    "OcpiResponse",
    "PageInfo",
    "PullReport",
    "ReceivedObjects",
    "RecordedRequest",
    "SchemaLibrary",
    "Violation",
    "encode_token",
    "is_ocpi_datetime",
    "next_link",
    "ocpi_now",
]
