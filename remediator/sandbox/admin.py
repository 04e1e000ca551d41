"""The admin endpoints under ``/_sandbox/`` (served only when admin is on): the state, the
request log, reset, faults, revoking a grant, and the sandbox's clock."""

from __future__ import annotations

import json
from typing import Any, Protocol

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from remediator.sandbox.state import Faults
from remediator.sandbox.world import World

UNPROCESSABLE = 422


class Server(Protocol):
    """What the admin endpoints need from the app."""

    @property
    def world(self) -> World: ...

    def snapshot(self) -> dict[str, Any]: ...

    def requests(self) -> list[dict[str, Any]]: ...

    def reset(self) -> None: ...


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=UNPROCESSABLE)


class AdminEndpoints:
    """Read and steer the sandbox while it runs."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def routes(self) -> list[Route]:
        return [
            Route("/_sandbox/state", self.state, methods=["GET"]),
            Route("/_sandbox/requests", self.requests, methods=["GET"]),
            Route("/_sandbox/reset", self.reset, methods=["POST"]),
            Route("/_sandbox/faults", self.get_faults, methods=["GET"]),
            Route("/_sandbox/faults", self.set_faults, methods=["PUT"]),
            Route("/_sandbox/grants/{name}/revoke", self.revoke_grant, methods=["POST"]),
            Route("/_sandbox/clock", self.clock, methods=["POST"]),
        ]

    async def state(self, _request: Request) -> Response:
        return JSONResponse(self.server.snapshot())

    async def requests(self, _request: Request) -> Response:
        return JSONResponse(self.server.requests())

    async def reset(self, _request: Request) -> Response:
        self.server.reset()
        return JSONResponse({"reset": True})

    async def get_faults(self, _request: Request) -> Response:
        return JSONResponse(self.server.world.faults.model_dump())

    async def set_faults(self, request: Request) -> Response:
        try:
            faults = Faults.model_validate_json(await request.body())
        except ValidationError as err:
            return _bad("; ".join(f"{e['loc']}: {e['msg']}" for e in err.errors()))
        self.server.world.set_faults(faults)
        return JSONResponse(faults.model_dump())

    async def revoke_grant(self, request: Request) -> Response:
        name = request.path_params["name"]
        if not self.server.world.revoke(name):
            return JSONResponse({"error": f"unknown grant {name}"}, status_code=404)
        return JSONResponse({"revoked": name})

    async def clock(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
            seconds = float(body.get("advance", 0))
        except (ValueError, TypeError, AttributeError):
            return _bad('expected {"advance": <seconds>}')
        if seconds < 0:
            return _bad("the clock only moves forward")
        self.server.world.offset += seconds
        return JSONResponse({"offset": self.server.world.offset})
