"""Bad settings end every command with one line on stderr and exit 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import run


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("REMEDIATOR_SCOPES", "bookkeeping", "REMEDIATOR_SCOPES must be JSON"),
        ("REMEDIATOR_DATABASE_URL", "bogus", "database_url: not a database URL"),
        ("REMEDIATOR_DATABASE_URL", "nosuchdb://x/y", "database_url is not a database URL"),
        ("REMEDIATOR_HTTP_TIMOUT", "5", "did you mean REMEDIATOR_HTTP_TIMEOUT?"),
        ("REMEDIATOR_HTTP_TIMEOUT", "soon", "http_timeout: Input should be a valid number"),
        ("REMEDIATOR_SCHEDULE_TIME", "3am", "schedule_time: not a time of day HH:MM: '3am'"),
        ("REMEDIATOR_SCHEDULE_TIMEZONE", "Stockholm", "unknown time zone: 'Stockholm'"),
    ],
)
@pytest.mark.parametrize(
    "command", [["runs", "list"], ["connections", "list"], ["check", "--connection", "x"]]
)
@pytest.mark.usefixtures("env")
def test_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
    name: str,
    value: str,
    says: str,
) -> None:
    monkeypatch.setenv(name, value)
    result = run(*command)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ")
    assert says in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert result.stdout == ""


def test_a_malformed_config_file(
    env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "remediator.toml").write_text('client_id = "unclosed\n')
    monkeypatch.chdir(tmp_path)
    result = run("runs", "list")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: config/remediator.toml is not valid TOML: ")
    assert len(result.stderr.splitlines()) == 1


def test_a_sqlite_database_in_a_missing_folder_is_refused(
    env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "no" / "such"
    monkeypatch.setenv("REMEDIATOR_DATABASE_URL", f"sqlite:///{missing / 'x.db'}")
    result = run("runs", "list")
    assert (result.exit_code, result.stdout) == (2, "")
    assert f"the database's folder {missing} does not exist" in result.stderr
    assert not missing.parent.exists()
