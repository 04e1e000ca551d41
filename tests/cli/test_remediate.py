"""``plan``, ``apply`` and ``fix`` against the sandbox: what is written, what is refused, and
the exit codes of contract 4."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from remediator.cli import remediate
from remediator.plans import SavedPlan
from remediator.runtime import open_runtime
from tests.cli.conftest import Company, run

Make = Callable[[str], Company]


def test_plan_writes_nothing_and_saves_the_plan(company: Make, tmp_path: Path) -> None:
    c = company("series_not_manual")
    before = len(c.writes())
    out = tmp_path / "plan.json"
    result = c.invoke("plan", str(c.failure_file), "--out", str(out), "--lang", "en")
    assert result.exit_code == 0, result.output
    assert len(c.writes()) == before
    assert f"plan saved to {out}; apply it with: remediator apply {out}" in result.stdout
    assert "What the remediator would do" in result.stdout
    assert "PUT /3/voucherseries/F" in result.stdout  # the calls it would make
    saved = SavedPlan.read(out)
    assert saved.failure == c.failure
    assert saved.report.outcome.value == "would_fix"
    assert [s.status.value for s in saved.report.steps] == [
        "ok",
        "would_change",
        "would_change",
    ]


def test_plan_json_is_the_report(company: Make) -> None:
    c = company("series_not_manual")
    result = c.invoke("plan", str(c.failure_file), "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["mode"] == "plan"
    assert report["outcome"] == "would_fix"
    assert report["recognition"] == {
        "kind": "series_not_manual",
        "matched_by": "code",
        "params": {"series": "F"},
        "playbook": "series_not_manual",
    }
    assert report["requests"]["by_method"] == {"GET": 3}
    assert result.stderr == ""


def test_apply_a_fresh_plan(company: Make, tmp_path: Path) -> None:
    c = company("series_not_manual")
    out = tmp_path / "plan.json"
    assert c.invoke("plan", str(c.failure_file), "--out", str(out)).exit_code == 0
    before = len(c.writes())
    result = c.invoke("apply", str(out), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["mode"], report["outcome"], report["resent"]) == ("apply", "fixed", True)
    assert [(w["method"], w["path"]) for w in c.writes()[before:]] == [
        ("PUT", "/3/voucherseries/F"),
        ("POST", "/3/vouchers"),
    ]


def test_apply_refuses_a_stale_plan(company: Make, tmp_path: Path) -> None:
    c = company("series_not_manual")
    out = tmp_path / "plan.json"
    assert c.invoke("plan", str(c.failure_file), "--out", str(out)).exit_code == 0
    # Someone opens the series by hand in Fortnox after the plan was made.
    assert c.invoke("fix", str(c.failure_file), "--yes").exit_code == 0
    before = len(c.writes())
    result = c.invoke("apply", str(out))
    assert result.exit_code == 2
    assert len(c.writes()) == before
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("error: Fortnox changed since the plan was made, so it is not applied:")
    assert "series_manual series:F" in line
    assert line.endswith("Make a new plan.")


def test_fix_yes_applies_and_a_second_fix_writes_nothing(company: Make) -> None:
    c = company("account_inactive")
    before = len(c.writes())
    first = c.invoke("fix", str(c.failure_file), "--yes", "--lang", "en")
    assert first.exit_code == 0, first.output
    assert "Fixed" in first.stdout
    assert [(w["method"], w["path"]) for w in c.writes()[before:]] == [
        ("PUT", "/3/accounts/3001"),
        ("POST", "/3/vouchers"),
    ]
    again = c.json("fix", str(c.failure_file), "--yes")
    assert again["outcome"] == "nothing_to_fix"
    assert again["voucher"]["already_booked"] is True
    assert len(c.writes()) == before + 2


def test_fix_asks_and_no_means_nothing_written(
    company: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = company("series_not_manual")
    monkeypatch.setattr(remediate, "interactive", lambda: True)
    before = len(c.writes())
    result = c.invoke("fix", str(c.failure_file), "--lang", "en", input="n\n")
    assert result.exit_code == 0  # the outcome is the plan's: would fix
    assert len(c.writes()) == before
    assert "Apply these changes in Fortnox? [y/N]" in result.stderr
    assert "Nothing was changed in Fortnox." in result.stderr
    assert result.stdout.count("What the remediator would do") == 1  # shown once


def test_fix_asks_and_yes_applies(company: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    c = company("series_missing")
    monkeypatch.setattr(remediate, "interactive", lambda: True)
    before = len(c.writes())
    result = c.invoke("fix", str(c.failure_file), "--json", input="y\n")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # stdout holds only the final report
    assert report["outcome"] == "fixed"
    assert "skulle ändras" in result.stderr  # the plan (Swedish by default) came first
    assert [(w["method"], w["path"]) for w in c.writes()[before:]] == [
        ("POST", "/3/voucherseries"),
        ("POST", "/3/vouchers"),
    ]


def test_fix_without_a_terminal_needs_yes(company: Make) -> None:
    c = company("series_not_manual")
    before = len(c.writes())
    result = c.invoke("fix", str(c.failure_file))
    assert result.exit_code == 2
    assert result.stderr == "error: not a terminal, so nobody can confirm: pass --yes to apply\n"
    assert len(c.writes()) == before


def test_fix_does_not_ask_when_nothing_would_change(
    company: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = company("chart_of_accounts_missing")
    monkeypatch.setattr(remediate, "interactive", lambda: True)
    result = c.invoke("fix", str(c.failure_file), "--lang", "en")
    assert result.exit_code == 3
    assert "Apply these changes" not in result.output
    assert result.stdout.count("What you need to do") == 1


@pytest.mark.parametrize(
    ("scenario", "command", "code", "outcome"),
    [
        ("series_not_manual", "plan", 0, "would_fix"),
        ("series_not_manual", "fix", 0, "fixed"),
        ("chart_of_accounts_missing", "plan", 3, "manual_action_required"),
        ("access_denied", "fix", 3, "manual_action_required"),
        ("connection_invalidated", "fix", 3, "manual_action_required"),
    ],
)
def test_exit_codes(company: Make, scenario: str, command: str, code: int, outcome: str) -> None:
    c = company(scenario)
    extra = ["--yes"] if command == "fix" else []
    result = c.invoke(command, str(c.failure_file), *extra, "--json")
    assert (result.exit_code, json.loads(result.stdout)["outcome"]) == (code, outcome)


def test_exit_code_0_nothing_to_fix(company: Make) -> None:
    c = company("series_not_manual")
    assert c.invoke("fix", str(c.failure_file), "--yes").exit_code == 0
    result = c.invoke("plan", str(c.failure_file), "--json")
    assert (result.exit_code, json.loads(result.stdout)["outcome"]) == (0, "nothing_to_fix")


def test_exit_code_5_unrecognized(company: Make, tmp_path: Path) -> None:
    c = company("series_not_manual")
    data = json.loads(c.failure_file.read_text())
    data["error"] = {"message": "Fel vid export: Okänt fel"}
    path = tmp_path / "unrecognized.json"
    path.write_text(json.dumps(data))
    before = len(c.writes())
    result = c.invoke("fix", str(path), "--yes", "--json")
    assert (result.exit_code, json.loads(result.stdout)["outcome"]) == (5, "unrecognized")
    assert len(c.writes()) == before


def test_exit_code_4_failed(company: Make, tmp_path: Path) -> None:
    # "not manual" reported for a series that does not exist: the fix cannot verify.
    c = company("series_missing")
    data = json.loads(c.failure_file.read_text())
    data["error"] = {"message": "Verifikationsserien är inte manuell (F)", "code": 2001940}
    path = tmp_path / "wrong.json"
    path.write_text(json.dumps(data))
    result = c.invoke("fix", str(path), "--yes", "--json")
    report = json.loads(result.stdout)
    assert (result.exit_code, report["outcome"]) == (4, "failed")
    assert [s["status"] for s in report["steps"]] == ["ok", "failed", "skipped"]


# --- errors a person can cause: one line on stderr, exit 2, no traceback -------------------


def one_line(result_stderr: str) -> str:
    lines = result_stderr.strip().splitlines()
    assert len(lines) == 1, result_stderr
    assert "Traceback" not in result_stderr
    return lines[0]


@pytest.mark.parametrize("command", [["plan"], ["fix", "--yes"]])
def test_missing_failure_file(env: None, command: list[str]) -> None:
    result = run(*command, "nope.json")
    assert result.exit_code == 2
    assert one_line(result.stderr) == "error: cannot read nope.json: No such file or directory"
    assert isinstance(result.exception, SystemExit)


def test_failure_file_is_a_directory(env: None, tmp_path: Path) -> None:
    result = run("plan", str(tmp_path))
    assert result.exit_code == 2
    assert one_line(result.stderr) == f"error: cannot read {tmp_path}: Is a directory"


def test_bad_json_and_invalid_failure(company: Make, tmp_path: Path) -> None:
    c = company("series_not_manual")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = c.invoke("plan", str(bad))
    assert result.exit_code == 2
    assert one_line(result.stderr).startswith(
        f"error: {bad} is not a valid export failure: not JSON"
    )
    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps({"event_id": "e", "export": {"date": "igår"}}))
    result = c.invoke("plan", str(invalid))
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0] == f"error: {invalid} is not a valid export failure:"
    assert '  export.date: not a date (expected YYYY-MM-DD), got "igår"' in lines
    assert "  connection_id: required, but missing" in lines


def test_unknown_connection(company: Make, tmp_path: Path) -> None:
    c = company("series_not_manual")
    data = json.loads(c.failure_file.read_text()) | {"connection_id": "nobody"}
    path = tmp_path / "unknown.json"
    path.write_text(json.dumps(data))
    for command in (["plan", str(path)], ["fix", str(path), "--yes"]):
        result = c.invoke(*command)
        assert result.exit_code == 2
        assert one_line(result.stderr) == "error: unknown connection 'nobody'"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "error: cannot read plan {path}: No such file or directory"),
        (
            "{bad",
            "error: {path} is not a saved plan (not JSON: key must be a string at line 1 column 2)",
        ),
        (
            "{}",
            "error: {path} is not a saved plan (failure: Field required; report: Field required)",
        ),
    ],
)
def test_apply_bad_plan_file(env: None, tmp_path: Path, content: str | None, expected: str) -> None:
    path = tmp_path / "plan.json"
    if content is not None:
        path.write_text(content)
    result = run("apply", str(path))
    assert result.exit_code == 2
    assert one_line(result.stderr) == expected.format(path=path)


def test_plan_out_to_an_unwritable_place(company: Make, tmp_path: Path) -> None:
    c = company("series_not_manual")
    out = tmp_path / "no-such-dir" / "plan.json"
    result = c.invoke("plan", str(c.failure_file), "--out", str(out))
    assert result.exit_code == 2
    assert one_line(result.stderr) == f"error: cannot write plan {out}: No such file or directory"


class OddEnvelope(httpx.AsyncBaseTransport):
    """Answers every ``/3/financialyears`` with an envelope no Fortnox client expects."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/3/financialyears":
            return httpx.Response(200, json={"Unexpected": []}, request=request)
        return await self.inner.handle_async_request(request)


@pytest.mark.parametrize("command", [["plan"], ["fix", "--yes"]])
def test_an_unexpected_answer_ends_the_run_failed_never_running(
    company: Make, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    c = company("series_not_manual")
    monkeypatch.setattr(
        remediate,
        "open_runtime",
        lambda: open_runtime(transport=OddEnvelope(c.sandbox.transport())),
    )
    before = len(c.writes())
    result = c.invoke(*command, str(c.failure_file), "--json")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    report = json.loads(result.stdout)
    assert (result.exit_code, report["outcome"]) == (4, "failed")
    assert report["steps"][0]["status"] == "failed"
    assert "FinancialYears" in report["steps"][0]["reason"]
    assert len(c.writes()) == before
    rows = c.json("runs", "list")
    assert [(r["state"], r["outcome"]) for r in rows] == [("done", "failed")]
