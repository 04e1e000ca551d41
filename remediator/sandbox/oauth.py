"""Fortnox's OAuth endpoints under ``/oauth-v1/``: auth (consents at once), token, revoke."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Protocol, get_args
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from remediator.sandbox.state import Scope
from remediator.sandbox.world import InvalidGrant, World

KNOWN_SCOPES: frozenset[str] = frozenset(get_args(Scope))


class Server(Protocol):
    """What the endpoints need from the app: the live world and the request log."""

    @property
    def world(self) -> World: ...

    def record(self, request: Request, status: int | None, **extra: Any) -> None: ...


def oauth_error(status: int, error: str, description: str) -> Response:
    """Fortnox answers token errors with a wrong Content-Type (text/html); so does the sandbox."""
    body = json.dumps({"error": error, "error_description": description})
    return Response(body, status_code=status, media_type="text/html")


async def _form(request: Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}


class OAuthEndpoints:
    """The three OAuth endpoints, on whatever world the server holds now."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def routes(self) -> list[Route]:
        return [
            Route("/oauth-v1/auth", self.auth, methods=["GET"]),
            Route("/oauth-v1/token", self.token, methods=["POST"]),
            Route("/oauth-v1/revoke", self.revoke, methods=["POST"]),
        ]

    async def auth(self, request: Request) -> Response:
        """Consents at once for the state's ``consent`` user and redirects with a code."""
        params, world = request.query_params, self.server.world
        client = params.get("client_id", "")
        if not any(c.client_id == client for c in world.state.clients):
            self.server.record(request, 400)
            return oauth_error(400, "invalid_client", "Unknown client_id")
        scopes: list[Any] = [s for s in params.get("scope", "").split() if s in KNOWN_SCOPES]
        code = world.new_code(client, scopes)
        if code is None:
            self.server.record(request, 400)
            return oauth_error(400, "access_denied", "No consent user in the sandbox state")
        query = urlencode({"code": code, "state": params.get("state", "")})
        self.server.record(request, 302)
        return RedirectResponse(f"{params.get('redirect_uri', '')}?{query}", status_code=302)

    async def token(self, request: Request) -> Response:
        form = await _form(request)
        grant_type = form.get("grant_type", "")
        client = self._client(request)
        if client is None:
            self.server.record(request, 401, grant_type=grant_type)
            return oauth_error(401, "invalid_client", "Client authentication failed")
        try:
            body = self._grant(grant_type, form, client, request)
        except InvalidGrant:
            self.server.record(request, 400, grant_type=grant_type)
            return oauth_error(400, "invalid_grant", "Invalid refresh token")
        except ValueError:
            self.server.record(request, 400, grant_type=grant_type)
            return oauth_error(400, "unsupported_grant_type", f"Unsupported grant {grant_type!r}")
        tenant = self.server.world.tokens[body["access_token"]].tenant_id
        self.server.record(request, 200, grant_type=grant_type, tenant=tenant)
        return JSONResponse(body)

    def _grant(
        self, grant_type: str, form: dict[str, str], client: str, request: Request
    ) -> dict[str, Any]:
        world = self.server.world
        if grant_type == "authorization_code":
            return world.exchange_code(form.get("code", ""), client)
        if grant_type == "refresh_token":
            return world.refresh(form.get("refresh_token", ""), client)
        if grant_type == "client_credentials":
            return world.client_credentials(request.headers.get("TenantId", ""), client)
        raise ValueError(grant_type)

    def _client(self, request: Request) -> str | None:
        """The client id of valid Basic client authentication, else ``None``."""
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        client, _, secret = decoded.partition(":")
        return client if self.server.world.client_ok(client, secret) else None

    async def revoke(self, request: Request) -> Response:
        form = await _form(request)
        if self._client(request) is None:
            self.server.record(request, 401)
            return oauth_error(401, "invalid_client", "Client authentication failed")
        revoked = self.server.world.revoke_token(form.get("token", ""))
        self.server.record(request, 200)
        return JSONResponse({"revoked": revoked})
