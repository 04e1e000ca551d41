"""``remediator runs``: past runs, their reports and audit trails."""

from __future__ import annotations

import click

from remediator.cli.output import echo_json, json_option, lang_option
from remediator.render import Lang, render
from remediator.report import Outcome, Report
from remediator.settings import load_settings
from remediator.storage import Database
from remediator.storage.runs import RunStore


def _runs() -> RunStore:
    return RunStore(Database(load_settings().database_url))


@click.group()
def runs() -> None:
    """List and inspect past runs."""


@runs.command("list")
@click.option("--connection", "connection_id", help="Only this connection's runs.")
@click.option(
    "--outcome", type=click.Choice([o.value for o in Outcome]), help="Only runs with this outcome."
)
@click.option("--limit", default=20, show_default=True)
@json_option
def list_(connection_id: str | None, outcome: str | None, limit: int, as_json: bool) -> None:
    """The latest runs, newest first."""
    rows = _runs().find(connection_id=connection_id, outcome=outcome, limit=limit)
    if as_json:
        echo_json([row.model_dump(exclude={"failure", "report"}) for row in rows])
        return
    for row in rows:
        click.echo(
            f"{row.id}\t{row.connection_id}\t{row.mode}\t{row.state.value}\t"
            f"{row.kind or '-'}\t{row.outcome or '-'}"
        )


@runs.command("show")
@click.argument("run_id")
@click.option("--audit", is_flag=True, help="Also list every Fortnox request of the run.")
@json_option
@lang_option
def show(run_id: str, audit: bool, as_json: bool, lang: Lang) -> None:
    """One run's report (and audit trail)."""
    store = _runs()
    row = store.get(run_id)
    trail = store.audit(run_id) if audit or as_json else []
    if as_json:
        echo_json(
            {
                "run": row.model_dump(exclude={"failure", "report"}),
                "report": Report.model_validate_json(row.report).model_dump(mode="json")
                if row.report
                else None,
                "audit": [entry.model_dump() for entry in trail],
            }
        )
        return
    if row.report is None:
        click.echo(f"run {run_id} is {row.state.value}; no report yet")
    else:
        render(Report.model_validate_json(row.report), lang)
    for entry in trail:
        click.echo(
            f"{entry.seq:3d} {entry.kind:5s} {entry.method:4s} {entry.path} "
            f"→ {entry.status or entry.error} ({entry.duration * 1000:.0f} ms)"
            f"{f' code {entry.code}' if entry.code else ''}"
        )
