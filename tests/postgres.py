"""The PostgreSQL server the tests use, when there is one: ``REMEDIATOR_TEST_POSTGRES_URL``.

CI sets it (.ci/run) and checks that the server answers; there the PostgreSQL tests must run
and fail when they cannot. Without it (a developer's machine with no PostgreSQL) they are
skipped, and the terminal summary says so loudly (tests/conftest.py).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

ENV = "REMEDIATOR_TEST_POSTGRES_URL"
# Read once at import: the tests' autouse fixture clears every REMEDIATOR_* variable.
URL = os.environ.get(ENV, "")
SKIPPED = f"PostgreSQL tests need {ENV}"
HOW_TO_RUN = (
    f"{ENV}=postgresql+psycopg://postgres@127.0.0.1:5432/test make test  "
    "(any server and database you may create schemas in)"
)


def require() -> str:
    """The server's URL, or skip the test when none is configured."""
    if not URL:
        pytest.skip(SKIPPED)
    return URL


@contextmanager
def fresh_schema(url: str) -> Iterator[str]:
    """A URL whose connections work in a new schema of their own; the schema is dropped after.

    Tables go to the first schema on the search path, so everything the remediator creates
    (and Alembic's ``alembic_version``) lands there and nowhere else.
    """
    name = f"t_{secrets.token_hex(6)}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {name}")
        scoped = sa.engine.make_url(url).update_query_dict({"options": f"-csearch_path={name}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        admin.dispose()
