"""``remediator db``: where the database's schema stands, and upgrading it."""

from __future__ import annotations

import click
from sqlalchemy.exc import SQLAlchemyError

from remediator.cli.output import echo_json, json_option
from remediator.errors import StorageError
from remediator.runtime import open_database
from remediator.settings import load_settings
from remediator.storage import load_cipher, migrations
from remediator.storage.db import metadata, open_engine
from remediator.storage.keys import KeyCheck


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


@db.command("adopt-key")
@click.option("--yes", is_flag=True, help="Make the change (without it: say what it would do).")
def adopt_key(yes: bool) -> None:
    """Make the configured secret key the database's token key, after the old one is lost.

    Every stored token it cannot decrypt is removed, and its connection waits for a reconnect
    (the restaurant opens its reconnect link). Stop every instance first, and start them with
    the new key afterwards. Without --yes nothing changes.
    """
    settings = load_settings()
    database = open_database(settings)
    try:
        keys = KeyCheck(database, load_cipher(settings.secret_key, settings.key_file))
        lost = keys.adopt() if yes else keys.unreadable()
    finally:
        database.dispose()
    names = ", ".join(lost) if lost else "none"
    if yes:
        click.echo(f"the key is now the database's; tokens removed (reconnect these): {names}")
    else:
        click.echo(f"would remove the tokens of (to reconnect): {names}; run again with --yes")


def _status() -> migrations.Status:
    engine = open_engine(load_settings().database_url)
    try:
        with engine.connect() as conn:
            return migrations.status(conn, metadata)
    except SQLAlchemyError as err:
        raise StorageError(f"cannot read the database: {type(err).__name__}") from err
    finally:
        engine.dispose()
