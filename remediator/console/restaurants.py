"""Restaurants: each connection's true state, the reconnect link to send, the preflight check
on demand, and the policy per kind of change (editable, audited)."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from remediator.console.auth import Checked, Person, actor
from remediator.console.web import PREFIX, page, redirect, running
from remediator.errors import RemediatorError, UnknownConnectionError
from remediator.fortnox import ReconnectCause
from remediator.policy import Change, Policy, Rule
from remediator.preflight import Finding, preflight
from remediator.storage import Connection, ConnectionStatus
from remediator.storage.audit import AuditAction, audit_row

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def connection_state(connection: Connection) -> str:
    """The state a person needs: never authorized, active, needs reconnect, or lost by us
    (a refresh of ours did not finish, so the rotated token was never stored)."""
    if connection.status is ConnectionStatus.NOT_AUTHORIZED:
        return "never_authorized"
    if connection.status is ConnectionStatus.NEEDS_RECONNECT:
        lost = connection.status_cause is ReconnectCause.LOST
        return "lost_by_us" if lost else "needs_reconnect"
    return "active"


@router.get("/restaurants", response_class=HTMLResponse)
async def restaurants(request: Request, _person: Person) -> Response:
    service = running(request)

    def read() -> tuple[list[Connection], dict[str, int]]:
        waiting: dict[str, int] = {}
        for state in ("awaiting_review", "awaiting_reconnect"):
            rows, _ = service.queue.page(statuses=[state], limit=500)
            for row in rows:
                waiting[row.connection_id] = waiting.get(row.connection_id, 0) + 1
        return service.runtime.store.all(), waiting

    connections, waiting = await asyncio.to_thread(read)
    shown = [
        {"c": c, "state": connection_state(c), "waiting": waiting.get(c.id, 0)} for c in connections
    ]
    return page(request, "restaurants.html", connections=shown)


async def _restaurant_page(
    request: Request, connection_id: str, status: int = 200, **extra: Any
) -> HTMLResponse:
    service = running(request)

    def read() -> tuple[Connection, list[Any]]:
        connection = service.runtime.store.get(connection_id)
        return connection, service.audit.for_connection(connection_id)

    try:
        connection, decisions = await asyncio.to_thread(read)
    except UnknownConnectionError:
        return page(request, "message.html", 404, title="not_found", text="not_found")
    policy = connection.policy or service.settings.policy
    return page(
        request,
        "restaurant.html",
        status,
        c=connection,
        state=connection_state(connection),
        reconnect_url=service.runtime.engine.reconnect_url(connection.id),
        policy=policy,
        policy_is_default=connection.policy is None,
        changes=list(Change),
        rules=list(Rule),
        decisions=decisions,
        **({"findings": None, "day": date.today().isoformat()} | extra),  # noqa: DTZ011 - a local date
    )


@router.get("/restaurants/{connection_id}", response_class=HTMLResponse)
async def restaurant(
    request: Request, connection_id: str, _person: Person, note: str = ""
) -> Response:
    return await _restaurant_page(request, connection_id, note=note == "saved")


@router.post("/restaurants/{connection_id}/policy", response_class=HTMLResponse)
async def set_policy(request: Request, connection_id: str, session: Checked) -> Response:
    service = running(request)
    form = await request.form()
    store = service.runtime.store
    current = await asyncio.to_thread(store.get, connection_id)
    before = current.policy or service.settings.policy
    wanted: dict[str, Rule] = {}
    for change in Change:
        value = str(form.get(change.value, before.configured(change).value))
        if value not in {rule.value for rule in Rule}:
            return await _restaurant_page(request, connection_id, 400, problem=value)
        wanted[change.value] = Rule(value)
    after = Policy.model_validate(wanted)
    changed = before.changes_to(after)
    if changed:
        row = audit_row(
            actor(session),
            AuditAction.POLICY,
            connection_id=connection_id,
            detail="; ".join(changed),
        )
        await asyncio.to_thread(store.set_policy, connection_id, after, row)
    return redirect(f"{PREFIX}/restaurants/{connection_id}?note=saved")


@router.post("/restaurants/{connection_id}/check", response_class=HTMLResponse)
async def check(request: Request, connection_id: str, _session: Checked) -> Response:
    service = running(request)
    form = await request.form()
    try:
        day = date.fromisoformat(str(form.get("day", "")))
    except ValueError:
        day = date.today()  # noqa: DTZ011 - a local date
    series = str(form.get("series", "F")).strip().upper()[:10] or "F"
    findings: list[Finding] | None = None
    problem: str | None = None
    try:
        findings = await preflight(service.runtime, connection_id, day, series)
    except RemediatorError as err:
        problem = str(err)
    return await _restaurant_page(
        request,
        connection_id,
        findings=findings,
        check_problem=problem,
        day=day.isoformat(),
        series=series,
    )
