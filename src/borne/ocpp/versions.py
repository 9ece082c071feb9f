"""The OCPP versions Borne speaks, named by their WebSocket subprotocol."""

from __future__ import annotations

from enum import StrEnum
from types import ModuleType


class OcppVersion(StrEnum):
    V16 = "ocpp1.6"
    V201 = "ocpp2.0.1"


# Best first: the gateway picks the first of these that the station offers (R6).
PREFERENCE: tuple[OcppVersion, ...] = (OcppVersion.V201, OcppVersion.V16)


def models_of(version: OcppVersion) -> ModuleType:
    """The generated models module of ``version``."""
    if version is OcppVersion.V16:
        from borne.ocpp.v16 import models as m16

        return m16
    from borne.ocpp.v201 import models as m201

    return m201
