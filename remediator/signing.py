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
_MAX_DIGITS = 12  # a unix time in seconds has 10 digits until the year 2286
_MAX_HEADER = 2048  # room for a few signatures during a secret's rotation
_HEX = frozenset("0123456789abcdef")


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


def _is_stamp(value: str) -> bool:
    """ASCII digits only, and few of them: ``str.isdigit`` alone accepts "²" and "١"."""
    return 0 < len(value) <= _MAX_DIGITS and value.isascii() and value.isdigit()


def _is_hex(value: str) -> bool:
    return bool(value) and set(value) <= _HEX


def _parse(header: str) -> tuple[int, list[str]]:
    """The timestamp and the ``v1`` signatures (lowercase hex); anything else is malformed."""
    stamp: int | None = None
    signatures: list[str] = []
    for part in header[: _MAX_HEADER + 1].split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and _is_stamp(value):
            stamp = int(value)
        elif key == "v1" and _is_hex(value.lower()):
            signatures.append(value.lower())
    if len(header) > _MAX_HEADER or stamp is None or not signatures:
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
    # every candidate is ASCII hex by now: compare_digest raises on non-ASCII str
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise SignatureError("signature does not match the body")
    return stamp
