"""The ``remediator`` command line: one group, one module per command family.

A command's module is imported when that command runs (or when help lists the commands), so
a command loads only what it uses: ``remediator fix`` no web framework, console or sandbox.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from remediator import __version__
from remediator.cli.output import RemediatorGroup

# name -> (module, attribute), in the order help lists them
COMMANDS: dict[str, tuple[str, str]] = {
    "explain": ("remediator.cli.explain", "explain"),
    "plan": ("remediator.cli.remediate", "plan"),
    "apply": ("remediator.cli.remediate", "apply_"),
    "fix": ("remediator.cli.remediate", "fix"),
    "check": ("remediator.cli.check", "check"),
    "preflight": ("remediator.cli.preflight", "preflight"),
    "runs": ("remediator.cli.runs", "runs"),
    "connections": ("remediator.cli.connections", "connections"),
    "keepalive": ("remediator.cli.keepalive", "keepalive"),
    "jobs": ("remediator.cli.jobs", "jobs"),
    "db": ("remediator.cli.db", "db"),
    "playbooks": ("remediator.cli.playbooks", "playbooks"),
    "demo": ("remediator.cli.demo", "demo"),
    "sandbox": ("remediator.cli.sandbox", "sandbox"),
    "serve": ("remediator.cli.serve", "serve"),
    "users": ("remediator.cli.users", "users"),
}


class LazyGroup(RemediatorGroup):
    """The commands of ``COMMANDS``, each imported when it is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:  # noqa: ARG002 - click's
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:  # noqa: ARG002
        where = COMMANDS.get(cmd_name)
        if where is None:
            return None
        module, attribute = where
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):  # pragma: no cover - a wrong table entry
            raise TypeError(f"{module}.{attribute} is not a click command")
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="remediator")
@click.option("-v", "--verbose", is_flag=True, help="Log what happens to stderr.")
def cli(verbose: bool) -> None:
    """Makes failed Z-report exports to Fortnox fix themselves."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )


def main() -> None:
    """Console entry point: errors become one line on stderr and their exit code."""
    cli(prog_name="remediator")
