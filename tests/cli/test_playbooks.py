"""``remediator playbooks list|show``: the error kinds the remediator knows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from remediator.catalogue import load_catalogue
from remediator.kinds import ErrorKind
from remediator.playbook import DEFAULT_DIR
from tests.cli.conftest import run
from tests.shipped import shipped_kinds

KINDS = shipped_kinds(unrecognized=False)


def test_list() -> None:
    result = run("playbooks", "list")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == KINDS
    by_kind = {line.split()[0]: line.split()[1] for line in lines}
    assert by_kind["series_not_manual"] == "auto"
    assert by_kind["account_missing"] == "review"
    assert "Verifikationsserien är inte öppen för manuell kontering" in result.stdout


def test_list_in_english() -> None:
    result = run("playbooks", "list", "--lang", "en")
    assert "The voucher series is not open for manual entry" in result.stdout


def test_list_json() -> None:
    result = run("playbooks", "list", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [r["kind"] for r in rows] == KINDS
    first = next(r for r in rows if r["kind"] == "series_not_manual")
    assert first["actions"] == ["financial_year", "series_manual", "resend_voucher"]
    assert first["budget"] == {"plan": 3, "apply": 5}
    assert first["auto_apply"] is True
    assert Path(first["file"]) == DEFAULT_DIR / "series_not_manual.yaml"


def test_show() -> None:
    result = run("playbooks", "show", "account_inactive", "--lang", "en")
    assert result.exit_code == 0
    out = result.stdout
    assert out.startswith(f"account_inactive  ({DEFAULT_DIR / 'account_inactive.yaml'})")
    budget = load_catalogue().playbook(ErrorKind.ACCOUNT_INACTIVE).budget  # type: ignore[union-attr]
    assert f"auto_apply: True; budget: plan {budget.plan}, apply {budget.apply} requests" in out
    assert "    codes: 2000550" in out
    assert "    - account_active (account={account})" in out
    assert "  meaning: The Z-report is booked on account {account}" in out
    assert "  manual 1. In Fortnox open Inställningar → Bokföring → Kontoplan" in out


def test_show_json_round_trips_the_file() -> None:
    result = run("playbooks", "show", "series_missing", "--json")
    data = json.loads(result.stdout)
    assert data["kind"] == "series_missing"
    assert data["actions"][1] == {
        "action": "series_exists",
        "with": {"series": "{series}", "description": "Kassa"},
    }
    assert data["recognise"]["codes"] == [2001939]
    assert set(data["texts"]) == {"meaning", "remedy", "manual", "cases"}


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("Nope!", "error: 'Nope!' is not a kind id; see: remediator playbooks list\n"),
        ("nope", "error: no playbook for 'nope'; see: remediator playbooks list\n"),
        ("unrecognized", "error: no playbook for 'unrecognized'; see: remediator playbooks list\n"),
    ],
)
def test_show_unknown(kind: str, message: str) -> None:
    result = run("playbooks", "show", kind)
    assert (result.exit_code, result.stderr) == (2, message)


def test_another_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "playbooks"
    shutil.copytree(DEFAULT_DIR, directory)
    path = directory / "period_locked.yaml"
    path.write_text(path.read_text().replace("auto_apply: false", "auto_apply: true"))
    monkeypatch.setenv("REMEDIATOR_PLAYBOOKS_DIR", str(directory))
    rows = json.loads(run("playbooks", "list", "--json").stdout)
    locked = next(r for r in rows if r["kind"] == "period_locked")
    assert (locked["auto_apply"], locked["file"]) == (True, str(path))
