"""The run store: reports and audit trails, filtered and paged; schema migration from v1."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from remediator.fortnox import RequestRecord
from remediator.storage import Database
from remediator.storage.db import SCHEMA_VERSION
from remediator.storage.runs import RunState, RunStore, UnknownRunError


@pytest.fixture
def runs(tmp_path: Path) -> RunStore:
    return RunStore(Database(f"sqlite:///{tmp_path / 'runs.db'}"))


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


def test_a_version_1_database_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    raw = sqlite3.connect(path)
    raw.executescript("""
        CREATE TABLE schema_version (version INTEGER NOT NULL);
        INSERT INTO schema_version VALUES (1);
        CREATE TABLE connections (id VARCHAR(100) PRIMARY KEY, label VARCHAR(200) NOT NULL,
          tenant_id VARCHAR(50), client_id VARCHAR(200) NOT NULL, scopes TEXT NOT NULL,
          kind VARCHAR(20) NOT NULL, status VARCHAR(20) NOT NULL, access_token TEXT,
          access_expires_at FLOAT, refresh_token TEXT, refresh_expires_at FLOAT,
          last_refresh_at FLOAT, status_reason TEXT, lock_owner VARCHAR(100), lock_until FLOAT,
          created_at FLOAT NOT NULL, updated_at FLOAT NOT NULL);
        INSERT INTO connections (id, label, client_id, scopes, kind, status, created_at,
          updated_at) VALUES ('old', 'Old', 'c', '', 'refresh_token', 'active', 0, 0);
    """)
    raw.commit()
    raw.close()
    database = Database(f"sqlite:///{path}")
    assert database.version() == SCHEMA_VERSION
    columns = [row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(connections)")]
    assert "policy" in columns
    RunStore(database).create(
        "r", event_id="e", connection_id="old", mode="plan", failure_json="{}"
    )
