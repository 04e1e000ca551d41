"""The database: one SQLAlchemy Core engine and the schema, on SQLite or PostgreSQL.

SQLite by default (``sqlite:///remediator.db``); PostgreSQL is a change of URL
(``postgresql+psycopg://…``). The same Core statements run on both; only SQLite gets PRAGMAs
and a writers' turn inside the process. The tables below describe the newest schema; its
history is a chain of Alembic revisions in ``remediator/storage/migrations`` (see there and
docs/deploy.md for how a database is brought up to date, and how to change the schema).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection as SAConnection
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, DisconnectionError, NoSuchModuleError, SQLAlchemyError

from remediator.errors import ConfigError, StorageError
from remediator.storage import migrations

metadata = sa.MetaData()

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
    # A refresh in progress (set before the token request, cleared when the rotated
    # token is stored), and why a connection needs reconnecting.
    sa.Column("refresh_started_at", sa.Float, nullable=True),
    sa.Column("status_cause", sa.String(40), nullable=True),
    # Who consented (GET /3/me at consent): name, email, system administrator or not.
    sa.Column("owner_name", sa.String(200), nullable=True),
    sa.Column("owner_email", sa.String(200), nullable=True),
    sa.Column("owner_sys_admin", sa.Boolean, nullable=True),
    sa.Column("owner_checked_at", sa.Float, nullable=True),
)

# The runs whose event ids are unique (uq_runs_service_event): those the service received.
SERVICE_EVENTS = sa.text("origin = 'service'")

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("event_id", sa.String(200), nullable=False, index=True),
    sa.Column("connection_id", sa.String(100), nullable=False),  # ix_runs_connection_state
    sa.Column("mode", sa.String(10), nullable=False),
    sa.Column("state", sa.String(30), nullable=False, index=True),
    sa.Column("kind", sa.String(40), nullable=True),
    sa.Column("outcome", sa.String(40), nullable=True, index=True),
    sa.Column("failure", sa.Text, nullable=False),
    sa.Column("report", sa.Text, nullable=True),
    sa.Column("approved_by", sa.String(200), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float, nullable=True),
    # The service's queue: NULL on runs made by the CLI.
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
    # A worker's claim reads only its connection's queued runs.
    sa.Index("ix_runs_connection_state", "connection_id", "state"),
    # /metrics counts the check-ahead runs by kind and outcome from this index alone (0007).
    sa.Index("ix_runs_origin_kind_outcome", "origin", "kind", "outcome"),
    # One service run per event id: intake's idempotency key, held by the database however
    # many instances receive the event at once (0008). Not the CLI's runs nor the check ahead's.
    sa.Index(
        "uq_runs_service_event",
        "event_id",
        unique=True,
        postgresql_where=SERVICE_EVENTS,
        sqlite_where=SERVICE_EVENTS,
    ),
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

# The web console's people, their sessions, and the trail of their decisions (revision 0002).
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

# Who acts on a Fortnox company now (remediator.storage.leases); times on the database's clock.
leases = sa.Table(
    "leases",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("acquired_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    # What the last holder spent of the company's rate budget, and when it let go (0009).
    sa.Column("spent", sa.Text, nullable=True),
    sa.Column("spent_at", sa.Float, nullable=True),
)

# The service's daily jobs (remediator.storage.jobs): one row per job and slot (the local date),
# so a slot runs once however many instances share the database (revision 0006).
job_runs = sa.Table(
    "job_runs",
    metadata,
    sa.Column("job", sa.String(60), primary_key=True),
    sa.Column("slot", sa.String(10), primary_key=True),
    sa.Column("slot_at", sa.Float, nullable=False),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float, nullable=True),
    sa.Column("result", sa.String(20), nullable=True),
    sa.Column("summary", sa.Text, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
)

# What the tokens are encrypted with, without the key (revision 0010): the first process that
# writes a token records a check value of its key (an HMAC of a fixed label, which reveals
# nothing of it), so that a process with another key refuses to write before it does.
key_checks = sa.Table(
    "key_checks",
    metadata,
    sa.Column("name", sa.String(50), primary_key=True),
    sa.Column("value", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)


def open_engine(url: str) -> Engine:
    """An engine for ``url`` as the remediator uses it; the schema is left as it is.

    ``postgresql://`` means psycopg 3 (``postgresql+psycopg://``), the driver installed with
    the remediator.
    """
    parsed = sa.engine.make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() != "sqlite":
        # Each instance: 5 connections kept, up to 20 at once (docs/deploy.md, sizing).
        engine = sa.create_engine(parsed, pool_size=5, max_overflow=15, hide_parameters=True)
        sa.event.listen(engine, "checkout", _ping_when_idle(engine.dialect))
        sa.event.listen(engine, "checkin", _checked_in)
        return engine
    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        folder = Path(database).parent
        if not folder.is_dir():
            raise ConfigError(
                f"the database's folder {folder} does not exist (database_url): create it, "
                "or point REMEDIATOR_DATABASE_URL at an existing folder"
            )
        _create_private(Path(database))
    engine = sa.create_engine(
        parsed,
        connect_args={"check_same_thread": False, "timeout": 30},
        hide_parameters=True,  # an error's text never carries a row's values (tokens, bodies)
    )
    sa.event.listen(engine, "connect", _sqlite_on_connect)
    sa.event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def problem(err: SQLAlchemyError) -> str:
    """What the database said, on one line, for people: the driver's own message with the
    error's type (never the statement, which ``str(err)`` shows)."""
    said = getattr(err, "orig", None) or err
    first = next((line.strip() for line in str(said).splitlines() if line.strip()), "")
    return f"{type(err).__name__}: {first}" if first else type(err).__name__


