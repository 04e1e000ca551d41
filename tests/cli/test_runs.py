"""``remediator runs``: past runs, their reports and audit trails; never a token."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from remediator.runtime import open_store
from tests.cli.conftest import Company, run

Make = Callable[[str], Company]


@pytest.fixture
def history(company: Make) -> Company:
    """One company with a plan and a fix, the fix's access token expired first (so the run
    refreshes it: a token call in the audit trail)."""
    c = company("series_not_manual")
    assert c.invoke("plan", str(c.failure_file)).exit_code == 0
    open_store()._update(c.connection_id, {"access_expires_at": 0.0})
    assert c.invoke("fix", str(c.failure_file), "--yes").exit_code == 0
    return c


def secrets(c: Company) -> list[str]:
    connection = open_store().get(c.connection_id)
    found = [s.get_secret_value() for s in (connection.access_token, connection.refresh_token) if s]
    found += [g.refresh_token for g in c.sandbox.world.state.grants]
    assert found
    return found


def assert_no_secret(c: Company, output: str) -> None:
    for secret in secrets(c):
        assert secret not in output
    assert "Bearer" not in output
    assert "client_secret" not in output.lower()


def test_list(history: Company) -> None:
    result = history.invoke("runs", "list")
    assert result.exit_code == 0
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [row[1:] for row in rows] == [
        [history.connection_id, "apply", "done", "series_not_manual", "fixed"],
        [history.connection_id, "plan", "done", "series_not_manual", "would_fix"],
    ]
    assert_no_secret(history, result.stdout)


def test_list_json_and_filters(history: Company) -> None:
    rows: list[dict[str, Any]] = history.json("runs", "list")
    assert [(r["mode"], r["outcome"]) for r in rows] == [("apply", "fixed"), ("plan", "would_fix")]
    assert all(r["event_id"] == history.failure.event_id for r in rows)
    assert "report" not in rows[0]
    assert "failure" not in rows[0]
    assert [r["mode"] for r in history.json("runs", "list", "--outcome", "fixed")] == ["apply"]
    assert history.json("runs", "list", "--connection", "someone-else") == []
    assert len(history.json("runs", "list", "--limit", "1")) == 1


def test_show_renders_the_report(history: Company) -> None:
    run_id = history.json("runs", "list", "--outcome", "fixed")[0]["id"]
    result = history.invoke("runs", "show", run_id, "--lang", "en")
    assert result.exit_code == 0
    out = result.stdout
    assert "Fixed: The voucher series is not open for manual entry." in out
    assert "What the remediator did" in out
    assert f"run {run_id}" in out
    assert " api " not in out  # the audit trail only on request
    assert_no_secret(history, out)


def test_show_audit_lists_every_request(history: Company) -> None:
    run_id = history.json("runs", "list", "--outcome", "fixed")[0]["id"]
    result = history.invoke("runs", "show", run_id, "--audit")
    assert result.exit_code == 0
    trail = [line.split() for line in result.stdout.splitlines() if " → " in line and "/" in line]
    calls = [(parts[1], parts[2], parts[3]) for parts in trail if parts[1] in ("api", "token")]
    assert calls == [
        ("token", "POST", "/oauth-v1/token"),
        ("api", "GET", "/3/financialyears"),
        ("api", "GET", "/3/voucherseries/F"),
        ("api", "PUT", "/3/voucherseries/F"),
        ("api", "GET", "/3/vouchers"),
        ("api", "POST", "/3/vouchers"),
    ]
    assert_no_secret(history, result.stdout)


def test_show_json(history: Company) -> None:
    run_id = history.json("runs", "list", "--outcome", "fixed")[0]["id"]
    result = history.invoke("runs", "show", run_id, "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert set(data) == {"run", "report", "audit"}
    assert data["run"]["id"] == data["report"]["run_id"] == run_id
    assert data["report"]["outcome"] == "fixed"
    assert data["report"]["requests"]["token_calls"] == 1
    assert [(a["kind"], a["method"], a["status"]) for a in data["audit"]][:2] == [
        ("token", "POST", 200),
        ("api", "GET", 200),
    ]
    assert data["audit"][0]["grant_type"] == "refresh_token"
    assert_no_secret(history, result.stdout)


def test_unknown_outcome_is_a_usage_error(env: None) -> None:
    result = run("runs", "list", "--outcome", "fixd")
    assert result.exit_code == 2
    assert "'fixd' is not one of 'fixed', 'nothing_to_fix'" in result.stderr


def test_unknown_run(env: None) -> None:
    result = run("runs", "show", "nope")
    assert result.exit_code == 2
    assert result.stderr == "error: unknown run 'nope'\n"


def test_no_runs_yet(env: None) -> None:
    result = run("runs", "list", "--json")
    assert (result.exit_code, json.loads(result.stdout)) == (0, [])
