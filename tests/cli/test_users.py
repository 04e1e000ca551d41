"""``remediator users``: console accounts from the terminal, each change in the audit log."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from remediator.cli import cli
from remediator.storage import Database
from remediator.storage.audit import AuditStore
from remediator.storage.users import UserStore


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    url = f"sqlite:///{tmp_path / 'users.db'}"
    monkeypatch.setenv("REMEDIATOR_DATABASE_URL", url)
    monkeypatch.setenv("REMEDIATOR_PUBLIC_URL", "https://remediator.example")
    monkeypatch.setenv("REMEDIATOR_KEY_FILE", str(tmp_path / "key"))
    monkeypatch.chdir(tmp_path)
    return Database(url)


def test_add_prints_a_one_time_link_that_names_the_person(database: Database) -> None:
    result = CliRunner().invoke(cli, ["users", "add", "eva", "--email", "eva@example.se"])
    assert result.exit_code == 0, result.output
    url = next(line for line in result.output.splitlines() if line.startswith("https://"))
    link = urlsplit(url)
    assert (link.netloc, link.path) == ("remediator.example", "/console/welcome")
    token = parse_qs(link.query)["token"][0]
    users = UserStore(database)
    invited = users.invited(token)
    assert invited is not None
    assert invited.name == "eva"
    assert not users.get("eva").has_password
    assert token not in (database.url + json.dumps([u.model_dump() for u in users.all()]))


def test_add_can_ask_for_the_password_instead(database: Database) -> None:
    result = CliRunner().invoke(
        cli,
        ["users", "add", "ali", "--email", "ali@example.se", "--password"],
        input="a long password\na long password\n",
    )
    assert result.exit_code == 0, result.output
    assert "/console/login" in result.output
    assert UserStore(database).login("ali", "a long password") is not None


def test_a_short_password_or_a_second_add_is_refused_in_one_line(database: Database) -> None:
    short = CliRunner().invoke(
        cli, ["users", "add", "ali", "--email", "a@b.se", "--password"], input="short\nshort\n"
    )
    assert short.exit_code == 2
    assert "at least 10 characters" in short.output
    assert [u.name for u in UserStore(database).all()] == []  # not added without a password
    CliRunner().invoke(cli, ["users", "add", "eva", "--email", "eva@example.se"])
    again = CliRunner().invoke(cli, ["users", "add", "eva", "--email", "eva@example.se"])
    assert again.exit_code == 2
    assert "already exists" in again.output


def test_disable_enable_remove_and_list(database: Database) -> None:
    runner = CliRunner()
    runner.invoke(cli, ["users", "add", "eva", "--email", "eva@example.se"])
    runner.invoke(cli, ["users", "add", "ali", "--email", "ali@example.se"])
    assert runner.invoke(cli, ["users", "disable", "eva"]).exit_code == 0
    listed = json.loads(runner.invoke(cli, ["users", "list", "--json"]).output)
    assert [(u["name"], u["state"]) for u in listed] == [("ali", "invited"), ("eva", "disabled")]
    assert runner.invoke(cli, ["users", "enable", "eva"]).exit_code == 0
    assert runner.invoke(cli, ["users", "remove", "ali", "--yes"]).exit_code == 0
    table = runner.invoke(cli, ["users", "list"]).output
    assert table.splitlines()[0].split() == ["NAME", "EMAIL", "STATE", "LAST", "LOGIN"]
    assert "ali" not in table
    unknown = runner.invoke(cli, ["users", "disable", "nobody"])
    assert (unknown.exit_code, unknown.output.strip()) == (2, "error: unknown user 'nobody'")
    actions = [e.action for e in reversed(AuditStore(database).recent())]
    assert actions == [
        "user_add",
        "user_add",
        "user_disable",
        "user_enable",
        "user_remove",
    ]
