"""JSON in and out of the API, checked like intake's: bodies are read up to the size limit and
parsed by ``strict_json``; problems are answered as escaped (ASCII) JSON, which encodes
whatever a client sent.

``CheckedRoute`` is the route class of the ``/v1`` routers that take a JSON body (FastAPI's
documented way to give a route its own ``Request``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from remediator import strict_json
from remediator.service.schemas import Problem
from remediator.service.security import BodyTooLarge, read_body

# What every route of a token-protected /v1 router that reads JSON may also answer.
ANSWERS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No api token, or another one."},
    413: {"model": Problem, "description": "A body larger than max_body_bytes."},
    422: {"model": Problem, "description": "Not valid: every problem listed."},
}


class ProblemResponse(JSONResponse):
    """A JSON answer with every non-ASCII character escaped (a lone surrogate included)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode("ascii")


class CheckedRequest(Request):
    """A request whose body is at most ``max_body_bytes`` and whose JSON is strict."""

    async def body(self) -> bytes:
        if not hasattr(self, "_body"):
            limit = self.app.state.service.settings.max_body_bytes
            try:
                self._body = await read_body(self, limit)
            except BodyTooLarge as err:
                raise HTTPException(413, str(err)) from None
        return self._body

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                self._json = strict_json.loads(await self.body())
            except strict_json.InvalidJSON as err:
                # FastAPI answers a JSONDecodeError as a 422 whose ctx carries this text
                raise json.JSONDecodeError(err.problem, "", 0) from None
        return self._json


class CheckedRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            return await handler(CheckedRequest(request.scope, request.receive))

        return checked
