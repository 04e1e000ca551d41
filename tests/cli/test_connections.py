"""``remediator connections``: add, list, show, remove, authorize-url; never a token shown."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from remediator.cli import cli, remediate


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("REMEDIATOR_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("REMEDIATOR_CLIENT_ID", "client-1")
    return CliRunner()


def test_add_list_show_remove(runner: CliRunner) -> None:
    added = runner.invoke(
        cli,
        ["connections", "add", "bistro", "--label", "Bistro Ljus", "--refresh-token-stdin"],
        input="imported-refresh-token\n",
    )
    assert added.exit_code == 0, added.output
    listed = runner.invoke(cli, ["connections", "list", "--json"])
    rows = json.loads(listed.output)
    assert [(r["id"], r["status"], r["has_refresh_token"]) for r in rows] == [
        ("bistro", "active", True)
    ]
    shown = runner.invoke(cli, ["connections", "show", "bistro"])
    assert "label: Bistro Ljus" in shown.output
    for output in (added.output, listed.output, shown.output):
        assert "imported-refresh-token" not in output
    assert runner.invoke(cli, ["connections", "remove", "bistro", "--yes"]).exit_code == 0
    assert json.loads(runner.invoke(cli, ["connections", "list", "--json"]).output) == []


def test_unknown_connection_is_one_line_and_exit_2(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["connections", "show", "nope"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: unknown connection 'nope'"


def test_service_account_needs_a_tenant(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["connections", "add", "sa", "--label", "x", "--service-account"])
    assert result.exit_code == 2
    assert "--tenant" in result.output


def test_authorize_url(runner: CliRunner) -> None:
    runner.invoke(cli, ["connections", "add", "bistro", "--label", "Bistro"])
    result = runner.invoke(cli, ["connections", "authorize-url", "bistro", "--state", "s1"])
    assert result.exit_code == 0, result.output
    query = parse_qs(urlsplit(result.output.strip()).query)
    assert query["state"] == ["s1"]
    assert query["client_id"] == ["client-1"]
    assert query["access_type"] == ["offline"]


def test_remove_asks_on_a_terminal_and_refuses_without_one(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(cli, ["connections", "add", "bistro", "--label", "Bistro"]).exit_code == 0
    blind = runner.invoke(cli, ["connections", "remove", "bistro"])
    assert (blind.exit_code, blind.stderr) == (
        2,
        "error: not a terminal, so nobody can confirm: pass --yes to remove\n",
    )
    monkeypatch.setattr(remediate, "interactive", lambda: True)
    kept = runner.invoke(cli, ["connections", "remove", "bistro"], input="n\n")
    assert kept.exit_code == 0
    assert "Remove connection bistro (Bistro) and its tokens?" in kept.stderr
    assert "Nothing was removed." in kept.stderr
    assert runner.invoke(cli, ["connections", "show", "bistro"]).exit_code == 0
    gone = runner.invoke(cli, ["connections", "remove", "bistro"], input="y\n")
    assert (gone.exit_code, gone.stdout) == (0, "removed connection bistro\n")
    assert runner.invoke(cli, ["connections", "show", "bistro"]).exit_code == 2
