"""``remediator keepalive``: one pass; its exit code says whether a person is needed."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from remediator.cli import cli


def test_with_no_connections_there_is_nothing_to_keep_alive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REMEDIATOR_SECRET_KEY", Fernet.generate_key().decode())
    result = CliRunner().invoke(cli, ["keepalive"])
    assert (result.exit_code, result.output) == (0, "no connections\n")
    assert json.loads(CliRunner().invoke(cli, ["keepalive", "--json"]).output) == []


def test_a_connection_never_authorized_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMEDIATOR_SECRET_KEY", Fernet.generate_key().decode())
    runner = CliRunner()
    assert runner.invoke(cli, ["connections", "add", "new", "--label", "New"]).exit_code == 0
    result = runner.invoke(cli, ["keepalive", "--json"])
    assert (result.exit_code, json.loads(result.output)) == (0, [])
