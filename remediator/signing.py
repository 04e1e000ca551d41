"""Signatures on webhook-style requests: intake from the Backoffice and our callbacks to it.

Header ``X-Remediator-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">``,
compared in constant time, with a tolerance on the timestamp against replays.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from remediator.errors import RemediatorError

HEADER = "X-Remediator-Signature"
DEFAULT_TOLERANCE = 300


class SignatureError(RemediatorError):
    """The signature is missing, malformed, wrong, or its timestamp is out of tolerance."""

    exit_code = 2


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The header value for ``body`` (use it in tests and when calling back)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    return f"t={stamp},v1={_mac(secret, stamp, body)}"


def _parse(header: str) -> tuple[int, list[str]]:
    stamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            stamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if stamp is None or not signatures:
        raise SignatureError("malformed signature header: expected t=<unix seconds>,v1=<hex>")
    return stamp, signatures


def verify(
    header: str | None,
    body: bytes,
    secret: str,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> int:
    """Check ``header`` against ``body``; returns the signed timestamp or raises."""
    if not header:
        raise SignatureError(f"missing {HEADER} header")
    stamp, signatures = _parse(header)
    current = time.time() if now is None else now
    if abs(current - stamp) > tolerance:
        raise SignatureError(f"signature timestamp is more than {tolerance} s away from now")
    expected = _mac(secret, stamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise SignatureError("signature does not match the body")
    return stamp
