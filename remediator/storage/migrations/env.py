"""Alembic's entry point: runs the revisions on the connection the remediator hands over.

The remediator passes its connection in ``config.attributes["connection"]`` (see
``remediator.storage.migrations``). Run by the ``alembic`` command instead (from the
repository, to write a new revision: docs/deploy.md), it opens ``REMEDIATOR_DATABASE_URL``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from remediator.settings import load_settings
from remediator.storage.db import metadata, open_engine


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    given = context.config.attributes.get("connection")
    if given is not None:
        _run(given)
        return
    url = load_settings().database_url
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = open_engine(url)
    try:
        with engine.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        engine.dispose()


_main()
