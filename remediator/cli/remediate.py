"""``plan``, ``apply`` and ``fix``: the remediation commands support staff run."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click
from rich.console import Console

from remediator.cli.output import echo_json, exit_code_for, json_option, lang_option, working
from remediator.errors import UsageError
from remediator.failure import ExportFailure, parse_failure
from remediator.plans import SavedPlan
from remediator.render import Lang, render
from remediator.report import Report, StepStatus
from remediator.runtime import Runtime, open_runtime

T = TypeVar("T")


def read_failure(path: Path) -> ExportFailure:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise UsageError(f"cannot read {path}: {err.strerror}") from None
    return parse_failure(data, source=str(path))


FORTNOX = "Working with Fortnox…"


def with_runtime(work: Callable[[Runtime], Awaitable[T]], doing: str | None = None) -> T:
    """Run ``work`` with a runtime; ``doing``: a spinner's text while it runs (on a terminal)."""

    async def go() -> T:
        runtime = open_runtime()
        try:
            if doing is None:
                return await work(runtime)
            with working(doing):
                return await work(runtime)
        finally:
            await runtime.aclose()

    return asyncio.run(go())


def show(report: Report, as_json: bool, lang: Lang) -> None:
    if as_json:
        echo_json(report.model_dump(mode="json"))
    else:
        render(report, lang)


def finish(report: Report) -> None:
    sys.exit(exit_code_for(report.outcome.value))


def interactive() -> bool:
    """Whether a person at a terminal can answer the confirmation of ``fix``."""
    return sys.stdin.isatty()


@click.command()
@click.argument("failure_file", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), help="Save the plan to apply it later.")
@json_option
@lang_option
def plan(failure_file: Path, out: Path | None, as_json: bool, lang: Lang) -> None:
    """Dry run: show what would be done for a failure. Writes nothing to Fortnox."""
    failure = read_failure(failure_file)
    report = with_runtime(lambda rt: rt.engine.run(failure, mode="plan"), "Reading Fortnox…")
    if out is not None:
        SavedPlan(failure=failure, report=report).save(out)
    show(report, as_json, lang)
    if out is not None and not as_json:
        click.echo(f"plan saved to {out}; apply it with: remediator apply {out}")
    finish(report)


@click.command("apply")
@click.argument("plan_file", type=click.Path(path_type=Path))
@json_option
@lang_option
def apply_(plan_file: Path, as_json: bool, lang: Lang) -> None:
    """Apply a saved plan, after checking Fortnox still looks as it did when it was made."""
    saved = SavedPlan.read(plan_file)
    report = with_runtime(lambda rt: rt.engine.apply_saved(saved), FORTNOX)
    show(report, as_json, lang)
    finish(report)


@click.command()
@click.argument("failure_file", type=click.Path(path_type=Path))
@click.option("--yes", is_flag=True, help="Apply without asking (the plan is not shown first).")
@json_option
@lang_option
def fix(failure_file: Path, yes: bool, as_json: bool, lang: Lang) -> None:
    """Plan and apply in one go; asks for confirmation on a terminal unless --yes.

    Declining leaves Fortnox untouched and ends with the plan (exit code of its outcome).
    """
    failure = read_failure(failure_file)
    if not yes and not interactive():
        raise UsageError("not a terminal, so nobody can confirm: pass --yes to apply")

    async def work(rt: Runtime) -> tuple[Report, bool]:
        """The final report, and whether the person has already seen it."""
        if yes:
            with working(FORTNOX):
                return await rt.engine.run(failure, mode="apply", reviewed=True), False
        with working("Reading Fortnox…"):
            planned = await rt.engine.run(failure, mode="plan")
        if not any(step.status is StepStatus.WOULD_CHANGE for step in planned.steps):
            return planned, False
        # With --json, stdout carries only the final report: the plan goes to stderr.
        render(planned, lang, Console(stderr=True) if as_json else None)
        if not click.confirm("Apply these changes in Fortnox?", default=False, err=True):
            click.echo("Nothing was changed in Fortnox.", err=True)
            return planned, True
        with working(FORTNOX):
            return await rt.engine.run(failure, mode="apply", reviewed=True), False

    report, seen = with_runtime(work)
    if as_json or not seen:
        show(report, as_json, lang)
    finish(report)
