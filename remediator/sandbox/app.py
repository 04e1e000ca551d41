"""The sandbox as an ASGI app (Starlette), and ``Sandbox``, the handle tests and the demo use."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from remediator.sandbox import api, codes
from remediator.sandbox.admin import AdminEndpoints
from remediator.sandbox.faults import (
    DropConnection,
    Dropped,
    LostAnswer,
    NeverAnswered,
    error_answer,
    injected,
)
from remediator.sandbox.oauth import OAuthEndpoints
from remediator.sandbox.state import Faults, SandboxState, load_scenario, load_state
from remediator.sandbox.world import Refused, Token, World

CREATED = 201


class SandboxApp:
    """Routes requests onto a ``World`` and logs every one of them.

    ``admin`` serves the ``/_sandbox/`` endpoints; ``served`` is set when a real server runs
    the app, so a lost answer keeps a TCP client waiting instead of raising at once.
    """

    def __init__(self, state: SandboxState, *, admin: bool = True, served: bool = False) -> None:
        self.initial, self.served = state, served
        self.world = World(state)
        self.log: deque[dict[str, Any]] = deque(maxlen=state.request_log_size)
        routes = [
            *OAuthEndpoints(self).routes(),
            Route("/3/{path:path}", self.api, methods=["GET", "POST", "PUT", "DELETE"]),
        ]
        if admin:
            routes += AdminEndpoints(self).routes()
        self.app = Starlette(routes=routes)

    def record(self, request: Request, status: int | None, **extra: Any) -> None:
        """One entry of the request log: time, method, path, query, status, and what is known
        (tenant, Fortnox code, grant type of a token call, fault)."""
        scope = request.scope  # request.url, without building the whole URL for every request
        path = scope["path"].replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")
        query = scope.get("query_string", b"").decode().partition("#")[0]
        self.log.append(
            {
                "time": self.world.now(),
                "method": request.method,
                "path": path,
                "query": query,
                "status": status,
            }
            | extra
        )

    def requests(self) -> list[dict[str, Any]]:
        return list(self.log)

    def reset(self) -> None:
        """Back to the state as loaded: books, grants, faults, clock; the log is emptied."""
        self.world.load(self.initial)  # the same object: bound methods such as now() stay
        self.log.clear()

    # -- /3/ -------------------------------------------------------------------------
    async def api(self, request: Request) -> Response:
        path = "/" + request.path_params["path"]
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        token = self.world.authenticate(bearer)
        if token is None:
            self.record(request, 401)
            return JSONResponse({"message": "unauthorized"}, status_code=401)
        tenant = token.tenant_id
        faults = self.world.faults
        faulted = await injected(
            faults,
            path,
            in_burst=self.world.in_burst(),
            in_force=lambda: self.world.faults is faults,
        )
        if faulted is not None:
            self._record_fault(request, faulted, tenant)
            return faulted
        if not self.world.admit(token.client_id, tenant):
            self.record(request, 429, tenant=tenant)
            return Response(status_code=429)
        try:
            response, code = await self._answer(request, path, token)
        except ClientDisconnect:  # gone before its body arrived: nothing done, nobody to answer
            self.record(request, None, tenant=tenant, fault="client_disconnected")
            return Response(status_code=400)
        self.record(request, response.status_code, tenant=tenant, code=code)
        if request.method == "POST" and path == "/vouchers" and response.status_code == CREATED:
            return self._maybe_lost(response)
        return response

    def _record_fault(self, request: Request, faulted: Response, tenant: str) -> None:
        if isinstance(faulted, DropConnection):
            self.record(request, None, tenant=tenant, fault="dropped")
        else:
            self.record(request, faulted.status_code, tenant=tenant, fault="injected")

    def _maybe_lost(self, response: Response) -> Response:
        faults = self.world.faults
        if faults.timeout_after_write <= 0:
            return response
        faults.timeout_after_write -= 1
        self.log[-1]["fault"] = "answer_lost"
        return LostAnswer("/3/vouchers", served=self.served)

    async def _answer(
        self, request: Request, path: str, token: Token
    ) -> tuple[Response, int | None]:
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
            return error_answer(err.refusal), err.refusal.code
        return JSONResponse(body, status_code=status), None

    @staticmethod
    def _entitled(licences: Sequence[str], scopes: Sequence[str], scope: str) -> None:
        if "api" not in licences:
            raise Refused(codes.NO_API_LICENCE)
        if scope not in scopes:
            raise Refused(codes.MISSING_SCOPE)
        if scope == "bookkeeping" and "bookkeeping" not in licences:
            raise Refused(codes.NO_LICENCE)

    # -- admin -----------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The live state in short: clock, grants, faults, and per tenant the series, the
        inactive accounts, the number of accounts and the vouchers of each year."""
        world = self.world
        return {
            "clock_offset": world.offset,
            "grants": [
                {
                    "name": g.name,
                    "tenant_id": g.tenant_id,
                    "user_id": g.user_id,
                    "client_id": g.client_id,
                    "revoked": g.revoked,
                    "scopes": g.scopes,
                }
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

    def __init__(self, state: SandboxState, *, admin: bool = True, served: bool = False) -> None:
        self.server = SandboxApp(state, admin=admin, served=served)

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
        return self.server.requests()

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
        self.world.set_faults(Faults.model_validate(faults))

    def advance(self, seconds: float) -> None:
        self.world.offset += seconds

    def reset(self) -> None:
        self.server.reset()

    def example(self, key: str) -> Any:
        return self.world.state.examples[key]

    def snapshot(self) -> dict[str, Any]:
        return self.server.snapshot()
