"""``remediator preflight``: one check ahead of every active connection (docs/ahead.md)."""

from __future__ import annotations

from datetime import date, datetime

import click

from remediator.ahead import Ahead, Checked, Summary, preflight_all
from remediator.cli import remediate
from remediator.cli.output import EXIT_FAILED, EXIT_MANUAL, echo_json, json_option

NEEDS_PERSON = frozenset({Ahead.AWAITING_REVIEW, Ahead.MANUAL_ACTION_REQUIRED})


def _line(checked: Checked) -> str:
    if checked.error:
        return f"{checked.connection_id}: not checked: {checked.error}"
    days = ", ".join(d.isoformat() for d in checked.days)
    if checked.clear:
        return f"{checked.connection_id}: nothing in the way ({days})"
    runs = [f"{r.kind} {r.day}: {r.status.value} (run {r.run_id[:8]})" for r in checked.runs]
    known = [f"{r.kind} {r.day}: known (run {r.run_id[:8]})" for r in checked.known]
    return f"{checked.connection_id} ({days}): " + "; ".join(runs + known)


def _exit_code(summary: Summary) -> int:
    if any(c.error for c in summary.connections):
        return EXIT_FAILED
    standing = [r for c in summary.connections for r in (*c.runs, *c.known)]
    if any(r.status is Ahead.FAILED for r in standing):
        return EXIT_FAILED
    return EXIT_MANUAL if any(r.status in NEEDS_PERSON for r in standing) else 0


@click.command("preflight")
@click.option(
    "--date",
    "day",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="The day the check is made on (default: today on this machine); tomorrow's export is "
    "checked, and near a financial year's end the next year's first day.",
)
@click.option(
    "--connection",
    "only",
    multiple=True,
    help="Check only this connection (repeatable; default: every active one).",
)
@json_option
def preflight(day: datetime | None, only: tuple[str, ...], as_json: bool) -> None:
    """Check every active connection ahead of its exports: fix what the policy allows, leave
    the rest as runs for a person; exit 3 when one waits for a person, 4 when one failed."""
    today = day.date() if day else date.today()  # noqa: DTZ011 - the local date is meant
    summary = remediate.with_runtime(
        lambda runtime: preflight_all(runtime, today, only=only), "Checking ahead…"
    )
    if as_json:
        echo_json(summary.as_json())
    else:
        for checked in summary.connections:
            click.echo(_line(checked))
        if not summary.connections:
            click.echo("no active connections")
    raise SystemExit(_exit_code(summary))
