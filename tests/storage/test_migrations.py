"""Alembic migrations, on both dialects: one head; upgrading an empty database gives exactly the
schema of ``metadata``; a database made before Alembic upgrades without loss; a schema that is
behind is refused until upgraded, and a newer one always."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from cryptography.fernet import Fernet
from pydantic import SecretStr

from remediator.errors import StorageError
from remediator.policy import Policy, Rule
from remediator.storage import (
    ConnectionStatus,
    ConnectionStore,
    Database,
    TokenCipher,
    db,
    migrations,
)
from remediator.storage.db import metadata, open_engine
from remediator.storage.oauth_states import OAuthStateStore
from remediator.storage.queue import Intake, QueueStore
from remediator.storage.runs import RunState
from tests.storage import legacy


def schema_diff(engine: sa.Engine) -> list[Any]:
    """What Alembic's autogenerate would change to make the database match ``metadata``."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def tables(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names())


def test_the_migrations_have_exactly_one_head() -> None:
    heads = ScriptDirectory.from_config(migrations.alembic_config()).get_heads()
    assert heads == [migrations.head()]


def test_upgrading_an_empty_database_gives_the_schema_of_metadata(database_url: str) -> None:
    engine = open_engine(database_url)
    with migrations.schema_lock(engine) as conn:
        migrations.upgrade_all(conn)
    with engine.connect() as conn:
        assert migrations.current(conn) == migrations.head()
    assert schema_diff(engine) == []
    engine.dispose()


def test_a_new_database_is_created_at_the_head(database: Database) -> None:
    assert database.revision() == migrations.head()
    assert schema_diff(database.engine) == []


def test_instances_opening_an_empty_database_together_create_it_once(database_url: str) -> None:
    opened: list[Database] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            opened.append(Database(database_url))
        except BaseException as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert {database.revision() for database in opened} == {migrations.head()}
    for database in opened:
        database.dispose()


def test_a_schema_version_4_database_upgrades_without_loss(database_url: str) -> None:
    cipher = TokenCipher(Fernet.generate_key())
    legacy.make_v4(database_url, cipher)
    with pytest.raises(StorageError, match="remediator db upgrade"):
        Database(database_url)
    database = Database(database_url, upgrade=True)
    assert database.revision() == migrations.head()
    assert schema_diff(database.engine) == []
    assert "schema_version" not in tables(database.engine)

    store = ConnectionStore(database, cipher)
    first, second = store.all()
    assert first.access_token == SecretStr("access-token-1")
    assert first.refresh_token == SecretStr("refresh-token-1")
    assert (first.tenant_id, first.scopes, first.restaurant_name) == (
        "111111",
        ("bookkeeping", "settings"),
        "Restaurang Ett",
    )
    assert first.policy == Policy(create_series=Rule.NEVER)
    assert (second.status, second.status_reason) == (
        ConnectionStatus.NEEDS_RECONNECT,
        "invalid_grant",
    )

    queue = QueueStore(database)
    cli_run = queue.get("cli-run")
    assert (cli_run.outcome, cli_run.report) == ("fixed", '{"outcome": "fixed"}')
    assert [(e.seq, e.method) for e in queue.audit("cli-run")] == [(0, "GET"), (1, "POST")]
    assert queue.depth() == 2
    claimed = queue.claim("rest-1")
    assert claimed is not None
    assert (claimed.id, claimed.failure) == ("early-day", '{"day": 2}')  # oldest day first
    assert queue.queued("review").state is RunState.AWAITING_REVIEW
    assert [run.id for run in queue.claim_callbacks(hold_seconds=60)] == ["notify"]
    assert OAuthStateStore(database).consume(legacy.OAUTH_STATE) == "rest-1"
    database.dispose()


def test_a_schema_version_1_sqlite_database_upgrades_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    legacy.make_v1(path)
    database = Database(f"sqlite:///{path}", upgrade=True)
    assert schema_diff(database.engine) == []
    store = ConnectionStore(database, TokenCipher(Fernet.generate_key()))
    assert store.get("old").policy is None
    QueueStore(database).create(
        "r", event_id="e", connection_id="old", mode="plan", failure_json="{}"
    )
    database.dispose()


