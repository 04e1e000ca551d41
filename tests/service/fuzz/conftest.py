"""Fuzzing the service: prints what was sent and seen when any of it ran."""

from __future__ import annotations

import pytest

from tests.service.fuzz.tally import TALLY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TALLY.sent:
        terminalreporter.section("fuzzing")
        for line in TALLY.lines():
            terminalreporter.write_line(line)
