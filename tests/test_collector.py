"""The garbage collector's pace in a process that works runs (``remediator serve``)."""

from __future__ import annotations

import gc
import importlib
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from remediator import collector
from remediator.cli import cli


@pytest.fixture(autouse=True)
def _thresholds_kept() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_pace_collects_the_youngest_generation_less_often_and_keeps_the_older_ratios() -> None:
    gc.set_threshold(700, 10, 9)
    collector.pace()
    assert gc.get_threshold() == (collector.YOUNGEST, 10, 9)


def test_serve_paces_the_collector_before_it_builds_the_app(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gc.set_threshold(700, 10, 10)
    seen: list[tuple[int, int, int]] = []
    monkeypatch.setenv("REMEDIATOR_INTAKE_SECRET", "s")
    monkeypatch.setenv("REMEDIATOR_API_TOKEN", "t")
    module = importlib.import_module("remediator.cli.serve")  # the package names the command
    monkeypatch.setattr(module, "create_app", lambda _settings: seen.append(gc.get_threshold()))
    monkeypatch.setattr(module, "run", lambda _app, listening, **_config: listening.close())
    result = CliRunner().invoke(cli, ["serve", "--port", "0"])
    assert result.exit_code == 0, result.output
    assert seen == [(collector.YOUNGEST, 10, 10)]
