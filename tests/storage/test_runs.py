"""The run store, on both dialects: reports and audit trails, filtered and paged."""

from __future__ import annotations

import pytest

from remediator.fortnox import RequestRecord
from remediator.storage import Database
from remediator.storage.runs import RunState, RunStore, UnknownRunError


@pytest.fixture
def runs(database: Database) -> RunStore:
    return RunStore(database)


def test_create_finish_get_and_audit(runs: RunStore) -> None:
    runs.create("r1", event_id="e1", connection_id="c1", mode="plan", failure_json="{}")
    assert runs.get("r1").state is RunState.RUNNING
    records = [
        RequestRecord(
            kind="api", method="GET", path="/3/me", status=200, duration=0.01, tenant="1"
        ),
        RequestRecord(
            kind="token",
            method="POST",
            path="/oauth-v1/token",
            status=400,
            duration=0.02,
            grant_type="refresh_token",
            error="invalid_grant",
        ),
    ]
    runs.finish(
        "r1", report_json='{"x": 1}', kind="series_missing", outcome="would_fix", records=records
    )
    row = runs.get("r1")
    assert (row.state, row.kind, row.outcome, row.report) == (
        RunState.DONE,
        "series_missing",
        "would_fix",
        '{"x": 1}',
    )
    trail = runs.audit("r1")
    assert [(e.seq, e.method, e.path, e.status, e.grant_type) for e in trail] == [
        (0, "GET", "/3/me", 200, None),
        (1, "POST", "/oauth-v1/token", 400, "refresh_token"),
    ]


def test_find_filters_and_pages(runs: RunStore) -> None:
    for n in range(5):
        runs.create(
            f"r{n}",
            event_id=f"e{n}",
            connection_id="c1" if n % 2 else "c2",
            mode="apply",
            failure_json="{}",
        )
        runs.finish(
            f"r{n}", report_json="{}", kind="k", outcome="fixed" if n < 3 else "failed", records=[]
        )
    assert {r.id for r in runs.find(connection_id="c1")} == {"r1", "r3"}
    assert {r.id for r in runs.find(outcome="failed")} == {"r3", "r4"}
    assert len(runs.find(limit=2)) == 2
    assert len(runs.find(limit=2, offset=4)) == 1


def test_unknown_run(runs: RunStore) -> None:
    with pytest.raises(UnknownRunError, match="unknown run 'nope'"):
        runs.get("nope")
