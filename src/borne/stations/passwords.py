"""Station passwords (R24): salted PBKDF2-SHA256, constant-time comparison, never logged.

Why PBKDF2 with a modest iteration count rather than a memory-hard hash tuned for humans:
OCPP station passwords are machine secrets of 16 to 40 characters (1.6 security whitepaper,
2.0.1 ``BasicAuthPassword``), generated rather than remembered, so their entropy, not the hash
cost, is what resists guessing. The check, on the other hand, runs on every WebSocket upgrade,
and after a restart thousands of stations reconnect at once (R20): at ~20,000 iterations a check
costs a few milliseconds of CPU, which keeps a reconnect storm affordable. The salt still defeats
precomputed tables, and the iteration count is stored in each hash so it can be raised later
without invalidating existing ones. Only the standard library is used.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCHEME = "pbkdf2_sha256"
DEFAULT_ITERATIONS = 20_000
SALT_BYTES = 16
MIN_LENGTH = 16
MAX_LENGTH = 40


def hash_password(password: str, *, iterations: int = DEFAULT_ITERATIONS) -> str:
    """``pbkdf2_sha256$<iterations>$<salt b64>$<hash b64>`` of ``password`` with a fresh salt."""
    if iterations < 1:
        raise ValueError("iterations must be positive")
    salt = secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return "$".join((SCHEME, str(iterations), _b64(salt), _b64(digest)))


def verify_password(password: str, encoded: str | None) -> bool:
    """Whether ``password`` matches ``encoded``; compares in constant time.

    A malformed or missing hash never matches (and never raises, so a corrupt row cannot turn
    a login into a server error).
    """
    if not encoded:
        return False
    try:
        scheme, iter_text, salt_text, hash_text = encoded.split("$")
        iterations = int(iter_text)
        salt = base64.b64decode(salt_text, validate=True)
        expected = base64.b64decode(hash_text, validate=True)
    except ValueError:
        return False
    if scheme != SCHEME or iterations < 1:
        return False
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return hmac.compare_digest(digest, expected)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
