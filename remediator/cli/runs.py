"""``remediator runs``: past runs, their reports and audit trails, and the review queue.

Approving and rejecting go through :mod:`remediator.review`, the code behind the
API's ``POST /v1/runs/{id}/apply|reject``, on the same database. Run ids may be shortened to
any unique prefix, as with git.
"""

from __future__ import annotations

import asyncio
from typing import Any

import click
from rich.table import Table

from remediator import review
from remediator.catalogue import load_catalogue
from remediator.cli import remediate
from remediator.cli.output import echo_json, json_option, lang_option, people_console, working
from remediator.render import Lang, render
from remediator.report import Outcome, Report
from remediator.runtime import Runtime, open_database
from remediator.settings import load_settings
from remediator.storage import Database
from remediator.storage.audit import Actor, AuditRecord, AuditStore, Via
from remediator.storage.queue import QueuedRun, QueueStore
from remediator.storage.runs import RunRow, RunState
from remediator.timestamps import iso_epoch, local
from remediator.unfinished import end_interrupted


def _database() -> Database:
    return open_database(load_settings())


def _queue() -> QueueStore:
    return QueueStore(_database())


def _ending_interrupted(queue: QueueStore) -> QueueStore:
    """``queue``, once the runs of CLI commands that died are ended (``remediator.unfinished``):
    what ``list`` and ``show`` give is then true where no service runs to end them."""
    end_interrupted(queue, load_catalogue, load_settings().stuck_run_seconds)
    return queue


def _decision(record: AuditRecord) -> dict[str, Any]:
    return {
        "at": iso_epoch(record.at),
        "actor": record.actor,
        "via": record.via,
        "action": record.action,
        "detail": record.detail,
    }


def describe(row: RunRow) -> dict[str, Any]:
    """A run as ``runs list --json`` and ``runs show --json`` give it (times ISO 8601)."""
    return {
        "id": row.id,
        "event_id": row.event_id,
        "connection_id": row.connection_id,
        "mode": row.mode,
        "origin": row.origin,
        "state": row.state.value,
        "state_reason": row.state_reason,
        "kind": row.kind,
        "outcome": row.outcome,
        "approved_by": row.approved_by,
        "created_at": iso_epoch(row.created_at),
        "finished_at": iso_epoch(row.finished_at),
    }


def _table(rows: list[RunRow]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("run", no_wrap=True)
    table.add_column("received", no_wrap=True)
    table.add_column("connection", overflow="fold")
    table.add_column("state", no_wrap=True)
    table.add_column("kind", overflow="fold")
    table.add_column("outcome", overflow="fold")
    for row in rows:
        table.add_row(
            row.id[:8],
            local(row.created_at),
            row.connection_id,
            row.state.value,
            (row.kind or "-").replace("_", " "),
            (row.outcome or "-").replace("_", " "),
        )
    return table


@click.group()
def runs() -> None:
    """List and inspect runs; approve or reject plans waiting for review."""


@runs.command("list")
@click.option("--connection", "connection_id", help="Only this connection's runs.")
@click.option(
    "--state", type=click.Choice([s.value for s in RunState]), help="Only runs in this state."
)
@click.option(
    "--outcome", type=click.Choice([o.value for o in Outcome]), help="Only runs with this outcome."
)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
@json_option
def list_(
    connection_id: str | None, state: str | None, outcome: str | None, limit: int, as_json: bool
) -> None:
    """The latest runs, newest first (times in this machine's time zone)."""
    queue = _ending_interrupted(_queue())
    rows = queue.find(connection_id=connection_id, state=state, outcome=outcome, limit=limit)
    if as_json:
        echo_json([describe(row) for row in rows])
        return
    if not rows:
        click.echo("no runs" + (" in that state" if state or outcome or connection_id else ""))
        return
    people_console().print(_table(rows))


@runs.command("show")
@click.argument("run_id")
@click.option("--audit", is_flag=True, help="Also list every Fortnox request of the run.")
@json_option
@lang_option
def show(run_id: str, audit: bool, as_json: bool, lang: Lang) -> None:
    """One run's report (and audit trail); RUN_ID may be any unique prefix."""
    database = _database()
    store = _ending_interrupted(QueueStore(database))
    row = store.queued(store.resolve(run_id))
    trail = store.audit(row.id) if audit or as_json else []
    decisions = AuditStore(database).for_run(row.id)
    if as_json:
        echo_json(
            {
                "run": describe(row),
                "report": Report.model_validate_json(row.report).model_dump(mode="json")
                if row.report
                else None,
                "audit": [entry.model_dump() for entry in trail],
                "decisions": [_decision(record) for record in decisions],
            }
        )
        return
    if row.report is None:
        click.echo(f"run {row.id} is {row.state.value}; no report yet")
    else:
        render(Report.model_validate_json(row.report), lang, people_console())
    if row.state_reason:
        reason = row.state_reason
        click.echo(reason if reason.startswith(row.state.value) else f"{row.state}: {reason}")
    for record in decisions:
        detail = f": {record.detail}" if record.detail else ""
        click.echo(f"{local(record.at)}  {record.action} by {record.actor} ({record.via}){detail}")
    for entry in trail:
        click.echo(
            f"{entry.seq:3d} {entry.kind:5s} {entry.method:4s} {entry.path} "
            f"→ {entry.status or entry.error} ({entry.duration * 1000:.0f} ms)"
            f"{f' code {entry.code}' if entry.code else ''}"
        )


by_option = click.option("--by", "by", required=True, help="Who reviewed the plan (your name).")


@runs.command("approve")
@click.argument("run_id")
@by_option
@json_option
def approve(run_id: str, by: str, as_json: bool) -> None:
    """Approve a plan waiting for review: it is applied as reviewed by the service's workers.

    Fortnox is read first: when it changed since the plan was made, nothing is approved, the
    run is planned again, and the differences are listed (exit 2).
    """
    queue = _queue()
    full = queue.resolve(run_id)

    async def work(runtime: Runtime) -> QueuedRun:
        with working("Reading Fortnox to check the plan still holds…"):
            return await review.approve(queue, runtime.engine, full, Actor(by, Via.CLI))

    approved = remediate.with_runtime(work)
    if as_json:
        echo_json(describe(approved))
        return
    click.echo(
        f"approved run {approved.id} (by {approved.approved_by}): queued; the service's "
        "workers apply it. Follow it with: remediator runs show " + approved.id[:8]
    )


@runs.command("reject")
@click.argument("run_id")
@by_option
@click.option("--reason", required=True, help="Why the plan is not applied.")
@json_option
def reject(run_id: str, by: str, reason: str, as_json: bool) -> None:
    """Reject a plan waiting for review: nothing changes in Fortnox and the run ends."""
    queue = _queue()
    actor = Actor(by, Via.CLI)
    rejected = asyncio.run(review.reject(queue, queue.resolve(run_id), actor, reason))
    if as_json:
        echo_json(describe(rejected))
        return
    click.echo(f"rejected run {rejected.id} (by {by}): nothing was changed in Fortnox")
