"""``remediator check``: what would make the next export of a company fail."""

from __future__ import annotations

import sys
from datetime import date
from typing import Any

import click

from remediator.cli.output import (
    EXIT_FAILED,
    EXIT_MANUAL,
    EXIT_OK,
    echo_json,
    json_option,
    lang_option,
)
from remediator.cli.remediate import with_runtime
from remediator.preflight import Finding, preflight
from remediator.render import Lang


def _json(finding: Finding) -> dict[str, Any]:
    return {
        "check": finding.check,
        "ok": finding.ok,
        "unavailable": finding.unavailable,
        "text": finding.text.model_dump(),
    }


def _verdict(problems: list[Finding], *, complete: bool, lang: Lang) -> str:
    if not complete:
        return (
            "Kontrollen är inte klar: Fortnox svarade inte. Försök igen om en stund."
            if lang == "sv"
            else "The check is not complete: Fortnox did not answer. Try again in a while."
        )
    if not problems:
        return "Inga hinder hittades." if lang == "sv" else "No obstacles found."
    return (
        f"{len(problems)} hinder hittades."
        if lang == "sv"
        else f"{len(problems)} obstacle(s) found."
    )


@click.command()
@click.option("--connection", "connection_id", required=True, help="The connection to check.")
@click.option(
    "--date",
    "day",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="The export date to check (default: today).",
)
@click.option("--series", default="F", show_default=True, help="The voucher series exported to.")
@json_option
@lang_option
def check(connection_id: str, day: object, series: str, as_json: bool, lang: Lang) -> None:
    """Preflight: run every playbook's read-only checks for a company and date."""
    when = day.date() if hasattr(day, "date") else date.today()  # noqa: DTZ011 - a local date
    findings = with_runtime(
        lambda rt: preflight(rt, connection_id, when, series.upper()), "Reading Fortnox…"
    )
    problems = [f for f in findings if not f.ok]
    complete = not any(f.unavailable for f in findings)
    if as_json:
        echo_json(
            {
                "connection_id": connection_id,
                "date": when.isoformat(),
                "ok": not problems,
                "complete": complete,
                "findings": [_json(f) for f in findings],
            }
        )
    else:
        for finding in findings:
            mark = "✓" if finding.ok else "?" if finding.unavailable else "✗"
            click.echo(f"{mark} {finding.text.sv if lang == 'sv' else finding.text.en}")
        click.echo(_verdict(problems, complete=complete, lang=lang))
    sys.exit(EXIT_FAILED if not complete else EXIT_MANUAL if problems else EXIT_OK)
