"""``remediator db``: status and upgrade; commands refuse a schema that is behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from remediator.storage import TokenCipher, migrations
from tests.cli.conftest import run
from tests.storage import legacy


@pytest.fixture
def old_database(env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The CLI's database as a remediator before migrations left it (schema version 4)."""
    key = Fernet.generate_key()
    monkeypatch.setenv("REMEDIATOR_SECRET_KEY", key.decode())
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    legacy.make_v4(url, TokenCipher(key))
    return url


def test_a_command_on_an_old_database_says_to_run_db_upgrade(old_database: str) -> None:
    result = run("runs", "list")
    assert result.exit_code == 4
    assert "out of date: run `remediator db upgrade`" in result.stderr
    assert "made before migrations" in run("db", "status").stdout


def test_db_upgrade_keeps_the_data_and_runs_once(old_database: str) -> None:
    upgraded = run("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert upgraded.stdout.strip() == f"database schema: none -> {migrations.head()}"
    assert "cli-run" in run("runs", "list").stdout
    shown = json.loads(run("connections", "show", "rest-1", "--json").stdout)
    assert shown["has_refresh_token"] is True
    again = run("db", "upgrade")
    assert again.stdout.strip() == f"database schema: already at {migrations.head()}"
    status = json.loads(run("db", "status", "--json").stdout)
    assert status == {
        "current": migrations.head(),
        "head": migrations.head(),
        "empty": False,
        "up_to_date": True,
    }


def test_a_new_database_needs_no_command(env: None) -> None:
    assert run("db", "status").stdout.strip().startswith("database schema: empty")
    assert run("runs", "list").exit_code == 0
    assert run("db", "status").stdout.strip().endswith("(up to date)")
