"""The runs: a filtered, paged list with counts per status; a run's page; its review."""

from __future__ import annotations

import asyncio
import json
import math
import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from remediator import review
from remediator.console.auth import Checked, Person, actor
from remediator.console.web import PREFIX, page, redirect, running
from remediator.errors import UsageError
from remediator.failure import ExportFailure
from remediator.report import Report
from remediator.storage.queue import MAX_OFFSET, QueuedRun, RunConflictError, status_of
from remediator.storage.runs import UnknownRunError

PAGE_SIZE = 25
# The statuses offered as filters, in the order a support person works them.
STATUSES = (
    "awaiting_review",
    "awaiting_reconnect",
    "manual_action_required",
    "failed",
    "fixed",
    "rejected",
    "nothing_to_fix",
    "unrecognized",
    "queued",
    "running",
)
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("", include_in_schema=False)
@router.get("/", include_in_schema=False)
async def home(_person: Person) -> Response:
    return redirect(f"{PREFIX}/runs")


@router.get("/runs", response_class=HTMLResponse)
async def runs_list(
    request: Request,
    _person: Person,
    status: Annotated[list[str] | None, Query()] = None,
    restaurant: str = "",
    day: str = "",
    page_no: Annotated[int, Query(alias="page", ge=1, le=MAX_OFFSET // PAGE_SIZE)] = 1,
) -> Response:
    service = running(request)
    chosen = [s for s in (status or []) if s in STATUSES]
    day = day if _DAY.match(day) else ""

    def read() -> tuple[list[QueuedRun], int, dict[str, int], list[Any]]:
        rows, total = service.queue.page(
            statuses=chosen,
            connection_id=restaurant or None,
            export_date=day or None,
            limit=PAGE_SIZE,
            offset=(page_no - 1) * PAGE_SIZE,
        )
        return rows, total, service.queue.counts(), service.runtime.store.all()

    rows, total, counts, connections = await asyncio.to_thread(read)
    filters = {"status": chosen, "restaurant": restaurant, "day": day}
    pages = max(1, math.ceil(total / PAGE_SIZE))
    return page(
        request,
        "runs.html",
        runs=[_row(run) for run in rows],
        total=total,
        counts=counts,
        statuses=STATUSES,
        chosen=chosen,
        restaurant=restaurant,
        day=day,
        connections=connections,
        page_no=page_no,
        pages=pages,
        newer=_query(filters, page_no - 1) if page_no > 1 else None,
        older=_query(filters, page_no + 1) if page_no < pages else None,
    )


def _query(filters: dict[str, Any], page_no: int) -> str:
    pairs = [("status", s) for s in filters["status"]]
    pairs += [(k, filters[k]) for k in ("restaurant", "day") if filters[k]]
    return "?" + urlencode([*pairs, ("page", str(page_no))])


def _row(run: QueuedRun) -> dict[str, Any]:
    failure = json.loads(run.failure)
    return {
        "run": run,
        "status": status_of(run),
        "restaurant": (failure.get("restaurant") or {}).get("name", run.connection_id),
        "message": (failure.get("error") or {}).get("message", ""),
    }


async def _run_page(request: Request, run_id: str, status: int = 200, **extra: Any) -> HTMLResponse:
    service = running(request)

    def read() -> tuple[QueuedRun, list[Any], list[Any]]:
        run = service.queue.queued(run_id)
        return run, service.queue.audit(run_id), service.audit.for_run(run_id)

    try:
        run, requests, decisions = await asyncio.to_thread(read)
    except UnknownRunError:
        return page(request, "message.html", 404, title="not_found", text="not_found")
    report = Report.model_validate_json(run.report) if run.report else None
    failure = ExportFailure.model_validate_json(run.failure)
    return page(
        request,
        "run.html",
        status,
        run=run,
        status_word=status_of(run),
        failure=failure,
        report=report,
        requests=requests,
        decisions=decisions,
        settling=run.state.value in ("queued", "running"),
        refresh=1 if run.state.value in ("queued", "running") else None,
        **extra,
    )


@router.get("/runs/{run_id}", response_class=HTMLResponse)
async def run_page(request: Request, run_id: str, _person: Person, note: str = "") -> Response:
    return await _run_page(request, run_id, note=note if note in ("approved", "rejected") else "")


@router.post("/runs/{run_id}/approve", response_class=HTMLResponse)
async def approve(request: Request, run_id: str, session: Checked) -> Response:
    service = running(request)
    try:
        await review.approve(service.queue, service.runtime.engine, run_id, actor(session))
    except review.StaleReviewError as stale:
        service.wake()
        return await _run_page(request, run_id, 409, stale=stale.differences)
    except RunConflictError as err:
        return await _run_page(request, run_id, 409, problem=str(err))
    service.wake()
    return redirect(f"{PREFIX}/runs/{run_id}?note=approved")


@router.post("/runs/{run_id}/reject", response_class=HTMLResponse)
async def reject(
    request: Request, run_id: str, session: Checked, reason: Annotated[str, Form()] = ""
) -> Response:
    service = running(request)
    try:
        await review.reject(service.queue, run_id, actor(session), reason)
    except UsageError as err:
        return await _run_page(
            request, run_id, 409 if isinstance(err, RunConflictError) else 400, problem=str(err)
        )
    service.wake()
    return redirect(f"{PREFIX}/runs/{run_id}?note=rejected")