def test_a_schema_that_is_behind_is_refused_until_upgraded(database: Database) -> None:
    url = database.url
    with database.engine.begin() as conn:  # as if a revision after this one were not yet run
        conn.execute(sa.text("DROP INDEX ix_runs_connection_state"))
        conn.execute(sa.text("DELETE FROM alembic_version"))
        conn.execute(sa.text("CREATE TABLE schema_version (version INTEGER NOT NULL)"))
    database.dispose()
    with pytest.raises(StorageError, match=r"out of date: run `remediator db upgrade`"):
        Database(url)
    upgraded = Database(url, upgrade=True)
    assert schema_diff(upgraded.engine) == []
    upgraded.dispose()


def test_a_newer_schema_is_refused(database: Database) -> None:
    with database.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'f00d'"))
    database.dispose()
    for upgrade in (False, True):
        with pytest.raises(StorageError, match="f00d, newer than this remediator"):
            Database(database.url, upgrade=upgrade)


def test_a_schema_version_5_database_keeps_its_console_tables(database_url: str) -> None:
    legacy.make_v4(database_url, TokenCipher(Fernet.generate_key()))
    engine = open_engine(database_url)
    console = [db.users, db.console_sessions, db.audit_log]
    with engine.begin() as conn:  # what version 5 added in place, before Alembic
        metadata.create_all(conn, tables=console)
        conn.execute(db.users.insert().values(name="anna", email="a@x.test", created_at=1.0))
        conn.execute(sa.text("UPDATE schema_version SET version = 5"))
    engine.dispose()
    database = Database(database_url, upgrade=True)
    assert schema_diff(database.engine) == []
    with database.engine.connect() as conn:
        assert conn.execute(sa.select(db.users.c.name)).scalars().all() == ["anna"]
    database.dispose()


def test_a_revision_7_database_with_duplicate_service_events_upgrades_keeping_every_run(
    database_url: str,
) -> None:
    engine = open_engine(database_url)
    with migrations.schema_lock(engine) as conn:
        command.upgrade(migrations.alembic_config(conn), "0007")
    long_event = "x" * 200

    def run(run_id: str, event_id: str, origin: str | None, created_at: float) -> dict[str, Any]:
        return {
            "id": run_id,
            "event_id": event_id,
            "connection_id": "c",
            "mode": "plan",
            "state": "queued" if origin else "done",
            "failure": f'{{"event_id": "{event_id}"}}',
            "created_at": created_at,
            "origin": origin,
        }

    rows = [
        run("later", "evt", "service", 2.0),
        run("first", "evt", "service", 1.0),
        run("last", "evt", "service", 3.0),
        run("long-1", long_event, "service", 1.0),
        run("long-2", long_event, "service", 2.0),
        run("alone", "other", "service", 1.0),
        run("cli-1", "evt", None, 1.0),
        run("cli-2", "evt", None, 2.0),
        run("ahead-1", "ahead:evt", "scheduled", 1.0),
        run("ahead-2", "ahead:evt", "scheduled", 2.0),
    ]
    with engine.begin() as conn:
        conn.execute(db.runs.insert(), rows)
    engine.dispose()

    database = Database(database_url, upgrade=True)
    assert database.revision() == migrations.head()
    assert schema_diff(database.engine) == []
    with database.engine.connect() as conn:
        found = dict(conn.execute(sa.select(db.runs.c.id, db.runs.c.event_id)).all())
    assert found == {
        "first": "evt",
        "later": "duplicate:later:evt",
        "last": "duplicate:last:evt",
        "long-1": long_event,
        "long-2": ("duplicate:long-2:" + long_event)[:200],
        "alone": "other",
        "cli-1": "evt",
        "cli-2": "evt",
        "ahead-1": "ahead:evt",
        "ahead-2": "ahead:evt",
    }
    queue = QueueStore(database)
    again = queue.accept(Intake("new", "evt", "c", "series_missing", "2026-03-01", "{}", None))
    assert (again.run.id, again.created) == ("first", False)
    database.dispose()
