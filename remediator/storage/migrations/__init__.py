"""The schema's history as Alembic revisions, and bringing a database to the newest one.

``prepare`` runs whenever the remediator opens a database:

- at the newest revision (the head): nothing to do;
- no table of the remediator's at all (a new SQLite file, an empty PostgreSQL schema): the
  tables are created as they are now and stamped with the head, which gives the same schema as
  upgrading through every revision (tests/storage/test_migrations.py checks that);
- behind the head, including a database made before Alembic (it carries ``schema_version``):
  upgraded only when asked (``remediator db upgrade``, or ``REMEDIATOR_DATABASE_UPGRADE=true``),
  otherwise refused with a message that names ``remediator db upgrade``;
- at a revision this remediator does not know: refused (the database is newer than the code).

Creating and upgrading take a lock first (SQLite's write lock; an advisory lock on
PostgreSQL), so instances starting together do it once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from remediator.errors import StorageError

SCRIPT_LOCATION = Path(__file__).parent
# pg_advisory_xact_lock's key while a schema is created or upgraded ("remediat" in ASCII).
_SCHEMA_LOCK = 0x72656D6564696174
VERSION_TABLE = "alembic_version"
UPGRADE_HINT = "run `remediator db upgrade` (or start with REMEDIATOR_DATABASE_UPGRADE=true)"


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the migrations shipped in the package."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.attributes["connection"] = connection
    return config


@cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """The newest revision: the one that ``metadata`` describes."""
    heads = _script().get_heads()
    if len(heads) != 1:  # two revisions with the same down_revision: merge them
        raise StorageError(f"the migrations have {len(heads)} heads, not one: {sorted(heads)}")
    return heads[0]


def known(revision: str) -> bool:
    return revision in {script.revision for script in _script().walk_revisions()}


def current(conn: Connection) -> str | None:
    """The database's revision; ``None`` when it has none (new, or made before Alembic).
    (Read directly: Alembic's own look logs two lines at every open.)"""
    if not sa.inspect(conn).has_table(VERSION_TABLE):
        return None
    found = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()  # noqa: S608 - a constant
    return None if found is None else str(found)


@dataclass(frozen=True)
class Status:
    """Where a database stands against the migrations."""

    current: str | None
    head: str
    empty: bool  # none of the remediator's tables

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    def describe(self) -> str:
        if self.empty:
            return f"empty (it is created at {self.head} when first opened)"
        if self.up_to_date:
            return f"at {self.head} (up to date)"
        if self.current is None:
            return f"made before migrations (it carries schema_version): head is {self.head}"
        if not known(self.current):
            return f"at {self.current}, unknown to this remediator (head {self.head}): newer"
        return f"at {self.current}, behind {self.head}"


def status(conn: Connection, metadata: sa.MetaData) -> Status:
    present = set(sa.inspect(conn).get_table_names())
    return Status(current(conn), head(), empty=not present & set(metadata.tables))


@contextmanager
def schema_lock(engine: Engine) -> Iterator[Connection]:
    """A transaction in which one process at a time creates or upgrades the schema."""
    if engine.dialect.name == "sqlite":
        with engine.execution_options(immediate=True).begin() as conn:
            yield conn
        return
    with engine.begin() as conn:
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_SCHEMA_LOCK)))
        yield conn


def upgrade_all(conn: Connection) -> None:
    """Run every revision between the database's and the head (inside ``conn``'s transaction)."""
    command.upgrade(alembic_config(conn), "head")


def prepare(engine: Engine, metadata: sa.MetaData, *, upgrade: bool) -> None:
    """Make sure the schema is at the head, as the module's docstring says, or raise."""
    with engine.connect() as conn:
        if current(conn) == head():
            return
    with schema_lock(engine) as conn:
        found = status(conn, metadata)
        if found.up_to_date:
            return
        if found.empty:
            metadata.create_all(conn)
            # the revisions as read once per process, not read again (and env.py run) each time
            MigrationContext.configure(conn).stamp(_script(), "head")
            return
        if found.current is not None and not known(found.current):
            raise StorageError(
                f"the database's schema is at revision {found.current}, newer than this "
                f"remediator ({found.head}): upgrade the remediator"
            )
        if not upgrade:
            raise StorageError(f"the database's schema is out of date: {UPGRADE_HINT}")
        upgrade_all(conn)
