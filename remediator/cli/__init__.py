"""The ``remediator`` command line: one group, one module per command family."""

from __future__ import annotations

import logging
import sys

import click

from remediator import __version__
from remediator.cli.check import check
from remediator.cli.connections import connections
from remediator.cli.db import db
from remediator.cli.demo import demo
from remediator.cli.explain import explain
from remediator.cli.jobs import jobs
from remediator.cli.keepalive import keepalive
from remediator.cli.output import RemediatorGroup
from remediator.cli.playbooks import playbooks
from remediator.cli.preflight import preflight
from remediator.cli.remediate import apply_, fix, plan
from remediator.cli.runs import runs
from remediator.cli.sandbox import sandbox
from remediator.cli.serve import serve
from remediator.cli.users import users


@click.group(cls=RemediatorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="remediator")
@click.option("-v", "--verbose", is_flag=True, help="Log what happens to stderr.")
def cli(verbose: bool) -> None:
    """Makes failed Z-report exports to Fortnox fix themselves."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )


for command in (
    explain,
    plan,
    apply_,
    fix,
    check,
    preflight,
    runs,
    connections,
    keepalive,
    jobs,
    db,
    playbooks,
    demo,
    sandbox,
    serve,
    users,
):
    cli.add_command(command)


def main() -> None:
    """Console entry point: errors become one line on stderr and their exit code."""
    cli(prog_name="remediator")
