"""``remediator explain``: what an error message means and what would be done. No connection."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.console import Console

from remediator.catalogue import load_catalogue
from remediator.cli.output import EXIT_OK, EXIT_UNRECOGNIZED, echo_json, json_option, lang_option
from remediator.explain import explain as explain_error
from remediator.kinds import ErrorKind
from remediator.render import Lang


@click.command()
@click.argument("message")
@click.option("--code", type=int, help="The Fortnox error code, when known.")
@click.option("--http-status", type=int, help="The HTTP status Fortnox answered, when known.")
@json_option
@lang_option
def explain(
    message: str, code: int | None, http_status: int | None, as_json: bool, lang: Lang
) -> None:
    """Explain an export error message: its kind, parameters, meaning and remedy."""
    result = explain_error(load_catalogue(), message, code=code, http_status=http_status)
    if as_json:
        echo_json(result)
    else:
        _print(result, lang)
    sys.exit(EXIT_UNRECOGNIZED if result["kind"] == ErrorKind.UNRECOGNIZED else EXIT_OK)


def _print(result: dict[str, Any], lang: Lang) -> None:
    console = Console()
    params = result["params"] or {}
    shown = ", ".join(f"{k}={v}" for k, v in params.items()) if isinstance(params, dict) else ""
    console.print(f"[bold]{result['kind']}[/bold]  ({result['matched_by']}) {shown}")
    for key, label in (
        ("explanation", ("Vad det betyder", "What it means")),
        ("remedy", ("Vad remediatorn gör", "What the remediator does")),
    ):
        texts = result[key]
        console.print(f"\n[bold]{label[0] if lang == 'sv' else label[1]}[/bold]\n{texts[lang]}")
    steps = result["manual_steps"]
    if steps[lang]:
        console.print(
            "\n[bold]"
            + ("Om det måste göras för hand" if lang == "sv" else "If it must be done by hand")
            + "[/bold]"
        )
        for number, line in enumerate(steps[lang], 1):
            console.print(f"{number}. {line}")
