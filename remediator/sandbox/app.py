"""The sandbox as an ASGI app (Starlette), and ``Sandbox``, the handle tests and the demo use."""

from __future__ import annotations

import asyncio
import base64
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from remediator.sandbox import api, codes
from remediator.sandbox.codes import Refusal
from remediator.sandbox.state import Faults, SandboxState, load_scenario, load_state
from remediator.sandbox.world import InvalidGrant, Refused, World

CREATED = 201
GATEWAY_PAGE = "<html><head><title>503 Service Unavailable</title></head><body></body></html>"


class Dropped(Exception):
    """The connection is dropped without an answer."""


class NeverAnswered(Exception):
    """The request was applied but its answer never comes back (a timeout for the client)."""


def _error(refusal: Refusal) -> JSONResponse:
    body = {"ErrorInformation": {"error": 1, "message": refusal.message, "code": refusal.code}}
    return JSONResponse(body, status_code=refusal.status)


def _oauth_error(status: int, error: str, description: str) -> Response:
    body = json.dumps({"error": error, "error_description": description})
    # Fortnox answers token errors with a wrong Content-Type; so does the sandbox.
    return Response(body, status_code=status, media_type="text/html")


class SandboxApp:
    """Routes requests onto a ``World`` and logs every one of them."""

    def __init__(self, world: World, *, admin: bool = True) -> None:
        self.world = world
        self.log: list[dict[str, Any]] = []
        routes = [
            Route("/oauth-v1/auth", self.auth, methods=["GET"]),
            Route("/oauth-v1/token", self.token, methods=["POST"]),
            Route("/oauth-v1/revoke", self.revoke, methods=["POST"]),
            Route("/3/{path:path}", self.api, methods=["GET", "POST", "PUT", "DELETE"]),
        ]
        if admin:
            routes += [
                Route("/_sandbox/state", self.dump, methods=["GET"]),
                Route("/_sandbox/requests", self.requests, methods=["GET"]),
                Route("/_sandbox/reset", self.reset, methods=["POST"]),
                Route("/_sandbox/faults", self.faults, methods=["PUT"]),
                Route("/_sandbox/grants/{name}/revoke", self.revoke_grant, methods=["POST"]),
                Route("/_sandbox/clock", self.clock, methods=["POST"]),
            ]
        self.app = Starlette(routes=routes)
        self.initial = world.state

    def record(self, request: Request, status: int, **extra: Any) -> None:
        self.log.append(
            {
                "time": self.world.now(),
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query,
                "status": status,
            }
            | extra
        )

    # -- OAuth -----------------------------------------------------------------------
    async def auth(self, request: Request) -> Response:
        params = request.query_params
        client = params.get("client_id", "")
        if not any(c.client_id == client for c in self.world.state.clients):
            self.record(request, 400)
            return JSONResponse({"error": "invalid_client"}, status_code=400)
        code = self.world.new_code(client)
        query = urlencode({"code": code, "state": params.get("state", "")})
        self.record(request, 302)
        return RedirectResponse(f"{params.get('redirect_uri', '')}?{query}", status_code=302)

    async def token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        grant_type = form.get("grant_type", "")
        client = self._basic(request)
        if client is None:
            self.record(request, 401, grant_type=grant_type)
            return _oauth_error(401, "invalid_client", "Client authentication failed")
        try:
            body = self._grant(grant_type, form, client, request)
        except InvalidGrant:
            self.record(request, 400, grant_type=grant_type)
            return _oauth_error(400, "invalid_grant", "Invalid refresh token")
        self.record(request, 200, grant_type=grant_type)
        return JSONResponse(body)

    def _grant(
        self, grant_type: str, form: dict[str, str], client: str, request: Request
    ) -> dict[str, Any]:
        if grant_type == "authorization_code":
            scopes = (
                self.world.state.consent
                and ["bookkeeping", "companyinformation", "settings", "profile"]
            ) or []
            return self.world.exchange_code(form.get("code", ""), client, scopes)
        if grant_type == "refresh_token":
            return self.world.refresh(form.get("refresh_token", ""), client)
        if grant_type == "client_credentials":
            return self.world.client_credentials(request.headers.get("TenantId", ""), client)
        raise InvalidGrant

    def _basic(self, request: Request) -> str | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        try:
            client, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return None
        return client if self.world.client_ok(client, secret) else None

    async def revoke(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if self._basic(request) is None:
            self.record(request, 401)
            return _oauth_error(401, "invalid_client", "Client authentication failed")
        revoked = self.world.revoke_token(form.get("token", ""))
        self.record(request, 200)
        return JSONResponse({"revoked": revoked})

    # -- /3/ -------------------------------------------------------------------------
    async def api(self, request: Request) -> Response:
        path = "/" + request.path_params["path"]
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        token = self.world.authenticate(bearer)
        if token is None:
            self.record(request, 401)
            return JSONResponse({"message": "unauthorized"}, status_code=401)
        tenant = token.tenant_id
        faulted = await self._faults(path)
        if faulted is not None:
            self.record(request, faulted.status_code, tenant=tenant)
            return faulted
        if not self.world.admit(token.client_id, tenant):
            self.record(request, 429, tenant=tenant)
            return Response(status_code=429)
        response, code = await self._answer(request, path, token)
        self.record(request, response.status_code, tenant=tenant, code=code)
        if request.method == "POST" and path == "/vouchers" and response.status_code == CREATED:
            await self._maybe_never_answer()
        return response

    async def _answer(self, request: Request, path: str, token: Any) -> tuple[Response, int | None]:
        found = api.route(request.method, path)
        if found is None:
            return JSONResponse({"message": "not found"}, status_code=404), None
        scope, handler, match = found
        company = self.world.companies[token.tenant_id]
        try:
            self._entitled(company.tenant.licences, token.scopes, scope)
            call = api.Call(
                self.world,
                company,
                token,
                request.method,
                dict(request.query_params),
                await request.body(),
                match,
            )
            status, body = handler(call)
        except Refused as err:
            return _error(err.refusal), err.refusal.code
        return JSONResponse(body, status_code=status), None

    @staticmethod
    def _entitled(licences: Sequence[str], scopes: Sequence[str], scope: str) -> None:
        if "api" not in licences:
            raise Refused(codes.NO_API_LICENCE)
        if scope not in scopes:
            raise Refused(codes.MISSING_SCOPE)
        if scope == "bookkeeping" and "bookkeeping" not in licences:
            raise Refused(codes.NO_LICENCE)

    async def _faults(self, path: str) -> Response | None:
        faults = self.world.faults
        if faults.latency:
            await asyncio.sleep(faults.latency)
        full = f"/3{path}"
        if _share(faults.drop_rate, full):
            raise Dropped(full)
        if faults.storm_429:
            return Response(status_code=429)
        if self.world.now() < self.world.burst_until:
            return Response(GATEWAY_PAGE, status_code=503, media_type="text/html")
        if _share(faults.error_rate, full):
            return _error(codes.SYSTEM_EXCEPTION)
        return None

    async def _maybe_never_answer(self) -> None:
        if self.world.faults.timeout_after_write > 0:
            self.world.faults.timeout_after_write -= 1
            raise NeverAnswered("/3/vouchers")

    # -- admin -----------------------------------------------------------------------
    async def dump(self, _request: Request) -> Response:
        return JSONResponse(self.snapshot())

    def snapshot(self) -> dict[str, Any]:
        world = self.world
        return {
            "clock_offset": world.offset,
            "grants": [
                {"name": g.name, "tenant_id": g.tenant_id, "revoked": g.revoked, "scopes": g.scopes}
                for g in world.grants.values()
            ],
            "faults": world.faults.model_dump(),
            "tenants": {
                tid: {
                    "series": {
                        y: {c: s.model_dump() for c, s in ss.items()}
                        for y, ss in company.series.items()
                    },
                    "inactive_accounts": {
                        y: [n for n, a in acc.items() if not a.active]
                        for y, acc in company.accounts.items()
                    },
                    "account_count": {y: len(acc) for y, acc in company.accounts.items()},
                    "vouchers": company.vouchers,
                }
                for tid, company in world.companies.items()
            },
        }

    async def requests(self, _request: Request) -> Response:
        return JSONResponse(self.log)

    async def reset(self, _request: Request) -> Response:
        self.world.__init__(self.initial)  # type: ignore[misc]
        self.log.clear()
        return JSONResponse({"reset": True})

    async def faults(self, request: Request) -> Response:
        try:
            self.world.faults = Faults.model_validate_json(await request.body())
        except ValueError as err:
            return JSONResponse({"error": str(err)}, status_code=422)
        self.world.burst_until = self.world.now() + self.world.faults.burst_503_seconds
        return JSONResponse(self.world.faults.model_dump())

    async def revoke_grant(self, request: Request) -> Response:
        name = request.path_params["name"]
        if not self.world.revoke(name):
            return JSONResponse({"error": f"unknown grant {name}"}, status_code=404)
        return JSONResponse({"revoked": name})

    async def clock(self, request: Request) -> Response:
        body = json.loads(await request.body() or b"{}")
        self.world.offset += float(body.get("advance", 0))
        return JSONResponse({"offset": self.world.offset})


def _share(rates: dict[str, float], path: str) -> bool:
    rate = max((r for prefix, r in rates.items() if path.startswith(prefix)), default=0.0)
    return rate > 0 and random.random() < rate  # noqa: S311 - fault injection, not security


class SandboxTransport(httpx.AsyncBaseTransport):
    """In-process transport: a dropped connection or a lost answer become what httpx raises
    over a network (``RemoteProtocolError``, ``ReadTimeout``)."""

    def __init__(self, app: Starlette) -> None:
        self._inner = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._inner.handle_async_request(request)
        except Dropped:
            raise httpx.RemoteProtocolError(
                "connection dropped by the sandbox", request=request
            ) from None
        except NeverAnswered:
            raise httpx.ReadTimeout("the sandbox never answered", request=request) from None


class Sandbox:
    """A sandbox in-process: ``.app`` (ASGI), ``.transport()``, state, log, faults, clock."""

    def __init__(self, state: SandboxState, *, admin: bool = True) -> None:
        self.server = SandboxApp(World(state), admin=admin)

    @classmethod
    def from_scenario(cls, name: str) -> Sandbox:
        return cls(load_scenario(name))

    @classmethod
    def from_file(cls, path: Path) -> Sandbox:
        return cls(load_state(path))

    @property
    def app(self) -> Starlette:
        return self.server.app

    @property
    def world(self) -> World:
        return self.server.world

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.server.log

    def transport(self) -> SandboxTransport:
        return SandboxTransport(self.app)

    def writes(self) -> list[dict[str, Any]]:
        """Requests that could change bookkeeping data (POST/PUT/DELETE under /3/)."""
        return [
            r
            for r in self.requests
            if r["path"].startswith("/3/") and r["method"] in ("POST", "PUT", "DELETE")
        ]

    def set_faults(self, **faults: Any) -> None:
        self.world.faults = Faults.model_validate(faults)
        self.world.burst_until = self.world.now() + self.world.faults.burst_503_seconds

    def advance(self, seconds: float) -> None:
        self.world.offset += seconds

    def example(self, key: str) -> Any:
        return self.world.state.examples[key]

    def snapshot(self) -> dict[str, Any]:
        return self.server.snapshot()
