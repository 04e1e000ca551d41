"""Try an error: what a pasted Backoffice error is, and for a restaurant a dry run's plan.

The plan is the engine's plan mode: the Fortnox client refuses every write, so nothing is
written however the playbook behaves."""

from __future__ import annotations

import asyncio
import secrets
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from remediator.console.auth import Checked, Person
from remediator.console.web import PREFIX, page, running
from remediator.errors import RemediatorError
from remediator.explain import explain
from remediator.failure import ExportFailure, error_code
from remediator.report import Report
from remediator.storage import Connection

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/try", response_class=HTMLResponse)
async def try_form(request: Request, _person: Person) -> Response:
    connections = await asyncio.to_thread(running(request).runtime.store.all)
    return page(request, "try.html", connections=connections, day=date.today().isoformat())  # noqa: DTZ011 - a local date


def _failure(connection: Connection, message: str, code: int | None, day: date) -> ExportFailure:
    return ExportFailure.model_validate(
        {
            "event_id": f"console-try-{secrets.token_hex(8)}",
            "restaurant": {
                "id": connection.restaurant_id or connection.id,
                "name": connection.restaurant_name or connection.label,
            },
            "connection_id": connection.id,
            "export": {"kind": "z_report", "id": f"console-try-{day}", "date": day.isoformat()},
            "error": {"message": message, "code": code},
        }
    )


@router.post("/try", response_class=HTMLResponse)
async def try_error(
    request: Request,
    _session: Checked,
    message: Annotated[str, Form(max_length=5000)] = "",
    code: Annotated[str, Form()] = "",
    restaurant: Annotated[str, Form()] = "",
    day: Annotated[str, Form()] = "",
) -> Response:
    service = running(request)
    runtime = service.runtime
    number = error_code(code)
    when = _day(day)
    found = explain(runtime.catalogue, message, code=number)
    plan: Report | None = None
    problem: str | None = None
    if restaurant:
        try:
            connection = await asyncio.to_thread(runtime.store.get, restaurant)
            failure = _failure(connection, message, number, when)
            plan = await runtime.engine.run(failure, mode="plan")
        except RemediatorError as err:
            problem = str(err)
    connections = await asyncio.to_thread(runtime.store.all)
    values: dict[str, Any] = {
        "connections": connections,
        "message": message,
        "code": code,
        "restaurant": restaurant,
        "day": when.isoformat(),
        "found": found,
        "plan": plan,
        "problem": problem,
    }
    return page(request, "try.html", **values)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return date.today()  # noqa: DTZ011 - a local date
