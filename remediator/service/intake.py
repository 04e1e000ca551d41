"""``POST /v1/failures``: the Backoffice's signed intake of export failures.

Order of checks: size (413), signature over the raw body (401), the failure itself (422, every
problem listed), a known event (200, its run), a known connection (422); then the failure is
stored as a queued run and only then answered (202; 503 when the database fails the write).

The route answers the request itself (``DirectRoute``): no dependency injection and no
response model to serialise on the busiest path; ``response_model``, ``responses`` and
``openapi_extra`` still describe it in the OpenAPI document. Its run, event and connection ids
go on the request's one log line (``logs.note``, written by ``RequestLog``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.types import Scope

from remediator import signing
from remediator.failure import parse_failure
from remediator.service.logs import note
from remediator.service.schemas import Accepted, Problem
from remediator.service.security import read_body, verify_signature
from remediator.service.wiring import Service
from remediator.storage.queue import QueuedRun

ACCEPTED, OK = 202, 200
PATH = "/v1/failures"

FAILURE_BODY = {
    "requestBody": {
        "required": True,
        "description": "The export failure (docs/failure.md), signed with "
        f'`{signing.HEADER}: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`.',
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ExportFailure"}}},
    },
    "parameters": [
        {
            "name": signing.HEADER,
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": 't=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">',
        }
    ],
}


class DirectRoute(APIRoute):
    """A route whose endpoint takes the ``Request`` and returns the ``Response`` itself."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint: Callable[[Request], Coroutine[Any, Any, Response]] = self.endpoint
        return endpoint


router = APIRouter(tags=["intake"], route_class=DirectRoute)


def is_intake(scope: Scope) -> bool:
    """Whether ``scope`` is a request for ``report_failure`` (the app answers it directly)."""
    return bool(scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == PATH)


def _answer(run: QueuedRun, created: bool) -> dict[str, Any]:
    """The body of ``Accepted``, built as its ``model_dump(mode="json")`` would be."""
    return {
        "run_id": run.id,
        "event_id": run.event_id,
        "state": run.state.value,
        "duplicate": not created,
        "url": f"/v1/runs/{run.id}",
    }


@router.post(
    PATH,
    status_code=202,
    summary="Report an export failure",
    response_model=Accepted,
    responses={
        200: {"model": Accepted, "description": "The event was received before: its run."},
        401: {"model": Problem, "description": "Missing, wrong or stale signature."},
        413: {"model": Problem, "description": "The body is larger than 1 MiB."},
        422: {"model": Problem, "description": "Not a valid failure, or unknown connection."},
        503: {"model": Problem, "description": "The database failed the write: send it again."},
    },
    openapi_extra=FAILURE_BODY,
)
async def report_failure(request: Request) -> Response:
    """Store the failure as a queued run, then answer 202 with the run's id."""
    running: Service = request.app.state.service
    body = await read_body(request, running.settings.max_body_bytes)
    verify_signature(running, request.headers.get(signing.HEADER), body)
    failure = parse_failure(body, source="the body")
    result = await running.accept(secrets.token_hex(16), failure)
    run = result.run
    note(request.scope, run_id=run.id, event_id=run.event_id, connection_id=run.connection_id)
    if result.created:
        running.wake_workers()
    return JSONResponse(
        _answer(run, result.created), status_code=ACCEPTED if result.created else OK
    )
