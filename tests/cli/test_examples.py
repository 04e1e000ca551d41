"""``examples/``: one failure file per Backoffice error, as `sandbox example-failure` prints it,
and each one planned against its scenario's sandbox is recognised as that error."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from remediator.demo import SCENARIOS
from remediator.failure import parse_failure
from tests.cli.conftest import Company, run

EXAMPLES = Path(__file__).parents[2] / "examples"
Make = Callable[[str], Company]


def test_one_example_per_seed_error() -> None:
    assert sorted(p.stem for p in EXAMPLES.glob("*.json")) == sorted(SCENARIOS)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_example_is_what_the_scenario_reports(scenario: str) -> None:
    result = run("sandbox", "example-failure", scenario)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    shipped = (EXAMPLES / f"{scenario}.json").read_text(encoding="utf-8")
    assert json.loads(result.stdout) == json.loads(shipped)
    assert parse_failure(shipped.encode(), source=scenario).connection_id == f"rest-{scenario}"


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_planning_the_example_recognises_its_error(company: Make, scenario: str) -> None:
    c = company(scenario)
    report = c.json("plan", str(EXAMPLES / f"{scenario}.json"))
    assert report["recognition"]["kind"] == scenario


def test_an_unknown_scenario() -> None:
    result = run("sandbox", "example-failure", "nope")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: unknown scenario 'nope'; known: series_not_manual")
