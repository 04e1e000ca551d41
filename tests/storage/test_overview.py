"""What /metrics reads from the database, on each dialect: connections by state as the store
reads them, each active connection's refresh-token expiry, the check-ahead runs by kind and
outcome (on their index), and each daily job's last success."""

from __future__ import annotations

import time

import sqlalchemy as sa
from pydantic import SecretStr

from remediator.fortnox import ConnectionKind, ConnectionStatus, TokenSet
from remediator.storage import Connection, ConnectionStore, Database
from remediator.storage.db import runs
from remediator.storage.jobs import JobResult, JobRunStore
from remediator.storage.overview import DAY, OverviewStore, refresh_expiry


def connection(connection_id: str, **fields: object) -> Connection:
    values: dict[str, object] = {"label": connection_id, "client_id": "c"} | fields
    return Connection(id=connection_id, **values)


def scheduled_run(
    run_id: str, kind: str, outcome: str | None, origin: str = "scheduled"
) -> dict[str, object]:
    return {
        "id": run_id,
        "event_id": f"evt-{run_id}",
        "connection_id": "fresh",
        "mode": "plan",
        "state": "done" if outcome else "queued",
        "kind": kind,
        "outcome": outcome,
        "failure": "{}",
        "created_at": 1.0,
        "origin": origin,
    }


def test_the_overview_reads_what_metrics_shows(store: ConnectionStore) -> None:
    database: Database = store._db
    now = time.time()
    store.add(connection("fresh", refresh_token=SecretStr("rt-1")))
    store.save_tokens(
        "fresh",
        TokenSet(
            access_token=SecretStr("at"),
            expires_at=now + 3600,
            refresh_token=SecretStr("rt-2"),
            refresh_expires_at=now + 45 * DAY,
        ),
    )
    store.add(connection("imported", refresh_token=SecretStr("rt-3")))  # age unknown
    store.add(connection("dead", refresh_token=SecretStr("rt-4")))
    store.mark_needs_reconnect("dead", "Fortnox refused the refresh token")
    store.add(connection("never"))  # no token yet: not_authorized
    store.add(connection("service", kind=ConnectionKind.SERVICE_ACCOUNT, tenant_id="1"))
    with database.engine.begin() as conn:
        conn.execute(
            runs.insert(),
            [
                scheduled_run("r1", "series_not_manual", "fixed"),
                scheduled_run("r2", "series_not_manual", "fixed"),
                scheduled_run("r3", "account_inactive", "awaiting_review"),
                scheduled_run("r4", "account_inactive", None),
                scheduled_run("r5", "account_inactive", "fixed", origin="service"),  # not ahead
            ],
        )
    jobs = JobRunStore(database)
    ok = jobs.claim("keepalive", "2026-07-14", 1.0, "a", now=2.0)
    assert ok is not None
    jobs.finish(ok, 3.0, JobResult.OK)
    failed = jobs.claim("keepalive", "2026-07-15", 1.0, "a", now=4.0)
    assert failed is not None
    jobs.finish(failed, 5.0, JobResult.FAILED, error="down")

    seen = OverviewStore(database).read()
    assert dict(seen.connections) == {
        ConnectionStatus.ACTIVE: 3,  # fresh, imported, the service account
        ConnectionStatus.NEEDS_RECONNECT: 1,
        ConnectionStatus.NOT_AUTHORIZED: 1,
    }
    assert seen.refresh_expires_at == {"fresh": now + 45 * DAY}  # the others: not known
    assert dict(seen.scheduled) == {
        ("series_not_manual", "fixed"): 2,
        ("account_inactive", "awaiting_review"): 1,
        ("account_inactive", "pending"): 1,
    }
    assert seen.last_success == {"keepalive": 3.0}


def test_an_expiry_is_fortnoxs_else_45_days_after_the_last_refresh() -> None:
    assert refresh_expiry(100.0, 50.0) == 100.0
    assert refresh_expiry(None, 50.0) == 50.0 + 45 * DAY
    assert refresh_expiry(None, None) is None


def test_the_scheduled_runs_are_counted_on_an_index(database: Database) -> None:
    indexes = {
        i["name"]: i["column_names"] for i in sa.inspect(database.engine).get_indexes("runs")
    }
    assert indexes["ix_runs_origin_kind_outcome"] == ["origin", "kind", "outcome"]
