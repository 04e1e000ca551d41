"""Databases as remediators before Alembic left them, filled with data, for upgrade tests."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import sqlalchemy as sa
from pydantic import SecretStr

from remediator.storage import TokenCipher
from tests.storage import schema_v4

OAUTH_STATE = "a-reconnect-state"
NOW = 1_790_000_000.0


def make_v4(url: str, cipher: TokenCipher) -> None:
    """A schema version 4 database with connections (tokens encrypted), runs made by the CLI
    and by the service (queued, awaiting review, a callback pending), an audit trail and an
    OAuth state."""
    engine = sa.create_engine(url)
    try:
        schema_v4.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(schema_v4.schema_version.insert().values(version=4))
            conn.execute(schema_v4.connections.insert(), _connections(cipher))
            conn.execute(schema_v4.runs.insert(), _runs())
            conn.execute(schema_v4.run_requests.insert(), _audit())
            conn.execute(
                schema_v4.oauth_states.insert().values(
                    state_hash=hashlib.sha256(OAUTH_STATE.encode()).hexdigest(),
                    connection_id="rest-1",
                    created_at=NOW,
                    expires_at=NOW + 10 * 365 * 86400,
                )
            )
    finally:
        engine.dispose()


def _connections(cipher: TokenCipher) -> list[dict[str, object]]:
    blank = dict.fromkeys(c.name for c in schema_v4.connections.columns)
    common = blank | {"client_id": "client-1", "created_at": NOW, "updated_at": NOW}
    common["status"] = "active"
    return [
        common
        | {
            "id": "rest-1",
            "label": "Restaurang Ett",
            "tenant_id": "111111",
            "scopes": "bookkeeping settings",
            "kind": "refresh_token",
            "access_token": cipher.encrypt(SecretStr("access-token-1")),
            "access_expires_at": NOW + 3600,
            "refresh_token": cipher.encrypt(SecretStr("refresh-token-1")),
            "policy": json.dumps({"create_series": "never"}),
            "restaurant_id": "r-1",
            "restaurant_name": "Restaurang Ett",
        },
        common
        | {
            "id": "rest-2",
            "label": "Restaurang Två",
            "scopes": "",
            "kind": "service_account",
            "status": "needs_reconnect",
            "status_reason": "invalid_grant",
        },
    ]


def _runs() -> list[dict[str, object]]:
    blank = dict.fromkeys(c.name for c in schema_v4.runs.columns)
    service = blank | {"origin": "service", "mode": "plan", "attempts": 0, "not_before": NOW}
    return [
        blank
        | {
            "id": "cli-run",
            "event_id": "cli-e",
            "connection_id": "rest-1",
            "mode": "apply",
            "state": "done",
            "kind": "series_missing",
            "outcome": "fixed",
            "failure": "{}",
            "report": '{"outcome": "fixed"}',
            "created_at": NOW,
            "finished_at": NOW + 1,
        },
        service
        | {
            "id": "late-day",
            "event_id": "e-late",
            "connection_id": "rest-1",
            "state": "queued",
            "export_date": "2026-03-05",
            "failure": '{"day": 5}',
            "created_at": NOW,
        },
        service
        | {
            "id": "early-day",
            "event_id": "e-early",
            "connection_id": "rest-1",
            "state": "queued",
            "export_date": "2026-03-02",
            "failure": '{"day": 2}',
            "created_at": NOW + 1,
        },
        service
        | {
            "id": "review",
            "event_id": "e-review",
            "connection_id": "rest-2",
            "state": "awaiting_review",
            "export_date": "2026-03-01",
            "failure": "{}",
            "report": "{}",
            "created_at": NOW,
        },
        service
        | {
            "id": "notify",
            "event_id": "e-notify",
            "connection_id": "rest-2",
            "state": "done",
            "outcome": "fixed",
            "export_date": "2026-02-28",
            "failure": "{}",
            "report": "{}",
            "created_at": NOW,
            "finished_at": NOW,
            "callback_url": "https://backoffice.test/cb",
            "callback_state": "pending",
            "callback_attempts": 1,
            "callback_next_at": NOW,
        },
    ]


def _audit() -> list[dict[str, object]]:
    return [
        {
            "run_id": "cli-run",
            "seq": seq,
            "kind": "api",
            "method": method,
            "path": path,
            "status": 200,
            "duration": 0.01,
        }
        for seq, (method, path) in enumerate([("GET", "/3/vouchers"), ("POST", "/3/vouchers")])
    ]


V1 = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (1);
CREATE TABLE connections (id VARCHAR(100) NOT NULL PRIMARY KEY, label VARCHAR(200) NOT NULL,
  tenant_id VARCHAR(50), client_id VARCHAR(200) NOT NULL, scopes TEXT NOT NULL,
  kind VARCHAR(20) NOT NULL, status VARCHAR(20) NOT NULL, access_token TEXT,
  access_expires_at FLOAT, refresh_token TEXT, refresh_expires_at FLOAT,
  last_refresh_at FLOAT, status_reason TEXT, lock_owner VARCHAR(100), lock_until FLOAT,
  created_at FLOAT NOT NULL, updated_at FLOAT NOT NULL);
INSERT INTO connections (id, label, client_id, scopes, kind, status, created_at,
  updated_at) VALUES ('old', 'Old', 'c', '', 'refresh_token', 'active', 0, 0);
"""


def make_v1(path: Path) -> None:
    """A SQLite database of schema version 1: connections only, no policy column."""
    raw = sqlite3.connect(path)
    raw.executescript(V1)
    raw.commit()
    raw.close()