# A pooled PostgreSQL connection idle longer than this is pinged before it is handed out.
# One used more recently is handed out as it is: a server restart or a cut connection since
# then fails the statement that meets it, as it fails whatever is under way at that moment,
# and the pool replaces every connection older than the failure at its next checkout.
PING_IDLE_SECONDS = 10.0
_CHECKED_IN = "remediator_checked_in"


def _checked_in(dbapi_connection: Any, record: Any) -> None:  # noqa: ARG001 - the event gives it
    record.info[_CHECKED_IN] = time.monotonic()


def _ping_when_idle(dialect: sa.Dialect) -> Callable[[Any, Any, Any], None]:
    """A checkout listener that pings a connection which has been idle in the pool longer
    than ``PING_IDLE_SECONDS`` (``pool_pre_ping`` pings at every checkout: a round trip
    before each transaction, 4.6 per failure in the service). A dead one is replaced:
    ``DisconnectionError`` makes the pool connect anew."""

    def ping(dbapi_connection: Any, record: Any, proxy: Any) -> None:  # noqa: ARG001
        checked_in = record.info.get(_CHECKED_IN)
        if checked_in is None or time.monotonic() - checked_in <= PING_IDLE_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as err:
            raise DisconnectionError("a pooled connection did not answer a ping") from err

    return ping


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner alone (0600) before SQLite opens it:
    SQLite gives its -wal and -shm files the database file's mode. An existing file is left
    as it is."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _sqlite_on_connect(dbapi_connection: Any, record: Any) -> None:
    # Take transaction control from pysqlite so that BEGIN is emitted where SQLAlchemy says.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    _write_ahead_log(cursor)
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()
    record.info[_SYNCHRONOUS] = "FULL"


# Pauses between tries of switching a new database to WAL (about 2 s in all).
_WAL_PAUSES = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0)


def _write_ahead_log(cursor: sqlite3.Cursor) -> None:
    """Put the database in WAL mode (kept in the file: once done, a no-op). Switching takes
    the file's exclusive lock, and SQLite answers "database is locked" at once, without its
    busy wait, while another connection holds it: several processes opening a new database
    together (seen: 1 in 300 under load). Tried again after short pauses."""
    for pause in _WAL_PAUSES:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as err:
            if "locked" not in str(err):
                raise
            time.sleep(pause)
        else:
            return
    cursor.execute("PRAGMA journal_mode=WAL")


# In WAL mode, synchronous=FULL syncs the log to disk at every commit: a committed transaction
# survives a power loss. NORMAL syncs only at checkpoints: a committed transaction survives the
# process being killed (kill -9: the log is in the OS's hands) but the last ones may roll back
# after a power loss or an OS crash. The next FULL commit syncs everything committed before it.
_SYNCHRONOUS = "remediator_synchronous"


def _sqlite_on_begin(conn: SAConnection) -> None:
    # Straight to the driver: SQLAlchemy's statement machinery cost more than SQLite's work
    # for these two (a burst's every transaction runs them).
    options = conn.get_execution_options()
    wanted = "FULL" if options.get("durable", True) else "NORMAL"
    pooled = conn.connection
    driver = cast("sqlite3.Connection", pooled.dbapi_connection)
    if pooled.info.get(_SYNCHRONOUS) != wanted:
        driver.execute(f"PRAGMA synchronous={wanted}")
        pooled.info[_SYNCHRONOUS] = wanted
    driver.execute("BEGIN IMMEDIATE" if options.get("immediate", False) else "BEGIN")


_WRITERS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()
_WRITERS_LOCK = threading.Lock()


def _writer(engine: Engine) -> threading.RLock:
    with _WRITERS_LOCK:
        return _WRITERS.setdefault(engine, threading.RLock())


