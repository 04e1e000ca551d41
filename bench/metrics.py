"""What a /metrics scrape costs in the database: ``OverviewStore.read`` (connections by state,
each refresh token's expiry, the check ahead's runs by kind and outcome, the jobs' last success)
on a deployment of ``connections`` connections and ``runs`` runs (2 % of them the check
ahead's, each with a report of ~1 KB), with the index ``ix_runs_origin_kind_outcome`` and, for
the ratio, without it (the check ahead's count then reads the whole ``runs`` table).

    .venv/bin/python -m bench.metrics [--database postgresql+psycopg://…] [--runs 50000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from bench._instances import fresh_database
from remediator.storage import Database
from remediator.storage.db import connections, runs
from remediator.storage.overview import OverviewStore

INDEX = "ix_runs_origin_kind_outcome"
REPORT = "x" * 1000
KINDS = ("account_inactive", "series_not_manual", "series_missing", "period_locked")


def _fill(database: Database, connection_count: int, run_count: int) -> None:
    now = time.time()
    rows = [
        {
            "id": f"c{n}",
            "label": f"c{n}",
            "client_id": "c",
            "kind": "refresh_token",
            "status": "active" if n % 50 else "needs_reconnect",
            "refresh_token": "enc",
            "last_refresh_at": now - n % 40 * 86_400,
            "created_at": now,
            "updated_at": now,
        }
        for n in range(connection_count)
    ]
    with database.engine.begin() as conn:
        conn.execute(connections.insert(), rows)
        for start in range(0, run_count, 5000):
            conn.execute(
                runs.insert(),
                [_run(n, connection_count) for n in range(start, min(start + 5000, run_count))],
            )


def _run(n: int, connection_count: int) -> dict[str, object]:
    return {
        "id": f"r{n}",
        "event_id": f"e{n}",
        "connection_id": f"c{n % connection_count}",
        "mode": "apply",
        "state": "done",
        "kind": KINDS[n % len(KINDS)],
        "outcome": "fixed",
        "failure": "{}",
        "report": REPORT,
        "created_at": float(n),
        "origin": "scheduled" if n % 50 == 0 else "service",
    }


def _median_read(store: OverviewStore, reads: int) -> float:
    times = []
    for _ in range(reads):
        started = time.perf_counter()
        store.read()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(
    connection_count: int = 1000, run_count: int = 50_000, database_url: str | None = None
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, fresh_database(database_url, Path(tmp)) as url:
        database = Database(url)
        try:
            _fill(database, connection_count, run_count)
            with database.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
            store = OverviewStore(database)
            store.read()
            indexed = _median_read(store, 20)
            with database.engine.begin() as conn:
                conn.execute(sa.text(f"DROP INDEX {INDEX}"))
            store.read()
            scanned = _median_read(store, 20)
        finally:
            database.dispose()
    print(
        f"   {database.engine.dialect.name}: {connection_count} connections, {run_count} runs: "
        f"a scrape's reads {indexed * 1000:.1f} ms with the index, {scanned * 1000:.1f} ms "
        f"without ({scanned / indexed:.1f}x)"
    )
    return {"indexed_ms": indexed * 1000, "scanned_ms": scanned * 1000}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", help="a PostgreSQL URL (default: a SQLite file)")
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=50_000)
    args = parser.parse_args()
    run(args.connections, args.runs, args.database)
