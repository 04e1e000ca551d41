"""The PostgreSQL pool: a connection idle in the pool is pinged before it is handed out, one
used a moment ago is not, and either way a connection the server dropped is replaced."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from remediator.storage import db as db_module
from remediator.storage.db import open_engine
from tests import postgres


@pytest.fixture
def engine() -> Iterator[Engine]:
    with postgres.fresh_schema(postgres.require()) as url:
        opened = open_engine(url)
        yield opened
        opened.dispose()


@pytest.fixture
def pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The pings the pool sends, as they are sent."""
    sent: list[object] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        sent.append(dbapi_connection)
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return sent


def _backend(engine: Engine) -> int:
    """The server process of the pool's one connection (it goes back to the pool after)."""
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def _drop(backend: int) -> None:
    """The server ends that connection, as a restart or a cut network would."""
    admin = sa.create_engine(postgres.require(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            ended = conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
            assert ended.scalar_one() is True
    finally:
        admin.dispose()


def test_a_connection_used_a_moment_ago_is_handed_out_without_a_ping(
    engine: Engine, pings: list[object]
) -> None:
    first = _backend(engine)
    for _ in range(3):
        assert _backend(engine) == first  # the same pooled connection each time
    assert pings == []


def test_an_idle_connection_is_pinged_and_a_dropped_one_replaced_before_use(
    engine: Engine, pings: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _backend(engine)
    _drop(first)
    monkeypatch.setattr(db_module, "PING_IDLE_SECONDS", 0.0)  # every checkout is after idling

    again = _backend(engine)  # no error: the ping found it dead and the pool connected anew

    assert again != first
    assert len(pings) == 1


def test_a_dropped_connection_used_a_moment_ago_fails_once_and_the_pool_renews(
    engine: Engine, pings: list[object]
) -> None:
    first = _backend(engine)
    _drop(first)

    with pytest.raises(OperationalError) as failed:
        _backend(engine)
    assert failed.value.connection_invalidated

    assert _backend(engine) != first
    assert pings == []
