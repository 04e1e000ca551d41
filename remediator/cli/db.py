"""``remediator db``: where the database's schema stands, and upgrading it."""

from __future__ import annotations

import click
from sqlalchemy.exc import SQLAlchemyError

from remediator.cli.output import echo_json, json_option
from remediator.errors import StorageError
from remediator.settings import load_settings
from remediator.storage import migrations
from remediator.storage.db import metadata, open_engine


@click.group()
def db() -> None:
    """The database's schema: status and upgrade (REMEDIATOR_DATABASE_URL)."""


@db.command()
@json_option
def status(as_json: bool) -> None:
    """Where the schema stands against this remediator's migrations (changes nothing)."""
    found = _status()
    if as_json:
        echo_json(
            {
                "current": found.current,
                "head": found.head,
                "empty": found.empty,
                "up_to_date": found.up_to_date,
            }
        )
        return
    click.echo(f"database schema: {found.describe()}")


@db.command()
def upgrade() -> None:
    """Bring the schema to this remediator's newest revision (create it when empty).

    Safe to run from several machines at once: one upgrades while the others wait, then find
    nothing to do. Run it before starting instances of a new version.
    """
    before = _status()
    engine = open_engine(load_settings().database_url)
    try:
        migrations.prepare(engine, metadata, upgrade=True)
    except SQLAlchemyError as err:
        raise StorageError(f"cannot upgrade the database: {type(err).__name__}") from err
    finally:
        engine.dispose()
    if before.up_to_date:
        click.echo(f"database schema: already at {before.head}")
    else:
        click.echo(f"database schema: {before.current or 'none'} -> {before.head}")


def _status() -> migrations.Status:
    engine = open_engine(load_settings().database_url)
    try:
        with engine.connect() as conn:
            return migrations.status(conn, metadata)
    except SQLAlchemyError as err:
        raise StorageError(f"cannot read the database: {type(err).__name__}") from err
    finally:
        engine.dispose()
