"""OCPI status codes carried in the envelope's ``status_code`` (not HTTP codes)."""

from __future__ import annotations

from typing import Final

SUCCESS: Final = 1000
CLIENT_ERROR: Final = 2000
INVALID_PARAMETERS: Final = 2001
NOT_ENOUGH_INFORMATION: Final = 2002
UNKNOWN_LOCATION: Final = 2003
UNKNOWN_TOKEN: Final = 2004
SERVER_ERROR: Final = 3000
UNABLE_TO_USE_CLIENT_API: Final = 3001
UNSUPPORTED_VERSION: Final = 3002
NO_MATCHING_ENDPOINTS: Final = 3003
HUB_ERROR: Final = 4000
UNKNOWN_RECEIVER: Final = 4001
