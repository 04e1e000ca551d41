"""The command group: every command it names, and a command loads only what it uses."""

from __future__ import annotations

import subprocess
import sys

import click
from click.testing import CliRunner

from remediator.cli import COMMANDS, cli


def test_every_command_named_is_that_command_and_help_lists_them_all() -> None:
    context = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(context, name)
        assert command is not None
        assert command.name == name
    listed = CliRunner().invoke(cli, ["--help"]).output
    assert all(f"  {name} " in listed for name in COMMANDS)


def test_an_unknown_command_is_refused_as_click_refuses_it() -> None:
    result = CliRunner().invoke(cli, ["fixx"])
    assert result.exit_code == 2
    assert "No such command 'fixx'" in result.output


def test_explaining_an_error_loads_no_web_framework_console_or_sandbox() -> None:
    script = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from remediator.cli import cli\n"
        "result = CliRunner().invoke(cli, ['explain', 'Konto 3001 är inte aktivt'])\n"
        "assert result.exit_code in (0, 3, 5), result.output\n"
        "loaded = [m for m in ('fastapi', 'starlette', 'remediator.console', 'remediator.sandbox',"
        " 'remediator.service') if m in sys.modules]\n"
        "print(','.join(loaded))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == ""
