"""How the CLI ends: contract 4's exit codes, and one clear line for every error a person meets."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sqlalchemy.exc import OperationalError

from remediator.cli.output import RemediatorGroup, exit_code_for
from remediator.errors import RemediatorError, StorageError, UsageError
from remediator.report import Outcome
from tests.cli.conftest import run


def test_exit_codes_of_contract_4() -> None:
    assert {o.value: exit_code_for(o.value) for o in Outcome} == {
        "fixed": 0,
        "nothing_to_fix": 0,
        "would_fix": 0,
        "manual_action_required": 3,
        "failed": 4,
        "unrecognized": 5,
    }


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (UsageError("you typed it wrong"), 2),
        (StorageError("the database is locked"), 4),
        (RemediatorError("something broke"), 4),
    ],
)
def test_errors_become_one_line_and_their_exit_code(error: Exception, code: int) -> None:
    @click.group(cls=RemediatorGroup)
    def group() -> None:
        pass

    @group.command()
    def boom() -> None:
        raise error

    result = CliRunner().invoke(group, ["boom"])
    assert result.exit_code == code
    assert result.stderr == f"error: {error}\n"
    assert result.stdout == ""


def test_a_database_that_fails_under_a_command_is_one_line_without_the_statement() -> None:
    @click.group(cls=RemediatorGroup)
    def group() -> None:
        pass

    @group.command()
    def boom() -> None:
        cause = Exception("server closed the connection unexpectedly\n\tThis probably means…")
        raise OperationalError(
            "UPDATE connections SET refresh_token=%(t)s", {"t": "gAAAA-x"}, cause
        )

    result = CliRunner().invoke(group, ["boom"])
    assert result.exit_code == 4
    assert result.stderr == (
        "error: the database failed: OperationalError: server closed the connection unexpectedly\n"
    )
    assert "gAAAA" not in result.output


def test_an_unreadable_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REMEDIATOR_CONFIG", str(tmp_path / "missing.toml"))
    result = run("runs", "list")
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: REMEDIATOR_CONFIG names {tmp_path / 'missing.toml'}, which is not a readable file\n"
    )


def test_an_invalid_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMEDIATOR_HTTP_TIMEOUT", "-1")
    result = run("runs", "list")
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: invalid settings: http_timeout:")


def test_usage_mistakes_exit_2() -> None:
    assert run("no-such-command").exit_code == 2
    assert run("plan").exit_code == 2  # missing FAILURE.json
    assert run("runs", "list", "--limit", "many").exit_code == 2


def test_help_and_version() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for command in (
        "explain",
        "plan",
        "apply",
        "fix",
        "check",
        "runs",
        "connections",
        "playbooks",
        "demo",
    ):
        assert command in result.stdout
    assert run("--version").stdout.startswith("remediator, version ")
