"""``remediator jobs list``: the service's daily jobs, one line per job and slot (docs/ahead.md)."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from remediator.cli.output import echo_json, json_option, people_console
from remediator.runtime import open_database
from remediator.settings import load_settings
from remediator.storage.jobs import JobRun, JobRunStore
from remediator.timestamps import iso_epoch, local


def describe(run: JobRun) -> dict[str, Any]:
    """A job's slot as ``jobs list --json`` gives it (times ISO 8601)."""
    return {
        "job": run.job,
        "slot": run.slot,
        "due_at": iso_epoch(run.slot_at),
        "attempts": run.attempts,
        "started_at": iso_epoch(run.started_at),
        "finished_at": iso_epoch(run.finished_at),
        "result": run.result.value if run.result else "running",
        "summary": run.summary,
        "error": run.error,
    }


def _table(found: list[JobRun]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for name in ("job", "slot", "started", "finished", "result"):
        table.add_column(name, no_wrap=True)
    table.add_column("summary", overflow="fold")
    for run in found:
        table.add_row(
            run.job,
            run.slot,
            local(run.started_at),
            local(run.finished_at),
            run.result.value if run.result else "running",
            run.error or run.summary or "-",
        )
    return table


@click.group()
def jobs() -> None:
    """The daily jobs the service runs (keep-alive)."""


@jobs.command("list")
@click.option("--job", help="Only this job's slots.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
@json_option
def list_(job: str | None, limit: int, as_json: bool) -> None:
    """The latest slots, newest first: when each ran, how it ended, what it did."""
    found = JobRunStore(open_database(load_settings())).recent(limit=limit, job=job)
    if as_json:
        echo_json([describe(run) for run in found])
        return
    if not found:
        click.echo("no job has run yet")
        return
    people_console().print(_table(found))
