"""``remediator connections``: add, list, show, remove, authorize-url; never a token shown."""

from __future__ import annotations

import json
import sys
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from remediator.cli import cli, remediate
from remediator.fortnox import FortnoxConnector
from remediator.runtime import open_connector
from remediator.sandbox import Sandbox
from remediator.settings import Settings
from remediator.storage import ConnectionStore
from tests.service.conftest import TestClient


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
    assert [(r["id"], r["status"], r["has_refresh_token"], r["tokens_readable"]) for r in rows] == [
        ("bistro", "active", True, True)
    ]
    shown = runner.invoke(cli, ["connections", "show", "bistro"])
    assert "label: Bistro Ljus" in shown.output
    for output in (added.output, listed.output, shown.output):
        assert "imported-refresh-token" not in output
    assert runner.invoke(cli, ["connections", "remove", "bistro", "--yes"]).exit_code == 0
    assert json.loads(runner.invoke(cli, ["connections", "list", "--json"]).output) == []


def test_a_shell_without_the_database_s_key_lists_and_shows_all_but_the_tokens(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Support's shell with another key (or none, so a key file of its own) still sees every
    connection and its state, and is told what to do about the tokens; nothing is written."""
    for name in ("bistro", "krogen"):
        added = runner.invoke(
            cli,
            ["connections", "add", name, "--label", name.title(), "--refresh-token-stdin"],
            input=f"refresh-{name}\n",
        )
        assert added.exit_code == 0, added.output
    monkeypatch.setenv("REMEDIATOR_SECRET_KEY", Fernet.generate_key().decode())
    listed = runner.invoke(cli, ["connections", "list"])
    assert listed.exit_code == 0, listed.output
    for name in ("bistro", "krogen"):
        assert f"{name}: its tokens cannot be decrypted with the configured secret key" in (
            listed.output
        )
    rows = json.loads(runner.invoke(cli, ["connections", "list", "--json"]).output)
    assert [(r["id"], r["status"], r["has_refresh_token"], r["tokens_readable"]) for r in rows] == [
        ("bistro", "active", True, False),
        ("krogen", "active", True, False),
    ]
    shown = runner.invoke(cli, ["connections", "show", "krogen"])
    assert "tokens_readable: False" in shown.output
    assert "remediator db adopt-key" in shown.output
    assert "refresh-" not in listed.output + shown.output


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


def test_connect_records_who_connected_and_warns_about_a_non_administrator(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = Sandbox.from_scenario("access_denied")  # its consent user u1 is no sysadmin
    for name, value in {
        "CLIENT_ID": "remediator-demo",
        "CLIENT_SECRET": "demo-secret",
        "FORTNOX_API_URL": "http://sandbox/3",
        "FORTNOX_OAUTH_URL": "http://sandbox/oauth-v1",
    }.items():
        monkeypatch.setenv(f"REMEDIATOR_{name}", value)

    def through_sandbox(settings: Settings, store: ConnectionStore) -> FortnoxConnector:
        return open_connector(settings, store, transport=sandbox.transport())

    module = sys.modules["remediator.cli.connections"]  # the package's name is the group's
    monkeypatch.setattr(module, "open_connector", through_sandbox)
    assert runner.invoke(cli, ["connections", "add", "tapas", "--label", "Tapas"]).exit_code == 0
    url = runner.invoke(cli, ["connections", "authorize-url", "tapas"]).output.strip()
    with httpx.Client(transport=TestClient(sandbox.app)._transport) as browser:
        redirect = browser.get(url)
    code = parse_qs(urlsplit(redirect.headers["location"]).query)["code"][0]

    connected = runner.invoke(cli, ["connections", "connect", "tapas", "--code", code])
    assert connected.exit_code == 0, connected.output
    user = sandbox.world.state.tenants[0].users[0]
    assert f"connected by: {user.name}" in connected.output
    assert "not a system administrator" in connected.output
    assert "warning: The connection was made by" in connected.output
    shown = json.loads(runner.invoke(cli, ["connections", "show", "tapas", "--json"]).output)
    assert shown["owner"]["sys_admin"] is False
    assert shown["owner"]["name"] == user.name
    assert "not a system administrator" in shown["owner_warning"]
    listed = runner.invoke(cli, ["connections", "list"]).output
    assert "tapas: The connection was made by" in listed
