"""``remediator runs``: past runs, their reports and audit trails; never a token."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest

from remediator.runtime import open_store
from remediator.settings import load_settings
from remediator.storage import Database
from remediator.storage.db import runs
from remediator.storage.runs import RunStore, Started
from tests.cli.conftest import Company, run

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00")

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


@pytest.fixture
def stockholm(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's time zone is Stockholm's (tables show local times)."""
    monkeypatch.setenv("TZ", "Europe/Stockholm")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("stockholm")
@pytest.mark.parametrize("columns", [80, 100])
def test_list_is_a_table_with_headers_and_local_times(
    history: Company, monkeypatch: pytest.MonkeyPatch, columns: int
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    result = history.invoke("runs", "list")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["run", "received", "connection", "state", "kind", "outcome"]
    assert all(len(line) <= columns for line in lines)
    rows = history.json("runs", "list")
    when = datetime.fromisoformat(rows[0]["created_at"]).astimezone().strftime("%Y-%m-%d %H:%M")
    assert lines[1].startswith(f"{rows[0]['id'][:8]}  {when}")
    assert "fixed" in lines[1]
    assert "would fix" in result.stdout
    assert_no_secret(history, result.stdout)


def test_list_json_and_filters(history: Company) -> None:
    rows: list[dict[str, Any]] = history.json("runs", "list")
    assert [(r["mode"], r["outcome"]) for r in rows] == [("apply", "fixed"), ("plan", "would_fix")]
    assert ISO.fullmatch(rows[0]["created_at"])
    assert ISO.fullmatch(rows[0]["finished_at"])
    assert [r["mode"] for r in history.json("runs", "list", "--state", "done")] == ["apply", "plan"]
    assert history.json("runs", "list", "--state", "awaiting_review") == []
    assert all(r["event_id"] == history.failure.event_id for r in rows)
    assert "report" not in rows[0]
    assert "failure" not in rows[0]
    assert [r["mode"] for r in history.json("runs", "list", "--outcome", "fixed")] == ["apply"]
    assert history.json("runs", "list", "--connection", "someone-else") == []
    assert len(history.json("runs", "list", "--limit", "1")) == 1


def test_show_renders_the_report(history: Company) -> None:
    run_id = history.json("runs", "list", "--outcome", "fixed")[0]["id"]
    result = history.invoke("runs", "show", run_id[:7], "--lang", "en")
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
    assert set(data) == {"run", "report", "audit", "decisions"}
    assert data["decisions"] == []  # a run of the CLI: nobody reviewed it
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


def test_an_ambiguous_prefix_lists_the_candidates(env: None) -> None:
    store = RunStore(Database(load_settings().database_url))
    for run_id in ("abcd01", "abcd02", "abce03"):
        store.create(run_id, event_id="e", connection_id="c", mode="plan", failure_json="{}")
    result = run("runs", "show", "abcd")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: run id 'abcd' is ambiguous; it starts abcd01, abcd02 (give more characters)\n"
    )
    assert run("runs", "show", "abcd02", "--json").exit_code == 0
    assert json.loads(run("runs", "show", "abce", "--json").stdout)["run"]["id"] == "abce03"


def test_a_prefix_of_no_run_is_unknown(history: Company) -> None:
    result = history.invoke("runs", "show", "zz")
    assert (result.exit_code, result.stderr) == (2, "error: unknown run 'zz'\n")


def test_a_run_whose_fix_was_killed_ends_when_runs_are_listed(history: Company) -> None:
    """Found from outside: ``kill -9`` of ``remediator fix`` left its run ``running`` for ever
    where no service runs (a laptop). ``runs list`` and ``runs show`` end it first, once it is
    ``stuck_run_seconds`` old and nobody holds its company's lease."""
    database = Database(load_settings().database_url)
    body = history.failure.model_dump_json(by_alias=True)
    RunStore(database).write([Started("killed01", "ev-k", history.connection_id, "apply", body)])
    with database.engine.begin() as conn:
        conn.execute(
            runs.update().where(runs.c.id == "killed01").values(created_at=time.time() - 3600)
        )
    listed = {r["id"]: r for r in json.loads(run("runs", "list", "--json").stdout)}
    assert (listed["killed01"]["state"], listed["killed01"]["outcome"]) == ("done", "failed")
    shown = json.loads(run("runs", "show", "killed01", "--json").stdout)
    assert shown["run"]["state_reason"].startswith(
        "the run could not be completed: interrupted: the command that ran it"
    )
    assert "make the run again" in shown["report"]["summary"]["en"]
