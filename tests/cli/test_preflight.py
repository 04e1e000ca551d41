"""``remediator preflight``: a check ahead of every active connection, fixing what the policy
allows; its exit code says whether a person is needed."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from cryptography.fernet import Fernet

from remediator.cli import cli
from remediator.policy import Policy, Rule
from remediator.runtime import open_store
from tests.cli.conftest import Company, run

Make = Callable[[str], Company]


def test_tomorrows_obstacle_is_fixed_ahead_and_shows_among_the_runs(company: Make) -> None:
    c = company("series_not_manual")
    before = len(c.writes())
    result = c.invoke("preflight", "--date", "2026-03-02", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    [checked] = data["connections"]
    assert (checked["connection_id"], checked["days"]) == (c.connection_id, ["2026-03-03"])
    [made] = checked["runs"]
    assert (made["kind"], made["date"], made["status"]) == (
        "series_not_manual",
        "2026-03-03",
        "fixed",
    )
    assert [(w["method"], w["path"]) for w in c.writes()[before:]] == [
        ("PUT", "/3/voucherseries/F")
    ]
    listed = c.json("runs", "list")
    assert [(r["id"], r["origin"], r["outcome"]) for r in listed] == [
        (made["run_id"], "scheduled", "fixed")
    ]
    again = c.invoke("preflight", "--date", "2026-03-02")
    assert (again.exit_code, again.stdout) == (
        0,
        f"{c.connection_id}: nothing in the way (2026-03-03)\n",
    )


def test_a_finding_for_a_person_exits_3(company: Make) -> None:
    c = company("series_not_manual")
    open_store().set_policy(c.connection_id, Policy(set_manual=Rule.NEVER))
    result = c.invoke("preflight", "--date", "2026-03-02")
    assert result.exit_code == 3, result.output
    assert "series_not_manual 2026-03-03: manual_action_required" in result.stdout


def test_with_no_connections_there_is_nothing_to_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMEDIATOR_SECRET_KEY", Fernet.generate_key().decode())
    result = run("preflight")
    assert (result.exit_code, result.output) == (0, "no active connections\n")
    assert cli is not None
