"""``remediator demo``: the six Backoffice errors, reproduced and remediated in the sandbox."""

from __future__ import annotations

import asyncio
import sys

import click
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from remediator.catalogue import load_catalogue
from remediator.cli.output import (
    EXIT_FAILED,
    EXIT_OK,
    echo_json,
    json_option,
    lang_option,
    people_console,
    quiet_logs,
)
from remediator.demo import Episode, run_demo
from remediator.render import Lang, render
from remediator.report import StepStatus
from remediator.texts import render as render_template


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _writes(n: int, lang: Lang) -> str:
    if lang == "sv":
        return _count(n, "skrivning", "skrivningar")
    return _count(n, "write", "writes")


def _planned(episode: Episode, lang: Lang) -> str:
    """The plan's changes counted as the report's summary counts them (the re-sent Z-report
    apart), so the line and the box below agree."""
    would = [s for s in episode.plan.steps if s.status is StepStatus.WOULD_CHANGE]
    changes = sum(1 for s in would if s.action != "resend_voucher")
    resend = len(would) > changes
    if lang == "sv":
        text = _count(changes, "ändring planerad", "ändringar planerade")
        text += ", sedan skickas Z-rapporten om" if resend else ""
        return f"{text}; sandlådan såg {_writes(episode.plan_writes, lang)}"
    text = _count(changes, "change planned", "changes planned")
    text += ", then the Z-report is sent again" if resend else ""
    return f"{text}; the sandbox saw {_writes(episode.plan_writes, lang)}"


def _episode(console: Console, episode: Episode, lang: Lang) -> None:
    playbook = load_catalogue().playbook(episode.plan.recognition.kind)
    meaning = playbook.texts.meaning if playbook else None
    console.rule(f"[bold]{episode.scenario}")
    console.print(f"Backoffice: [italic]{escape(episode.error)}[/italic]")
    if meaning is not None:
        params = episode.plan.recognition.params
        values = {"date": str(episode.plan.export.date)} | params
        found = " ".join([f"[bold]{episode.kind}[/bold]", *(f"{k}={v}" for k, v in params.items())])
        text = render_template(meaning.sv if lang == "sv" else meaning.en, values, lang)
        console.print(f"explain → {found}: {escape(text)}")
    console.print(f"plan → {episode.plan.outcome.value}: {_planned(episode, lang)}")
    again = "fix igen" if lang == "sv" else "fix again"
    console.print(f"fix → {episode.fix.outcome.value}: {_writes(episode.fix_writes, lang)}")
    console.print(f"{again} → {episode.again.outcome.value}: {_writes(episode.again_writes, lang)}")
    render(episode.fix, lang, console)


_HEADERS = {
    "sv": ("feltyp", "plan", "fix", "fix igen", "skrivn.", "verif.", "ok"),
    "en": ("error kind", "plan", "fix", "fix again", "writes", "voucher", "ok"),
}


def _words(value: str) -> str:
    """An id as words, so that a narrow column wraps it between words, not inside one."""
    return value.replace("_", " ")


def _table(episodes: list[Episode], seconds: float, lang: Lang) -> Table:
    title = (
        f"Sex Backoffice-fel på {seconds:.1f} s (skrivningar: plan/fix/igen)"
        if lang == "sv"
        else f"Six Backoffice errors in {seconds:.1f} s (writes: plan/fix/again)"
    )
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    for column in _HEADERS[lang]:
        table.add_column(column, min_width=11 if column in _HEADERS[lang][:4] else None)
    for e in episodes:
        voucher = f"{e.fix.voucher.series} {e.fix.voucher.number}" if e.fix.voucher else "–"
        table.add_row(
            _words(e.kind),
            _words(e.plan.outcome.value),
            _words(e.fix.outcome.value),
            _words(e.again.outcome.value),
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
    with quiet_logs():
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
        console = people_console()
        for episode in episodes:
            _episode(console, episode, lang)
        console.print(_table(episodes, seconds, lang))
    sys.exit(EXIT_OK if all(e.as_expected for e in episodes) else EXIT_FAILED)
