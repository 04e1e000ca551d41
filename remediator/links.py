"""Reconnect links: capability URLs a restaurant can open without the service's api token.

A report that needs a reconnect gives the restaurant

    <public_url>/v1/connections/<id>/authorize?expires=<unix seconds>&sig=<hex>

where ``sig`` is HMAC-SHA256(key, "<connection id>.<expires>"). The link starts a reconnect of
that one connection until it expires, and nothing else; ``GET /v1/connections/<id>/authorize``
accepts it instead of the api token. ``expires`` is digits only, so the signed message cannot
be read two ways even when a connection id contains a dot.

The key is ``link_secret`` when set, else one derived from the token-encryption key (see
``link_key``): every door that writes reports (CLI, demo, service) shares the database and so
already shares that key, and a link any of them writes opens at the service.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from urllib.parse import quote, urlencode

from remediator.errors import UsageError
from remediator.storage import TokenCipher

# The label of the key derived from the token-encryption key (domain separation: a link's
# signature never uses the encryption key itself).
DERIVATION_LABEL = b"fortnox-remediator reconnect link v1"
DEFAULT_LIFETIME = 7 * 24 * 3600
_MAX_DIGITS = 12  # an expiry is unix seconds: ten digits until the year 2286


class InvalidLinkError(UsageError):
    """A reconnect link that is incomplete, altered, signed with another key, or expired."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def link_key(link_secret: str, cipher: TokenCipher) -> bytes:
    """The signing key: ``link_secret`` when set, else derived from the encryption key."""
    if link_secret:
        return link_secret.encode()
    return cipher.derive(DERIVATION_LABEL)


class ReconnectLinks:
    """Writes and checks signed reconnect links; its repr never shows the key."""

    def __init__(self, public_url: str, key: bytes, lifetime: int = DEFAULT_LIFETIME) -> None:
        if not key:
            raise ValueError("a reconnect link needs a signing key")
        self.public_url = public_url.rstrip("/")
        self.lifetime = lifetime
        self._key = key

    def __repr__(self) -> str:
        return f"ReconnectLinks({self.public_url!r}, <key hidden>, lifetime={self.lifetime})"

    def path(self, connection_id: str) -> str:
        return f"/v1/connections/{quote(connection_id, safe='')}/authorize"

    def signature(self, connection_id: str, expires: int) -> str:
        message = f"{connection_id}.{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def url(self, connection_id: str, *, now: float | None = None) -> str:
        """A link for ``connection_id`` that expires ``lifetime`` seconds from ``now``."""
        current = time.time() if now is None else now
        expires = math.ceil(current) + self.lifetime
        query = urlencode({"expires": expires, "sig": self.signature(connection_id, expires)})
        return f"{self.public_url}{self.path(connection_id)}?{query}"

    def verify(
        self, connection_id: str, expires: str, sig: str, *, now: float | None = None
    ) -> int:
        """The link's expiry, or ``InvalidLinkError``; the signature is compared in constant
        time, and checked before the expiry, so that an altered expiry reads as altered."""
        if not expires.isascii() or not expires.isdigit() or len(expires) > _MAX_DIGITS or not sig:
            raise InvalidLinkError("the reconnect link is incomplete or malformed")
        stamp = int(expires)
        expected = self.signature(connection_id, stamp)
        if not hmac.compare_digest(expected.encode(), sig.lower().encode()):
            raise InvalidLinkError("the reconnect link is not valid for this connection")
        current = time.time() if now is None else now
        if current >= stamp:
            raise InvalidLinkError("the reconnect link has expired", expired=True)
        return stamp


__all__ = ["DERIVATION_LABEL", "InvalidLinkError", "ReconnectLinks", "link_key"]
