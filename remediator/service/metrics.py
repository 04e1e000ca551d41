"""Prometheus metrics, written in the text exposition format (version 0.0.4) by hand.

Eleven series families are few enough that a client library would add more than it saves:
counters with labels, gauges read from the database at scrape time (the same from every
instance), one histogram.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable

from remediator.fortnox import ConnectionStatus, RequestRecord
from remediator.kinds import Kind
from remediator.storage.overview import DAY, Overview

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
HTTP_OK = 200
Labels = tuple[tuple[str, str], ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{_escape(value)}"' for key, value in labels) + "}"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class CounterFamily:
    def __init__(self, name: str, help_text: str) -> None:
        self.name, self.help = name, help_text
        self.values: Counter[Labels] = Counter()

    def inc(self, **labels: str) -> None:
        self.values[tuple(sorted(labels.items()))] += 1

    def lines(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} counter"
        for labels, value in sorted(self.values.items()):
            yield f"{self.name}{_labels(labels)} {_number(value)}"


class Histogram:
    def __init__(self, name: str, help_text: str, buckets: tuple[float, ...]) -> None:
        self.name, self.help, self.buckets = name, help_text, buckets
        self.counts = [0] * len(buckets)
        self.count, self.sum = 0, 0.0

    def observe(self, value: float) -> None:
        self.count += 1
        self.sum += value
        for index, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[index] += 1

    def lines(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        for bound, count in zip(self.buckets, self.counts, strict=True):
            yield f'{self.name}_bucket{{le="{_number(bound)}"}} {count}'
        yield f'{self.name}_bucket{{le="+Inf"}} {self.count}'
        yield f"{self.name}_sum {_number(self.sum)}"
        yield f"{self.name}_count {self.count}"


def _none() -> int:
    return 0


def _nothing_stored() -> Overview:
    return Overview()


def _gauge(name: str, help_text: str, values: Iterable[tuple[Labels, float]]) -> Iterable[str]:
    yield f"# HELP {name} {help_text}"
    yield f"# TYPE {name} gauge"
    for labels, value in values:
        yield f"{name}{_labels(labels)} {_number(value)}"


def stored_gauges(overview: Overview, now: float) -> Iterable[str]:
    """The gauges read from the database: connections by state, days until each refresh
    token dies, the check-ahead runs by kind and outcome, each daily job's last success."""
    yield from _gauge(
        "remediator_connections",
        "Connections by state.",
        [((("state", s.value),), overview.connections[s]) for s in ConnectionStatus],
    )
    yield from _gauge(
        "remediator_refresh_token_expires_in_days",
        "Days until each active connection's refresh token dies unless it is used.",
        (
            ((("connection_id", c),), round((at - now) / DAY, 3))
            for c, at in sorted(overview.refresh_expires_at.items())
        ),
    )
    yield from _gauge(
        "remediator_scheduled_runs",
        "Runs of the check ahead (findings and fixes made ahead), by kind and outcome.",
        (
            ((("kind", kind), ("outcome", outcome)), n)
            for (kind, outcome), n in sorted(overview.scheduled.items())
        ),
    )
    yield from _gauge(
        "remediator_job_last_success_timestamp_seconds",
        "When each daily job last finished without error (seconds since the epoch).",
        [((("job", job),), at) for job, at in sorted(overview.last_success.items())],
    )


class Metrics:
    """The service's metrics; ``queue_depth``, ``stuck_runs`` and ``overview`` are read from
    the store at scrape time."""

    def __init__(
        self,
        queue_depth: Callable[[], int],
        stuck_runs: Callable[[], int] = _none,
        overview: Callable[[], Overview] = _nothing_stored,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lock = threading.Lock()
        self._queue_depth, self._stuck_runs = queue_depth, stuck_runs
        self._overview, self._clock = overview, clock
        self.failures = CounterFamily(
            "remediator_failures_received_total", "Export failures accepted, by error kind."
        )
        self.runs = CounterFamily(
            "remediator_runs_total", "Runs that reached a final report, by outcome."
        )
        self.requests = CounterFamily(
            "remediator_fortnox_requests_total", "Requests to Fortnox's API, by HTTP status."
        )
        self.refreshes = CounterFamily(
            "remediator_token_refreshes_total", "Token endpoint calls, by grant type and result."
        )
        self.duration = Histogram(
            "remediator_run_duration_seconds",
            "Time from a worker taking a run to settling it.",
            DURATION_BUCKETS,
        )

    def failure_received(self, kind: Kind) -> None:
        with self._lock:
            self.failures.inc(kind=kind)

    def run_finished(self, outcome: str, seconds: float) -> None:
        with self._lock:
            self.runs.inc(outcome=outcome)
            self.duration.observe(seconds)

    def run_pass(self, seconds: float) -> None:
        with self._lock:
            self.duration.observe(seconds)

    def fortnox_request(self, record: RequestRecord) -> None:
        """A connector hook: counts every request the connector makes."""
        status = str(record.status) if record.status is not None else "none"
        with self._lock:
            if record.kind == "api":
                self.requests.inc(status=status)
            else:
                result = "ok" if record.error is None and record.status == HTTP_OK else "error"
                self.refreshes.inc(grant_type=record.grant_type or "unknown", result=result)

    def render(self) -> str:
        depth, stuck = self._queue_depth(), self._stuck_runs()
        stored = list(stored_gauges(self._overview(), self._clock()))
        with self._lock:
            lines = [
                *self.failures.lines(),
                *self.runs.lines(),
                *self.requests.lines(),
                *self.refreshes.lines(),
                "# HELP remediator_queue_depth Runs waiting for a worker.",
                "# TYPE remediator_queue_depth gauge",
                f"remediator_queue_depth {depth}",
                "# HELP remediator_runs_stuck Runs running longer than stuck_run_seconds.",
                "# TYPE remediator_runs_stuck gauge",
                f"remediator_runs_stuck {stuck}",
                *stored,
                *self.duration.lines(),
            ]
        return "\n".join(lines) + "\n"
