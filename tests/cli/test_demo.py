"""``remediator demo``: the six Backoffice errors, reproduced and remediated in the sandbox."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from remediator.demo import SCENARIOS
from tests.cli.conftest import run

SIX = [
    "series_not_manual",
    "chart_of_accounts_missing",
    "account_inactive",
    "series_missing",
    "access_denied",
    "connection_invalidated",
]


def test_demo_json_every_scenario_as_expected() -> None:
    result = run("demo", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    episodes = data["episodes"]
    assert [e["scenario"] for e in episodes] == SIX == list(SCENARIOS)
    for episode in episodes:
        first, second = SCENARIOS[episode["scenario"]]
        assert episode["as_expected"] is True
        assert episode["writes"]["plan"] == 0
        assert episode["writes"]["again"] == 0
        assert episode["plan"]["mode"] == "plan"
        assert episode["plan"]["recognition"]["kind"] == episode["scenario"]
        assert (episode["fix"]["outcome"], episode["again"]["outcome"]) == (first, second)
    fixed = [e for e in episodes if e["fix"]["outcome"] == "fixed"]
    assert {e["scenario"] for e in fixed} == {
        "series_not_manual",
        "account_inactive",
        "series_missing",
    }
    for episode in fixed:
        assert episode["writes"]["fix"] == 2  # the one change and the re-sent voucher
        assert episode["fix"]["resent"] is True
        assert episode["again"]["voucher"]["already_booked"] is True
    reconnect = next(e for e in episodes if e["scenario"] == "connection_invalidated")
    steps = reconnect["fix"]["manual_steps"]
    link = re.compile(
        r"http://127\.0\.0\.1:8000/v1/connections/rest-connection_invalidated/authorize"
        r"\?expires=\d{10}&sig=[0-9a-f]{64} "  # signed: the restaurant opens it as it is
    )
    assert all(any(link.search(line) for line in steps[lang]) for lang in ("sv", "en"))


def test_demo_human_output() -> None:
    result = run("demo", "--lang", "en")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for scenario in SIX:
        assert f"explain → {scenario}" in out
    words = " ".join(out.split())
    assert words.count("; the sandbox saw 0 writes") == 6
    assert "1 change planned, then the Z-report is sent again" in words
    assert "Six Backoffice errors in" in out
    assert out.count("✓") >= 6
    assert "✗" not in out
    assert "What the remediator did" in out


LINK = re.compile(
    r"^\[1\] http://127\.0\.0\.1:8000/v1/connections/[^/]+/authorize\?expires=\d+&sig=[0-9a-f]{64}$"
)


@pytest.mark.slow
@pytest.mark.parametrize("columns", [80, 100])
def test_demo_reads_well_in_a_terminal_of(columns: int, tmp_path: Path) -> None:
    """As a person sees it: its own process, a terminal ``columns`` wide, Swedish."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REMEDIATOR_")}
    env |= {"COLUMNS": str(columns), "LINES": "50"}
    done = subprocess.run(
        [sys.executable, "-m", "remediator", "demo"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no stray log line before the story
    lines = done.stdout.splitlines()
    links = [line for line in lines if line.startswith("[1] http")]
    assert len(links) == 1
    assert LINK.match(links[0])  # whole, on one line, to click or copy
    assert [line for line in lines if len(line) > columns and line not in links] == []
    assert "Från terminalen (utan tjänsten): kör remediator connections authorize-url" in (
        " ".join(lines)
    )
    story = [line for line in lines if not line.startswith(("│", "╭", "╰"))]
    english = [line for line in story if re.search(r"\b(write|writes|change|changes)\b", line)]
    assert english == []  # the lines around Swedish boxes are Swedish too
    assert " ".join(" ".join(story).split()).count("sandlådan såg 0 skrivningar") == 6
    assert "{" not in "\n".join(story)
