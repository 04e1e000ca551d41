"""``remediator demo``: the six Backoffice errors, reproduced and remediated in the sandbox."""

from __future__ import annotations

import asyncio
import sys

import click
from rich.console import Console
from rich.table import Table

from remediator.catalogue import load_catalogue
from remediator.cli.output import EXIT_FAILED, EXIT_OK, echo_json, json_option, lang_option
from remediator.demo import Episode, run_demo
from remediator.engine import fill
from remediator.render import Lang, render


def _episode(console: Console, episode: Episode, lang: Lang) -> None:
    playbook = load_catalogue().playbook(episode.plan.recognition.kind)
    meaning = playbook.texts.meaning if playbook else None
    console.rule(f"[bold]{episode.scenario}")
    console.print(f"Backoffice: [italic]{episode.error}[/italic]")
    if meaning is not None:
        text = meaning.sv if lang == "sv" else meaning.en
        params = " ".join(f"{k}={v}" for k, v in episode.plan.recognition.params.items())
        console.print(
            f"explain → [bold]{episode.kind}[/bold] {params}: "
            f"{fill(text, {'date': str(episode.plan.export.date)} | episode.plan.recognition.params)}"
        )
    planned = sum(1 for s in episode.plan.steps if s.status.value == "would_change")
    console.print(
        f"plan → {episode.plan.outcome.value}: {planned} change(s) planned, "
        f"the sandbox saw {episode.plan_writes} write(s)"
    )
    console.print(f"fix → {episode.fix.outcome.value}: {episode.fix_writes} write(s)")
    console.print(f"fix again → {episode.again.outcome.value}: {episode.again_writes} write(s)")
    render(episode.fix, lang, console)


def _table(episodes: list[Episode], seconds: float) -> Table:
    table = Table(title=f"Six Backoffice errors in {seconds:.1f} s (writes: plan/fix/again)")
    for column in ("error kind", "plan", "fix", "fix again", "writes", "voucher", "ok"):
        table.add_column(column, overflow="fold")
    for e in episodes:
        voucher = f"{e.fix.voucher.series} {e.fix.voucher.number}" if e.fix.voucher else "–"
        table.add_row(
            e.kind,
            e.plan.outcome.value,
            e.fix.outcome.value,
            e.again.outcome.value,
            f"{e.plan_writes}/{e.fix_writes}/{e.again_writes}",
            voucher,
            "✓" if e.as_expected else "✗",
        )
    return table


@click.command()
@json_option
@lang_option
def demo(as_json: bool, lang: Lang) -> None:
    """Reproduce the six Backoffice errors in the sandbox and remediate each."""
    episodes, seconds = asyncio.run(run_demo())
    if as_json:
        echo_json(
            {
                "seconds": seconds,
                "episodes": [
                    {
                        "scenario": e.scenario,
                        "as_expected": e.as_expected,
                        "writes": {
                            "plan": e.plan_writes,
                            "fix": e.fix_writes,
                            "again": e.again_writes,
                        },
                        "plan": e.plan.model_dump(mode="json"),
                        "fix": e.fix.model_dump(mode="json"),
                        "again": e.again.model_dump(mode="json"),
                    }
                    for e in episodes
                ],
            }
        )
    else:
        console = Console(width=max(Console().width, 110))
        for episode in episodes:
            _episode(console, episode, lang)
        console.print(_table(episodes, seconds))
    sys.exit(EXIT_OK if all(e.as_expected for e in episodes) else EXIT_FAILED)
