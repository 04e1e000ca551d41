"""Reading the claims of Fortnox's JWT access tokens (Fortnox publishes no key to verify)."""

from __future__ import annotations

import base64
import json
from typing import Any


def claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified; an empty dict when ``token`` is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:  # noqa: PLR2004 - header.payload.signature
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        data = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def tenant_of(token: str) -> str | None:
    value = claims(token).get("tenantId")
    return None if value is None else str(value)


def scopes_of(token: str) -> tuple[str, ...]:
    data = claims(token)
    value = data.get("scopes", data.get("scope"))
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list):
        return tuple(str(item) for item in value)
    return ()
