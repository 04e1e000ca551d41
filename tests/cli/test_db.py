"""``remediator db``: status and upgrade; commands refuse a schema that is behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from remediator.runtime import open_store
from remediator.storage import TokenCipher, migrations
from tests.cli.conftest import run
from tests.conftest import connection
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


def test_adopt_key_removes_the_tokens_a_lost_key_wrote_and_makes_the_new_key_the_databases(
    env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_store().add(connection("lost-key"))  # with the key of env
    monkeypatch.setenv("REMEDIATOR_SECRET_KEY", Fernet.generate_key().decode())  # the old lost
    refused = run("connections", "add", "other", "--label", "Other")
    assert refused.exit_code == 4
    assert "does not decrypt the stored tokens" in refused.stderr
    dry = run("db", "adopt-key")
    assert dry.exit_code == 0, dry.output
    assert "would remove the tokens of (to reconnect): lost-key" in dry.stdout
    unreadable = run("connections", "show", "lost-key")  # shown, and says what to do
    assert unreadable.exit_code == 0, unreadable.output
    assert "its tokens cannot be decrypted" in unreadable.stdout
    assert "remediator db adopt-key" in unreadable.stdout
    listed = json.loads(run("connections", "list", "--json").stdout)
    assert [(c["id"], c["has_refresh_token"], c["tokens_readable"]) for c in listed] == [
        ("lost-key", True, False)
    ]
    done = run("db", "adopt-key", "--yes")
    assert "tokens removed (reconnect these): lost-key" in done.stdout
    shown = json.loads(run("connections", "show", "lost-key", "--json").stdout)
    assert (shown["status"], shown["has_refresh_token"], shown["tokens_readable"]) == (
        "needs_reconnect",
        False,
        True,
    )
    assert "secret key that is lost" in shown["status_reason"]
    assert run("connections", "add", "other", "--label", "Other").exit_code == 0
    assert "none" in run("db", "adopt-key").stdout  # nothing left it cannot read
