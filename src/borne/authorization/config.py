"""What the authorization OCPP translators need from the settings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AuthorizationConfig:
    # How long a station may keep an Authorize answer in its authorization cache: the answer's
    # 1.6 ``expiryDate`` / 2.0.1 ``cacheExpiryDateTime`` is at most this far ahead, so a token
    # blocked centrally stops working offline too. None: only the token's own expiry date.
    auth_cache_ttl_s: int | None = None
