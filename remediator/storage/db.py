"""The database: one SQLAlchemy Core engine, the schema, and its version.

SQLite by default; the schema uses only portable types so that PostgreSQL is a change of URL.
The schema is created on first use and carries a version in ``schema_version`` so that later
changes can migrate an existing database in place.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection as SAConnection
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from remediator.errors import StorageError

metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, nullable=False),
)

connections = sa.Table(
    "connections",
    metadata,
    sa.Column("id", sa.String(100), primary_key=True),
    sa.Column("label", sa.String(200), nullable=False),
    sa.Column("tenant_id", sa.String(50), nullable=True, index=True),
    sa.Column("client_id", sa.String(200), nullable=False),
    sa.Column("scopes", sa.Text, nullable=False, default=""),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("access_token", sa.Text, nullable=True),
    sa.Column("access_expires_at", sa.Float, nullable=True),
    sa.Column("refresh_token", sa.Text, nullable=True),
    sa.Column("refresh_expires_at", sa.Float, nullable=True),
    sa.Column("last_refresh_at", sa.Float, nullable=True),
    sa.Column("status_reason", sa.Text, nullable=True),
    sa.Column("lock_owner", sa.String(100), nullable=True),
    sa.Column("lock_until", sa.Float, nullable=True),
    sa.Column("policy", sa.Text, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("restaurant_id", sa.String(200), nullable=True),
    sa.Column("restaurant_name", sa.String(200), nullable=True),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("event_id", sa.String(200), nullable=False, index=True),
    sa.Column("connection_id", sa.String(100), nullable=False, index=True),
    sa.Column("mode", sa.String(10), nullable=False),
    sa.Column("state", sa.String(30), nullable=False, index=True),
    sa.Column("kind", sa.String(40), nullable=True),
    sa.Column("outcome", sa.String(40), nullable=True, index=True),
    sa.Column("failure", sa.Text, nullable=False),
    sa.Column("report", sa.Text, nullable=True),
    sa.Column("approved_by", sa.String(200), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float, nullable=True),
    # The service's queue (version 3): NULL on runs made by the CLI.
    sa.Column("origin", sa.String(20), nullable=True),
    sa.Column("export_date", sa.String(10), nullable=True),
    sa.Column("attempts", sa.Integer, nullable=True),
    sa.Column("not_before", sa.Float, nullable=True),
    sa.Column("started_at", sa.Float, nullable=True),
    sa.Column("approved_at", sa.Float, nullable=True),
    sa.Column("joined_to", sa.String(40), nullable=True),
    sa.Column("state_reason", sa.Text, nullable=True),
    sa.Column("fix_verified_at", sa.Float, nullable=True),
    sa.Column("callback_url", sa.Text, nullable=True),
    sa.Column("callback_state", sa.String(20), nullable=True, index=True),
    sa.Column("callback_attempts", sa.Integer, nullable=True),
    sa.Column("callback_next_at", sa.Float, nullable=True),
    sa.Column("callback_error", sa.Text, nullable=True),
    # Version 4: a worker's claim reads only its connection's queued runs.
    sa.Index("ix_runs_connection_state", "connection_id", "state"),
)

oauth_states = sa.Table(
    "oauth_states",
    metadata,
    sa.Column("state_hash", sa.String(64), primary_key=True),
    sa.Column("connection_id", sa.String(100), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("used_at", sa.Float, nullable=True),
)

run_requests = sa.Table(
    "run_requests",
    metadata,
    sa.Column("run_id", sa.String(40), sa.ForeignKey("runs.id"), nullable=False, index=True),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("method", sa.String(10), nullable=False),
    sa.Column("path", sa.String(300), nullable=False),
    sa.Column("status", sa.Integer, nullable=True),
    sa.Column("duration", sa.Float, nullable=False),
    sa.Column("code", sa.Integer, nullable=True),
    sa.Column("grant_type", sa.String(40), nullable=True),
    sa.Column("error", sa.String(100), nullable=True),
)

# Version 5: the web console's people, their sessions, and the trail of their decisions.
users = sa.Table(
    "users",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("email", sa.String(200), nullable=False),
    sa.Column("password_hash", sa.Text, nullable=True),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("invite_hash", sa.String(64), nullable=True, index=True),
    sa.Column("invite_expires_at", sa.Float, nullable=True),
    sa.Column("failed_logins", sa.Integer, nullable=False, default=0),
    sa.Column("locked_until", sa.Float, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("last_login_at", sa.Float, nullable=True),
)

console_sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_name", sa.String(100), nullable=False, index=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False, index=True),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("via", sa.String(20), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("run_id", sa.String(40), nullable=True, index=True),
    sa.Column("connection_id", sa.String(100), nullable=True, index=True),
    sa.Column("detail", sa.Text, nullable=True),
)

Migration = Callable[[SAConnection], None]


def _add_runs_and_policy(conn: SAConnection) -> None:
    columns = {column["name"] for column in sa.inspect(conn).get_columns("connections")}
    if "policy" not in columns:  # databases made by version 1
        conn.execute(sa.text("ALTER TABLE connections ADD COLUMN policy TEXT"))
    metadata.create_all(conn, tables=[runs, run_requests])


def _add_columns(conn: SAConnection, table: sa.Table, names: list[str]) -> None:
    present = {column["name"] for column in sa.inspect(conn).get_columns(table.name)}
    for name in names:
        if name not in present:
            kind = table.c[name].type.compile(dialect=conn.dialect)
            conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {name} {kind}"))


_SERVICE_RUN_COLUMNS = [
    "origin",
    "export_date",
    "attempts",
    "not_before",
    "started_at",
    "approved_at",
    "joined_to",
    "state_reason",
    "fix_verified_at",
    "callback_url",
    "callback_state",
    "callback_attempts",
    "callback_next_at",
    "callback_error",
]


def _add_service_queue(conn: SAConnection) -> None:
    """Version 3: the service's queue columns on runs, restaurants, and OAuth states."""
    _add_columns(conn, connections, ["restaurant_id", "restaurant_name"])
    _add_columns(conn, runs, _SERVICE_RUN_COLUMNS)
    for index in runs.indexes:
        if index.name == "ix_runs_callback_state":
            index.create(conn, checkfirst=True)
    oauth_states.create(conn, checkfirst=True)


