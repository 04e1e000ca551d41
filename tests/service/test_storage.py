"""Storage for the service: schema versions 3 and 4 migrate a version 2 or 3 database in place,
and the queue's store keeps RunStore's API for the engine and the CLI."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from cryptography.fernet import Fernet

from remediator.fortnox import RequestRecord
from remediator.storage import Connection, ConnectionStore, Database, TokenCipher
from remediator.storage.db import SCHEMA_VERSION, schema_version, write_transaction
from remediator.storage.queue import Intake, QueueStore, Settled
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
    assert database.version() == SCHEMA_VERSION == 5
    assert "ix_runs_connection_state" in _indexes(path)
    columns = {row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(runs)")}
    assert {"origin", "export_date", "callback_state", "joined_to"} <= columns
    tables = {row[0] for row in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")}
    assert {"oauth_states", "users", "console_sessions", "audit_log"} <= tables
    queue = QueueStore(database)
    assert RunStore(database).get("cli-run").state is RunState.DONE
    assert queue.page() == ([], 0)  # runs made by the CLI are not the service's
    assert queue.recover() == []


def _indexes(path: Path) -> set[str]:
    rows = sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type = 'index'")
    return {row[0] for row in rows}


def test_a_version_3_database_gets_the_claim_index_in_place(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    database = Database(f"sqlite:///{path}")
    queue = QueueStore(database)
    ConnectionStore(database, TokenCipher(Fernet.generate_key())).add(
        Connection(id="c", label="C", client_id="x")
    )
    queue.accept(Intake("r1", "e1", "c", "series_missing", "2026-03-02", "{}", None))
    with write_transaction(database.engine) as conn:  # as version 3 left it
        conn.exec_driver_sql("DROP INDEX ix_runs_connection_state")
        conn.execute(schema_version.update().values(version=3))
    database.dispose()
    assert "ix_runs_connection_state" not in _indexes(path)
    reopened = Database(f"sqlite:///{path}")
    assert reopened.version() == SCHEMA_VERSION == 5
    assert "ix_runs_connection_state" in _indexes(path)
    claimed = QueueStore(reopened).claim("c")
    assert claimed is not None
    assert claimed.id == "r1"


def test_a_claimed_run_s_report_is_written_with_its_new_state(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'q.db'}")
    ConnectionStore(database, TokenCipher(Fernet.generate_key())).add(
        Connection(id="c", label="C", client_id="x")
    )
    queue = QueueStore(database)
    intake = Intake("r1", "e1", "c", "series_missing", "2026-03-02", "{}", None)
    assert queue.accept(intake).created
    claimed = queue.claim("c")
    assert claimed is not None
    assert claimed.state is RunState.RUNNING
    queue.create("r1", event_id="e1", connection_id="c", mode="apply", failure_json="{}")
    record = RequestRecord(kind="api", method="GET", path="/3/me", status=200, duration=0.1)
    queue.finish("r1", report_json='{"mode": "apply"}', kind="k", outcome="fixed", records=[record])
    assert (queue.get("r1").report, queue.audit("r1")) == (None, [])  # not before it settles
    settled = queue.settle("r1", Settled(RunState.DONE, notify=True))
    assert (settled.state, settled.outcome, settled.mode, settled.report) == (
        RunState.DONE,
        "fixed",
        "apply",
        '{"mode": "apply"}',
    )
    assert [entry.path for entry in queue.audit("r1")] == ["/3/me"]
    assert settled.callback_state is None  # no callback_url


def test_a_claimed_run_s_mode_is_taken_as_given_without_reading_the_report(
    tmp_path: Path,
) -> None:
    database = Database(f"sqlite:///{tmp_path / 'q.db'}")
    ConnectionStore(database, TokenCipher(Fernet.generate_key())).add(
        Connection(id="c", label="C", client_id="x")
    )
    queue = QueueStore(database)
    queue.accept(Intake("r1", "e1", "c", "series_missing", "2026-03-02", "{}", None))
    assert queue.claim("c") is not None
    queue.finish("r1", report_json="{}", kind="k", outcome="fixed", records=[], mode="apply")
    assert queue.settle("r1", Settled(RunState.DONE)).mode == "apply"


def test_runs_of_other_doors_are_stored_as_by_the_run_store(tmp_path: Path) -> None:
    queue = QueueStore(Database(f"sqlite:///{tmp_path / 'q.db'}"))
    queue.create("r1", event_id="e", connection_id="c", mode="plan", failure_json="{}")
    queue.finish("r1", report_json="{}", kind="k", outcome="would_fix", records=[])
    row = queue.get("r1")
    assert (row.state, row.outcome, row.mode) == (RunState.DONE, "would_fix", "plan")
