"""``POST /v1/failures``: the Backoffice's signed intake of export failures.

Order of checks: size (413), signature over the raw body (401), the failure itself (422, every
problem listed), a known event (200, its run), a known connection (422); then the failure is
stored as a queued run and only then answered (202).
"""

from __future__ import annotations

import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from remediator import signing
from remediator.failure import parse_failure
from remediator.service.logs import ids
from remediator.service.schemas import Accepted, Problem
from remediator.service.security import read_body, service, verify_signature
from remediator.service.wiring import Service

log = logging.getLogger(__name__)
router = APIRouter(tags=["intake"])
ACCEPTED, OK = 202, 200

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


async def _stored(running: Service, body: bytes) -> tuple[Accepted, int]:
    failure = parse_failure(body, source="the body")
    result = await running.accept(secrets.token_hex(16), failure)
    run = result.run
    fields = ids(run_id=run.id, event_id=run.event_id, connection_id=run.connection_id)
    log.info("failure accepted" if result.created else "failure received again", extra=fields)
    answer = Accepted(
        run_id=run.id,
        event_id=run.event_id,
        state=run.state,
        duplicate=not result.created,
        url=f"/v1/runs/{run.id}",
    )
    return answer, ACCEPTED if result.created else OK


@router.post(
    "/v1/failures",
    status_code=202,
    summary="Report an export failure",
    response_model=Accepted,
    responses={
        200: {"model": Accepted, "description": "The event was received before: its run."},
        401: {"model": Problem, "description": "Missing, wrong or stale signature."},
        413: {"model": Problem, "description": "The body is larger than 1 MiB."},
        422: {"model": Problem, "description": "Not a valid failure, or unknown connection."},
    },
    openapi_extra=FAILURE_BODY,
)
async def report_failure(
    request: Request, running: Annotated[Service, Depends(service)]
) -> JSONResponse:
    """Store the failure as a queued run, then answer 202 with the run's id."""
    body = await read_body(request, running.settings.max_body_bytes)
    verify_signature(running, request.headers.get(signing.HEADER), body)
    answer, status = await _stored(running, body)
    if status == ACCEPTED:
        running.wake_workers()
    return JSONResponse(answer.model_dump(mode="json"), status_code=status)
