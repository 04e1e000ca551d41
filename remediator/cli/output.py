"""How the CLI ends: errors print one clear line and exit with their code, never a traceback."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from remediator.errors import RemediatorError
from remediator.storage.db import problem

EXIT_OK, EXIT_USAGE, EXIT_MANUAL, EXIT_FAILED, EXIT_UNRECOGNIZED = 0, 2, 3, 4, 5


class RemediatorGroup(click.Group):
    """A group whose commands' ``RemediatorError``s become one line and their exit code; so
    does a database that fails under a command (exit 4, the run may be made again)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RemediatorError as err:
            click.echo(f"error: {err}", err=True)
            ctx.exit(err.exit_code)
        except SQLAlchemyError as err:
            click.echo(f"error: the database failed: {problem(err)}", err=True)
            ctx.exit(EXIT_FAILED)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def exit_code_for(outcome: str) -> int:
    """Contract 4: 0 fixed / nothing to fix / would fix, 3 manual, 4 failed, 5 unrecognized."""
    return {
        "fixed": EXIT_OK,
        "nothing_to_fix": EXIT_OK,
        "would_fix": EXIT_OK,
        "manual_action_required": EXIT_MANUAL,
        "failed": EXIT_FAILED,
        "unrecognized": EXIT_UNRECOGNIZED,
    }[outcome]


json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
lang_option = click.option(
    "--lang",
    type=click.Choice(["sv", "en"]),
    default="sv",
    show_default=True,
    help="Language of the human output.",
)


def people_console(*, stderr: bool = False) -> Console:
    """A Rich console for people: as wide as the terminal (80 columns when not one), links
    kept whole, no guessed highlighting."""
    return Console(stderr=stderr, highlight=False)


@contextmanager
def working(message: str, console: Console | None = None) -> Iterator[None]:
    """A spinner on stderr while something slow runs (only on a terminal; nothing otherwise)."""
    console = console or Console(stderr=True)
    if not console.is_terminal:
        yield
        return
    with console.status(message):
        yield


@contextmanager
def quiet_logs() -> Iterator[None]:
    """Without ``-v``, the remediator's expected warnings (a scenario's invalidated connection)
    stay out of what a person reads; the level is restored afterwards."""
    logger = logging.getLogger("remediator")
    level = logger.level
    if not logging.getLogger().isEnabledFor(logging.INFO):
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
