"""``/v1/runs``: run status and reports, listing, and applying a reviewed plan."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from remediator.failure import ExportFailure
from remediator.report import Report
from remediator.service.logs import ids
from remediator.service.schemas import Approval, Problem, RunOut, RunsPage, RunSummary, Stale
from remediator.service.security import require_token, service
from remediator.service.wiring import Service
from remediator.storage.queue import RunConflictError
from remediator.storage.runs import RunState

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/runs", tags=["runs"], dependencies=[Depends(require_token)])
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
    offset: Annotated[int, Query(ge=0)] = 0,
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
        404: {"model": Problem},
        409: {"model": Stale, "description": "Not awaiting review, or Fortnox changed since."},
    },
)
async def apply_run(run_id: str, approval: Approval, running: Running) -> JSONResponse:
    """Apply a reviewed plan: refused when Fortnox no longer looks as it did when planned."""
    run = await asyncio.to_thread(running.queue.queued, run_id)
    if run.state is not RunState.AWAITING_REVIEW or run.report is None:
        raise RunConflictError(f"run {run_id!r} is {run.state.value}, not awaiting_review")
    planned = Report.model_validate_json(run.report)
    failure = ExportFailure.model_validate_json(run.failure)
    changed = await running.runtime.engine.changes_since(planned, failure)
    if changed:
        await asyncio.to_thread(running.queue.replan, run_id)
        running.wake()
        detail = (
            "Fortnox changed since the plan was made, so it is not applied; the run is queued "
            "for a new plan (review it again once it is awaiting_review)."
        )
        return JSONResponse(Stale(detail=detail, differences=changed).model_dump(), status_code=409)
    approved = await asyncio.to_thread(running.queue.approve, run_id, approval.approved_by)
    fields = ids(run_id=run_id, event_id=run.event_id, connection_id=run.connection_id)
    log.info("plan approved", extra=fields)
    running.wake()
    return JSONResponse(RunOut.of(approved).model_dump(mode="json"), status_code=202)
