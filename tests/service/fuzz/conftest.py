"""Fuzzing the service: prints what was sent and seen when any of it ran."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.service.conftest import Harness, TestClient, harness_for, on_dialect
from tests.service.fuzz.tally import TALLY

Served = tuple[Harness, TestClient]


@contextmanager
def served_on(dialect: str, directory: Path, workers: int) -> Iterator[Served]:
    """The service with ``workers`` workers on ``dialect``'s database, a connection registered,
    against the sandbox."""
    harness = harness_for("account_inactive", directory)
    with (
        on_dialect(harness, dialect) as harness,
        harness.client(harness.app(worker_concurrency=workers)) as client,
    ):
        harness.connect(client)
        yield harness, client


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TALLY.sent:
        terminalreporter.section("fuzzing")
        for line in TALLY.lines():
            terminalreporter.write_line(line)
