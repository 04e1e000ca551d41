"""Who may call what: signed intake (HMAC over the raw body) and a bearer token for ``/v1``.

The one other way in is a signed reconnect link (``remediator.links``), accepted by
``GET /v1/connections/{id}/authorize`` alone (see ``remediator.service.reconnect``)."""

from __future__ import annotations

import secrets

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from remediator import signing
from remediator.service.wiring import Service

_bearer = HTTPBearer(auto_error=False, description="The api token from the settings.")


class BodyTooLarge(Exception):
    """The request body is larger than the service accepts."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the body is larger than {limit} bytes")
        self.limit = limit


async def service(request: Request) -> Service:
    """The running service (a dependency; async so that FastAPI calls it on the loop)."""
    running: Service = request.app.state.service
    return running


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused as soon as it grows past ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def verify_signature(running: Service, header: str | None, body: bytes) -> None:
    """401 unless ``header`` signs ``body`` with the intake secret, within the tolerance."""
    secret = running.settings.intake_secret.get_secret_value()
    if not secret:
        raise HTTPException(401, "the intake has no signing secret configured")
    try:
        signing.verify(header, body, secret, tolerance=running.settings.signature_tolerance_seconds)
    except signing.SignatureError as err:
        raise HTTPException(401, str(err)) from None


def has_token(running: Service, credentials: HTTPAuthorizationCredentials | None) -> bool:
    """Whether ``credentials`` are the api token (compared in constant time)."""
    expected = running.settings.api_token.get_secret_value()
    given = credentials.credentials if credentials is not None else ""
    # as bytes: compare_digest refuses str with non-ASCII characters (a 500, not a 401)
    return bool(expected and given and secrets.compare_digest(given.encode(), expected.encode()))


def token_required() -> HTTPException:
    return HTTPException(
        401, "a valid api token is required", headers={"WWW-Authenticate": "Bearer"}
    )


async def bearer(
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
) -> HTTPAuthorizationCredentials | None:
    """The ``Authorization: Bearer`` credentials, if any (checked by the caller)."""
    return credentials


async def require_token(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
) -> None:
    """401 unless the request carries ``Authorization: Bearer <api token>``."""
    if not has_token(request.app.state.service, credentials):
        raise token_required()
