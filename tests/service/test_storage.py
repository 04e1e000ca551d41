"""Storage for the service: schema version 3 migrates a version 2 database in place, and the
queue's store keeps RunStore's API for the engine and the CLI."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from remediator.storage import Database
from remediator.storage.db import SCHEMA_VERSION
from remediator.storage.queue import QueueStore
from remediator.storage.runs import RunState, RunStore

V2 = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (2);
CREATE TABLE connections (id VARCHAR(100) PRIMARY KEY, label VARCHAR(200) NOT NULL,
  tenant_id VARCHAR(50), client_id VARCHAR(200) NOT NULL, scopes TEXT NOT NULL,
  kind VARCHAR(20) NOT NULL, status VARCHAR(20) NOT NULL, access_token TEXT,
  access_expires_at FLOAT, refresh_token TEXT, refresh_expires_at FLOAT,
  last_refresh_at FLOAT, status_reason TEXT, lock_owner VARCHAR(100), lock_until FLOAT,
  policy TEXT, created_at FLOAT NOT NULL, updated_at FLOAT NOT NULL);
CREATE TABLE runs (id VARCHAR(40) PRIMARY KEY, event_id VARCHAR(200) NOT NULL,
  connection_id VARCHAR(100) NOT NULL, mode VARCHAR(10) NOT NULL, state VARCHAR(30) NOT NULL,
  kind VARCHAR(40), outcome VARCHAR(40), failure TEXT NOT NULL, report TEXT,
  approved_by VARCHAR(200), created_at FLOAT NOT NULL, finished_at FLOAT);
CREATE TABLE run_requests (run_id VARCHAR(40) NOT NULL REFERENCES runs (id),
  seq INTEGER NOT NULL, kind VARCHAR(10) NOT NULL, method VARCHAR(10) NOT NULL,
  path VARCHAR(300) NOT NULL, status INTEGER, duration FLOAT NOT NULL, code INTEGER,
  grant_type VARCHAR(40), error VARCHAR(100));
INSERT INTO runs (id, event_id, connection_id, mode, state, failure, created_at)
  VALUES ('cli-run', 'e1', 'c1', 'apply', 'done', '{}', 1.0);
"""


def test_a_version_2_database_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    raw = sqlite3.connect(path)
    raw.executescript(V2)
    raw.close()
    database = Database(f"sqlite:///{path}")
    assert database.version() == SCHEMA_VERSION == 3
    columns = {row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(runs)")}
    assert {"origin", "export_date", "callback_state", "joined_to"} <= columns
    tables = {row[0] for row in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")}
    assert "oauth_states" in tables
    queue = QueueStore(database)
    assert RunStore(database).get("cli-run").state is RunState.DONE
    assert queue.page() == ([], 0)  # runs made by the CLI are not the service's
    assert queue.recover() == []


def test_the_engine_s_create_and_finish_leave_the_state_to_the_worker(tmp_path: Path) -> None:
    queue = QueueStore(Database(f"sqlite:///{tmp_path / 'q.db'}"))
    queue.create("r1", event_id="e", connection_id="c", mode="plan", failure_json="{}")
    queue.finish("r1", report_json="{}", kind="k", outcome="would_fix", records=[])
    row = queue.get("r1")
    assert (row.state, row.outcome, row.mode) == (RunState.RUNNING, "would_fix", "plan")
