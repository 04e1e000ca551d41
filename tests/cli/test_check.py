"""``remediator check``: the read-only checks of every playbook for one company and date."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.cli.conftest import Company, run

Make = Callable[[str], Company]


def test_a_healthy_company_has_no_obstacles(company: Make) -> None:
    c = company("series_not_manual")
    assert c.invoke("fix", str(c.failure_file), "--yes").exit_code == 0
    before = len(c.sandbox.requests)
    result = c.invoke(
        "check", "--connection", c.connection_id, "--date", "2026-03-02", "--lang", "en"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "✓ The connection to Fortnox works (renewed just now).",
        "✓ Financial year 2026-01-01 – 2026-12-31 (id 2) covers 2026-03-02.",
        "✓ Voucher series F exists in the financial year.",
        "✓ Series F is open for manual entry.",
        "✓ 2026-03-02 is not in a locked period (locked up to 2025-12-31).",
        "No obstacles found.",
    ]
    made = c.sandbox.requests[before:]
    assert made, "check reads Fortnox"
    assert all(r["method"] == "GET" or r["path"].startswith("/oauth") for r in made)


def test_what_would_make_tomorrows_export_fail(company: Make) -> None:
    c = company("series_not_manual")
    before = len(c.writes())
    result = c.invoke("check", "--connection", c.connection_id, "--date", "2026-03-03", "--json")
    assert result.exit_code == 3
    assert len(c.writes()) == before
    data = json.loads(result.stdout)
    assert (data["connection_id"], data["date"], data["ok"], data["complete"]) == (
        c.connection_id,
        "2026-03-03",
        False,
        True,
    )
    failing = [f for f in data["findings"] if not f["ok"]]
    assert failing == [
        {
            "check": "series_manual",
            "ok": False,
            "unavailable": False,
            "text": {
                "sv": "Öppna serie F för manuell kontering (Manual: true).",
                "en": "Open series F for manual entry (Manual: true).",
            },
        }
    ]


def test_a_missing_series_in_swedish(company: Make) -> None:
    c = company("series_missing")
    result = c.invoke("check", "--connection", c.connection_id, "--date", "2026-03-02")
    assert result.exit_code == 3
    assert "✗ Skapa verifikationsserie F" in result.stdout
    assert result.stdout.splitlines()[-1] == "1 hinder hittades."


def test_no_financial_year_stops_the_checks(company: Make) -> None:
    c = company("series_not_manual")
    result = c.invoke(
        "check", "--connection", c.connection_id, "--date", "2031-06-01", "--lang", "en"
    )
    assert result.exit_code == 3
    assert result.stdout.splitlines() == [
        "✓ The connection to Fortnox works (renewed just now).",
        "✗ Fortnox has no financial year covering 2031-06-01.",
        "1 obstacle(s) found.",
    ]


def test_fortnox_not_answering_is_an_incomplete_check_not_an_obstacle(
    company: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found from outside: during an outage ``check`` said "✗ The step could not be done.
    1 obstacle(s) found." and exited 3, as if the company had a problem to fix."""
    monkeypatch.setenv("REMEDIATOR_RETRY_ATTEMPTS", "1")
    c = company("series_not_manual")
    c.sandbox.set_faults(burst_503_seconds=600)
    args = ("check", "--connection", c.connection_id, "--date", "2026-03-02")
    result = c.invoke(*args, "--lang", "en")
    assert result.exit_code == 4
    lines = result.stdout.splitlines()
    assert lines[0] == "✓ The connection to Fortnox works (renewed just now)."
    assert lines[1].startswith(
        "? Fortnox did not answer, so this could not be checked; try again in a while (Fortnox 503"
    )
    assert lines[2:] == ["The check is not complete: Fortnox did not answer. Try again in a while."]
    data = json.loads(c.invoke(*args, "--json").stdout)
    assert (data["ok"], data["complete"]) == (False, False)
    assert [(f["check"], f["ok"], f["unavailable"]) for f in data["findings"]] == [
        ("refresh_connection", True, False),
        ("financial_year", False, True),
    ]


def test_an_invalidated_connection_is_an_obstacle(company: Make) -> None:
    c = company("connection_invalidated")
    result = c.invoke("check", "--connection", c.connection_id, "--json")
    assert result.exit_code == 3
    findings = json.loads(result.stdout)["findings"]
    assert [(f["check"], f["ok"]) for f in findings] == [("refresh_connection", False)]


def test_unknown_connection_and_bad_date(env: None) -> None:
    result = run("check", "--connection", "nobody", "--date", "2026-03-02")
    assert result.exit_code == 2
    assert result.stderr == "error: unknown connection 'nobody'\n"
    result = run("check", "--connection", "nobody", "--date", "2 mars")
    assert result.exit_code == 2
    assert "Invalid value for '--date'" in result.stderr
    assert run("check").exit_code == 2  # --connection is required


def test_a_connection_never_authorized_says_so(company: Make) -> None:
    c = company("series_not_manual")  # its sandbox; the connection checked is a new one
    assert c.invoke("connections", "add", "new-place", "--label", "New Place").exit_code == 0
    listed = c.json("connections", "list")
    assert {r["id"]: r["status"] for r in listed}["new-place"] == "not_authorized"
    table = c.invoke("connections", "list").stdout
    assert (
        "new-place: not authorized yet: run `remediator connections authorize-url new-place`"
        in table
    )
    result = c.invoke("check", "--connection", "new-place", "--lang", "en")
    assert result.exit_code == 3
    assert "Not authorized yet: run `remediator connections authorize-url new-place`." in (
        " ".join(result.stdout.split())
    )
    assert "invalidated" not in result.stdout
    again = c.json("connections", "show", "new-place")
    assert (again["status"], again["status_reason"]) == ("not_authorized", None)
