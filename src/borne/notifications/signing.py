"""The webhook signature: ``Borne-Signature: t=<unix seconds>,v1=<hex>``.

``v1`` is the lowercase hex HMAC-SHA256, keyed with the subscription's secret (its UTF-8
bytes), of the signed payload: the timestamp as decimal digits, a full stop, then the raw request
body exactly as received (``b"1717171717." + body``). Binding the timestamp lets a receiver
refuse replays: recompute the HMAC over the bytes it received, compare in constant time, and
reject a timestamp outside its tolerance (five minutes is usual). Each attempt is signed anew
with its own timestamp; the body, and the event id in it, are the same at every attempt.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "Borne-Signature"
DEFAULT_TOLERANCE_S = 300


def signature(secret: str, body: bytes, timestamp: int) -> str:
    payload = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    return f"t={timestamp},v1={signature(secret, body, timestamp)}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    *,
    now: int,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> bool:
    """What a receiver does: True when ``header`` signs ``body`` with ``secret`` recently."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = signature(secret, body, timestamp)
    return any(hmac.compare_digest(expected, v) for v in parts.get("v1", []))
