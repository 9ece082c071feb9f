"""What the gateway reads from an upgrade request: the station id in the path, the OCPP
version from the offered subprotocols, HTTP Basic credentials (see ``gateway`` for the rules)."""

from __future__ import annotations

import base64
import binascii
import logging
from urllib.parse import unquote

from borne.ocpp.versions import PREFERENCE, OcppVersion

log = logging.getLogger("borne.ocpp.gateway")

MAX_STATION_ID_LENGTH = 48


def parse_station_id(segment: str) -> str | None:
    """The station identity of a raw path segment, or None when it is not acceptable."""
    try:
        station_id = unquote(segment, errors="strict")
    except UnicodeDecodeError:
        return None
    if not station_id or len(station_id) > MAX_STATION_ID_LENGTH:
        return None
    if ":" in station_id or "/" in station_id:
        return None
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in station_id):
        return None
    return station_id


def negotiate(offered: list[str]) -> OcppVersion | None:
    """The best version both sides speak."""
    for version in PREFERENCE:
        if version.value in offered:
            return version
    return None


def parse_basic_auth(header: str | None) -> tuple[str, str] | None:
    """``(username, password)`` of an ``Authorization: Basic`` header; raises ``ValueError``
    when the header is there but malformed; None when there is none."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token:
        raise ValueError("not Basic credentials")
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError("undecodable Basic credentials") from None
    username, sep, password = decoded.partition(":")
    if not sep:
        raise ValueError("Basic credentials without ':'")
    return username, password
