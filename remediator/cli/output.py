"""How the CLI ends: errors print one clear line and exit with their code, never a traceback."""

from __future__ import annotations

import json
from typing import Any

import click

from remediator.errors import RemediatorError

EXIT_OK, EXIT_USAGE, EXIT_MANUAL, EXIT_FAILED, EXIT_UNRECOGNIZED = 0, 2, 3, 4, 5


class RemediatorGroup(click.Group):
    """A group whose commands' ``RemediatorError``s become one line and their exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RemediatorError as err:
            click.echo(f"error: {err}", err=True)
            ctx.exit(err.exit_code)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
