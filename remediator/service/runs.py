"""``/v1/runs``: run status and reports, listing, and reviewing a plan (apply or reject)."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from remediator import review
from remediator.service.checked import ANSWERS, CheckedRoute
from remediator.service.logs import ids
from remediator.service.schemas import (
    Approval,
    Problem,
    Rejection,
    RunOut,
    RunsPage,
    RunSummary,
    Stale,
)
from remediator.service.security import require_token, service
from remediator.service.wiring import Service
from remediator.storage.audit import Actor, Via
from remediator.storage.queue import MAX_OFFSET, QueuedRun
from remediator.storage.runs import RunState

log = logging.getLogger(__name__)
router = APIRouter(
    prefix="/v1/runs",
    tags=["runs"],
    dependencies=[Depends(require_token)],
    route_class=CheckedRoute,
    responses=ANSWERS,
)
Running = Annotated[Service, Depends(service)]


@router.get("/{run_id}", response_model=RunOut, responses={404: {"model": Problem}})
async def get_run(run_id: str, running: Running) -> RunOut:
    """A run's state, and its report once it has one."""
    return RunOut.of(await asyncio.to_thread(running.queue.queued, run_id))


@router.get("", response_model=RunsPage)
async def list_runs(  # noqa: PLR0917 - FastAPI passes query parameters by name
    running: Running,
    connection: Annotated[str | None, Query(description="Only this connection's runs.")] = None,
    state: Annotated[RunState | None, Query()] = None,
    outcome: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> RunsPage:
    """Runs received by the service, newest first."""
    rows, total = await asyncio.to_thread(
        lambda: running.queue.page(
            connection_id=connection,
            state=state.value if state else None,
            outcome=outcome,
            limit=limit,
            offset=offset,
        )
    )
    return RunsPage(
        items=[RunSummary.of(row) for row in rows], total=total, limit=limit, offset=offset
    )


@router.post(
    "/{run_id}/apply",
    status_code=202,
    response_model=RunOut,
    responses={
        400: {"model": Problem, "description": "The review is refused."},
        404: {"model": Problem},
        409: {"model": Stale, "description": "Not awaiting review, or Fortnox changed since."},
    },
)
async def apply_run(run_id: str, approval: Approval, running: Running) -> JSONResponse:
    """Apply a reviewed plan: refused when Fortnox no longer looks as it did when planned."""
    actor = Actor(approval.approved_by, Via.API)
    try:
        approved = await review.approve(running.queue, running.runtime.engine, run_id, actor)
    except review.StaleReviewError as stale:
        running.wake()
        detail = (
            "Fortnox changed since the plan was made, so it is not applied; the run is queued "
            "for a new plan (review it again once it is awaiting_review)."
        )
        body = Stale(detail=detail, differences=stale.differences).model_dump()
        return JSONResponse(body, status_code=409)
    log.info("plan approved", extra=_fields(approved))
    running.wake()
    return JSONResponse(RunOut.of(approved).model_dump(mode="json"), status_code=202)


@router.post(
    "/{run_id}/reject",
    response_model=RunOut,
    responses={
        400: {"model": Problem, "description": "The review is refused."},
        404: {"model": Problem},
        409: {"model": Problem},
    },
)
async def reject_run(run_id: str, rejection: Rejection, running: Running) -> RunOut:
    """Reject a reviewed plan with a reason: the run ends ``rejected``, nothing is written,
    and the callback (if any) is sent."""
    actor = Actor(rejection.rejected_by, Via.API)
    rejected = await review.reject(running.queue, run_id, actor, rejection.reason)
    log.info("plan rejected", extra=_fields(rejected))
    running.wake()
    return RunOut.of(rejected)


def _fields(run: QueuedRun) -> dict[str, object]:
    return ids(run_id=run.id, event_id=run.event_id, connection_id=run.connection_id)
