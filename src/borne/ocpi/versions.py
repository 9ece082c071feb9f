"""OCPI versions Borne speaks."""

from __future__ import annotations

from enum import StrEnum


class OcpiVersion(StrEnum):
    V221 = "2.2.1"
    V230 = "2.3.0"