def is_sqlite(engine: Engine | SAConnection) -> bool:
    return engine.dialect.name == "sqlite"


def inserted(conn: SAConnection, table: sa.Table, row: dict[str, Any]) -> bool:
    """Insert ``row`` unless ``table`` holds its primary key already, also when another
    transaction inserts the same key at the same moment (on PostgreSQL this one waits for it
    to end): whether it was inserted. (Read back with ``RETURNING``: psycopg's rowcount is -1
    for ``ON CONFLICT DO NOTHING``.)"""
    dialect = sqlite if is_sqlite(conn) else postgresql
    key = list(table.primary_key.columns)
    statement = dialect.insert(table).values(**row).on_conflict_do_nothing(index_elements=key)
    return conn.execute(statement.returning(*key)).first() is not None


_OPTIONED: weakref.WeakKeyDictionary[Engine, dict[tuple[tuple[str, Any], ...], Engine]] = (
    weakref.WeakKeyDictionary()
)
_OPTIONED_LOCK = threading.Lock()


def _optioned(engine: Engine, **options: Any) -> Engine:
    """``engine.execution_options(**options)``, made once per engine and options (making one
    copies the engine's dispatch: it showed in a burst's profile at every transaction)."""
    key = tuple(sorted(options.items()))
    with _OPTIONED_LOCK:
        made = _OPTIONED.setdefault(engine, {})
        if key not in made:
            made[key] = engine.execution_options(**options)
        return made[key]


@contextlib.contextmanager
def autocommitted(engine: Engine, *, durable: bool = True) -> Iterator[SAConnection]:
    """A connection whose every statement is its own transaction: on PostgreSQL in
    autocommit, without the ``BEGIN`` and ``COMMIT`` round trips of a transaction around it;
    on SQLite one ``write_transaction`` for all of them (``durable`` as there). Only for
    writes of one statement, or of statements each whole on its own."""
    if is_sqlite(engine):
        with write_transaction(engine, durable=durable) as conn:
            yield conn
        return
    with _autocommit(engine) as conn:
        yield conn


def reading(engine: Engine) -> SAConnection:
    """A connection for a read of one statement (or of statements that need not see one
    snapshot): on PostgreSQL in autocommit, so the read costs no ``BEGIN`` and ``ROLLBACK``
    round trips of a transaction of its own; on SQLite as ``engine.connect()``."""
    if is_sqlite(engine):
        return engine.connect()
    return _autocommit(engine)


def _autocommit(engine: Engine) -> SAConnection:
    """A PostgreSQL connection in autocommit: each statement its own transaction."""
    return _optioned(engine, isolation_level="AUTOCOMMIT").connect()


@contextmanager
def write_transaction(engine: Engine, *, durable: bool = True) -> Iterator[SAConnection]:
    """A transaction that takes SQLite's write lock at once (a plain transaction elsewhere).

    On SQLite, writers of one process take turns on a lock first: waiting there is a wake-up
    when the writer before finishes, where SQLite's own busy handler would sleep up to 100 ms
    a time. PostgreSQL locks rows, not the database: its writers do not take turns.

    ``durable=False`` (SQLite): the commit is not synced to disk (synchronous=NORMAL). It
    survives the process being killed, not a power loss. Only for writes whose loss a later
    run repairs: never an acknowledged intake, a token, or a person's decision.
    """
    if not is_sqlite(engine):
        with engine.begin() as conn:
            yield conn
        return
    writing = _optioned(engine, immediate=True, durable=durable)
    with _writer(engine), writing.begin() as conn:
        yield conn


class Database:
    """An engine whose schema is at the newest revision (see ``migrations.prepare``).

    ``upgrade=True`` brings an older schema up to date; without it an older schema is refused
    with a message naming ``remediator db upgrade``. A database without tables is created.
    """

    def __init__(self, url: str, *, upgrade: bool = False) -> None:
        self.url = url
        try:
            self.engine = open_engine(url)
        except (ArgumentError, NoSuchModuleError):
            raise ConfigError(
                "database_url is not a database URL this remediator can use "
                "(sqlite:///path/remediator.db or postgresql+psycopg://user@host/db)"
            ) from None
        try:
            migrations.prepare(self.engine, metadata, upgrade=upgrade)
        except SQLAlchemyError as err:
            self.engine.dispose()
            raise StorageError(f"cannot open the database: {type(err).__name__}") from err
        except StorageError:
            self.engine.dispose()
            raise

    def __repr__(self) -> str:
        return f"Database({self.engine.url.render_as_string(hide_password=True)!r})"

    def revision(self) -> str | None:
        """The schema's Alembic revision."""
        with self.engine.connect() as conn:
            return migrations.current(conn)

    def dispose(self) -> None:
        self.engine.dispose()
