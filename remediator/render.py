"""The human rendering of a report with Rich, in Swedish or English."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text as RichText

from remediator.report import Outcome, Report, Step, StepStatus

Lang = Literal["sv", "en"]

_LABELS: dict[str, tuple[str, str]] = {
    "wrong": ("Vad gick fel", "What went wrong"),
    "done": ("Vad remediatorn gjorde", "What the remediator did"),
    "planned": ("Vad remediatorn skulle göra", "What the remediator would do"),
    "todo": ("Vad ni behöver göra", "What you need to do"),
    "requests": ("Anrop till Fortnox", "Requests to Fortnox"),
    "nothing": ("Inget kvar att göra för hand.", "Nothing left to do by hand."),
    "retry": (
        (
            "Försök igen om en stund. Om Fortnox inte gick att nå: kontrollera nätverket och "
            "Fortnox driftstatus (status.fortnox.se), och kör sedan kommandot igen."
        ),
        (
            "Try again in a while. If Fortnox could not be reached: check the network and "
            "Fortnox's status page (status.fortnox.se), then run the command again."
        ),
    ),
}
_STATUS: dict[StepStatus, tuple[str, str, str]] = {
    StepStatus.OK: ("✓ ok", "✓ ok", "green"),
    StepStatus.CHANGED: ("✓ ändrat", "✓ changed", "green"),
    StepStatus.WOULD_CHANGE: ("→ skulle ändras", "→ would change", "cyan"),
    StepStatus.NEEDS_MANUAL: ("! kräver en person", "! needs a person", "yellow"),
    StepStatus.FAILED: ("✗ misslyckades", "✗ failed", "red"),
    StepStatus.SKIPPED: ("– hoppades över", "– skipped", "dim"),
}
_OUTCOME_STYLE = {
    Outcome.FIXED: "green",
    Outcome.NOTHING_TO_FIX: "green",
    Outcome.WOULD_FIX: "cyan",
    Outcome.MANUAL_ACTION_REQUIRED: "yellow",
    Outcome.FAILED: "red",
    Outcome.UNRECOGNIZED: "red",
}


def _label(key: str, lang: Lang) -> str:
    sv, en = _LABELS[key]
    return sv if lang == "sv" else en


def _compact(state: dict[str, Any] | None) -> str:
    return json.dumps(state, ensure_ascii=False, sort_keys=True) if state else "–"


def _steps_table(report: Report, lang: Lang) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    for step in report.steps:
        sv, en, style = _STATUS[step.status]
        table.add_row(
            RichText(sv if lang == "sv" else en, style=style),
            _describe(step, lang, plan=report.mode == "plan"),
        )
    return table


def _describe(step: Step, lang: Lang, *, plan: bool) -> str:
    line = step.summary.sv if lang == "sv" else step.summary.en
    if step.status in (StepStatus.CHANGED, StepStatus.WOULD_CHANGE) and step.after:
        line += f"\n  {_compact(step.before)} → {_compact(step.after)}"
    if plan:
        for call in step.calls:
            line += f"\n  {call.method} {call.path}"
    if step.policy and step.status is not StepStatus.OK:
        line += f"\n  ({step.policy})"
    if step.reason and step.status in (StepStatus.FAILED, StepStatus.SKIPPED):
        line += f"\n  {step.reason}"
    return line


_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")
_RECONNECT = re.compile(r"/v1/connections/(?P<id>[^/?#\s]+)/authorize")
_LINK_MARK = ("länk [{n}] nedan", "link [{n}] below")
_TERMINAL = (
    (
        "Från terminalen (utan tjänsten): kör remediator connections authorize-url {id}, öppna "
        "länken och godkänn, och kör sedan remediator connections connect {id} --code <koden i "
        "adressen Fortnox skickar tillbaka till>."
    ),
    (
        "From the terminal (without the service): run remediator connections authorize-url {id}, "
        "open the link and approve, then run remediator connections connect {id} --code <the code "
        "in the address Fortnox redirects to>."
    ),
)


def _pick(pair: tuple[str, str], lang: Lang) -> str:
    return pair[0] if lang == "sv" else pair[1]


def _unlinked(lines: list[str], lang: Lang) -> tuple[list[str], list[str]]:
    """``lines`` with each link replaced by a numbered mark, and the links: a link is printed
    whole on a line of its own, never split by the panel's wrapping."""
    links: list[str] = []

    def mark(match: re.Match[str]) -> str:
        links.append(match.group(0))
        return _pick(_LINK_MARK, lang).format(n=len(links))

    return [_URL.sub(mark, line) for line in lines], links


def _print_links(console: Console, links: list[str], lang: Lang) -> None:
    """Each link whole, on its own line (``soft_wrap``: Rich never breaks it; the terminal may
    show it over two rows but it stays one line to click or copy), then how to reconnect from
    the terminal when a link is a reconnect link."""
    for n, link in enumerate(links, 1):
        console.print(f"[{n}] ", end="", highlight=False)
        console.print(RichText(link, style=f"link {link}"), soft_wrap=True)
    connections = {m.group("id") for link in links if (m := _RECONNECT.search(link))}
    for connection_id in sorted(connections):
        console.print(_pick(_TERMINAL, lang).format(id=connection_id), highlight=False)


def render(report: Report, lang: Lang = "sv", console: Console | None = None) -> None:
    """Print ``report`` for a person: what went wrong, what was done, what is left."""
    console = console or Console()
    title = (
        f"{report.restaurant.name} · Z-rapport {report.export.date} · "
        f"{report.recognition.kind} · {report.mode}"
    )
    summary = report.summary.sv if lang == "sv" else report.summary.en
    todo, links = _unlinked(
        report.manual_steps.sv if lang == "sv" else report.manual_steps.en, lang
    )
    nothing = "retry" if report.outcome is Outcome.FAILED else "nothing"
    todo_text = "\n".join(f"{n}. {line}" for n, line in enumerate(todo, 1)) or _label(nothing, lang)
    counts = ", ".join(f"{m} {n}" for m, n in report.requests.by_method.items()) or "0"
    parts: list[Any] = [
        RichText(summary, style=f"bold {_OUTCOME_STYLE[report.outcome]}"),
        RichText(f"\n{_label('wrong', lang)}", style="bold"),
        report.explanation.sv if lang == "sv" else report.explanation.en,
        RichText(f"\n{_label('planned' if report.mode == 'plan' else 'done', lang)}", style="bold"),
        _steps_table(report, lang),
        RichText(f"\n{_label('todo', lang)}", style="bold"),
        todo_text,
        RichText(
            f"\n{_label('requests', lang)}: {counts} (token {report.requests.token_calls})",
            style="dim",
        ),
    ]
    console.print(Panel(Group(*parts), title=title, subtitle=f"run {report.run_id}"))
    _print_links(console, links, lang)