def _add_claim_index(conn: SAConnection) -> None:
    """Version 4: an index on runs (connection_id, state) for the workers' claims."""
    for index in runs.indexes:
        if index.name == "ix_runs_connection_state":
            index.create(conn, checkfirst=True)


def _add_console(conn: SAConnection) -> None:
    """Version 5: the console's users and sessions, and the audit log of people's decisions."""
    metadata.create_all(conn, tables=[users, console_sessions, audit_log])


# MIGRATIONS[n] upgrades a database at version n to version n + 1. Version 0 is empty.
# The table objects above describe the latest version; a migration must not rely on columns
# that a later migration adds.
MIGRATIONS: list[Migration] = [
    connections.create,
    _add_runs_and_policy,
    _add_service_queue,
    _add_claim_index,
    _add_console,
]
SCHEMA_VERSION = len(MIGRATIONS)


def _engine_for(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_pre_ping=True)
    database = sa.engine.make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    sa.event.listen(engine, "connect", _sqlite_on_connect)
    sa.event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, record: Any) -> None:
    # Take transaction control from pysqlite so that BEGIN is emitted where SQLAlchemy says.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()
    record.info[_SYNCHRONOUS] = "FULL"


# In WAL mode, synchronous=FULL syncs the log to disk at every commit: a committed transaction
# survives a power loss. NORMAL syncs only at checkpoints: a committed transaction survives the
# process being killed (kill -9: the log is in the OS's hands) but the last ones may roll back
# after a power loss or an OS crash. The next FULL commit syncs everything committed before it.
_SYNCHRONOUS = "remediator_synchronous"


def _sqlite_on_begin(conn: SAConnection) -> None:
    options = conn.get_execution_options()
    wanted = "FULL" if options.get("durable", True) else "NORMAL"
    info = conn.connection.info
    if info.get(_SYNCHRONOUS) != wanted:
        conn.exec_driver_sql(f"PRAGMA synchronous={wanted}")
        info[_SYNCHRONOUS] = wanted
    conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get("immediate", False) else "BEGIN")


_WRITERS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()
_WRITERS_LOCK = threading.Lock()


def _writer(engine: Engine) -> threading.RLock:
    with _WRITERS_LOCK:
        return _WRITERS.setdefault(engine, threading.RLock())


@contextmanager
def write_transaction(engine: Engine, *, durable: bool = True) -> Iterator[SAConnection]:
    """A transaction that takes SQLite's write lock at once (a no-op option elsewhere).

    Writers of one process take turns on a lock first: waiting there is a wake-up when the
    writer before finishes, where SQLite's own busy handler would sleep up to 100 ms a time.

    ``durable=False`` (SQLite): the commit is not synced to disk (synchronous=NORMAL). It
    survives the process being killed, not a power loss. Only for writes whose loss a later
    run repairs: never an acknowledged intake, a token, or a person's decision.
    """
    options = {"immediate": True} if durable else {"immediate": True, "durable": False}
    with _writer(engine), engine.execution_options(**options).begin() as conn:
        yield conn


class Database:
    """An engine with the schema brought to the current version on first use."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine = _engine_for(url)
            self._migrate()
        except SQLAlchemyError as err:
            raise StorageError(f"cannot open the database: {type(err).__name__}") from err

    def __repr__(self) -> str:
        return f"Database({self.engine.url.render_as_string(hide_password=True)!r})"

    def version(self) -> int:
        with self.engine.connect() as conn:
            return _current_version(conn)

    def _migrate(self) -> None:
        with write_transaction(self.engine) as conn:
            schema_version.create(conn, checkfirst=True)
            current = _current_version(conn)
            if current > SCHEMA_VERSION:
                raise StorageError(
                    f"the database has schema version {current}, newer than this "
                    f"remediator ({SCHEMA_VERSION}): upgrade the remediator"
                )
            for step in MIGRATIONS[current:]:
                step(conn)
            if current == 0:
                conn.execute(schema_version.insert().values(version=SCHEMA_VERSION))
            elif current < SCHEMA_VERSION:
                conn.execute(schema_version.update().values(version=SCHEMA_VERSION))

    def dispose(self) -> None:
        self.engine.dispose()


def _current_version(conn: SAConnection) -> int:
    value = conn.execute(sa.select(schema_version.c.version)).scalar()
    return int(value) if value is not None else 0
