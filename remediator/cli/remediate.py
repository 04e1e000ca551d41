"""``plan``, ``apply`` and ``fix``: the remediation commands support staff run."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click

from remediator.cli.output import echo_json, exit_code_for, json_option, lang_option
from remediator.errors import UsageError
from remediator.failure import ExportFailure, parse_failure
from remediator.plans import SavedPlan, StalePlanError, differences
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


def with_runtime(work: Callable[[Runtime], Awaitable[T]]) -> T:
    async def go() -> T:
        runtime = open_runtime()
        try:
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


@click.command()
@click.argument("failure_file", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), help="Save the plan to apply it later.")
@json_option
@lang_option
def plan(failure_file: Path, out: Path | None, as_json: bool, lang: Lang) -> None:
    """Dry run: show what would be done for a failure. Writes nothing to Fortnox."""
    failure = read_failure(failure_file)
    report = with_runtime(lambda rt: rt.engine.run(failure, mode="plan"))
    if out is not None:
        SavedPlan(failure=failure, report=report).write(out)
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

    async def work(rt: Runtime) -> Report:
        now = await rt.engine.run(saved.failure, mode="plan", record=False)
        changed = differences(saved.report, now)
        if changed:
            raise StalePlanError(
                "Fortnox changed since the plan was made, so it is not applied: "
                + "; ".join(changed)
                + ". Make a new plan."
            )
        return await rt.engine.run(saved.failure, mode="apply", reviewed=True)

    report = with_runtime(work)
    show(report, as_json, lang)
    finish(report)


@click.command()
@click.argument("failure_file", type=click.Path(path_type=Path))
@click.option("--yes", is_flag=True, help="Apply without asking (the plan is not shown first).")
@json_option
@lang_option
def fix(failure_file: Path, yes: bool, as_json: bool, lang: Lang) -> None:
    """Plan and apply in one go; asks for confirmation on a terminal unless --yes."""
    failure = read_failure(failure_file)
    if not yes and not sys.stdin.isatty():
        raise UsageError("not a terminal, so nobody can confirm: pass --yes to apply")

    async def work(rt: Runtime) -> Report:
        if yes:
            return await rt.engine.run(failure, mode="apply", reviewed=True)
        planned = await rt.engine.run(failure, mode="plan")
        render(planned, lang)
        if not any(step.status is StepStatus.WOULD_CHANGE for step in planned.steps):
            return planned
        if not click.confirm("Apply these changes in Fortnox?", default=False):
            raise click.Abort
        return await rt.engine.run(failure, mode="apply", reviewed=True)

    report = with_runtime(work)
    show(report, as_json, lang)
    finish(report)
