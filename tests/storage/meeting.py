"""Instances made to race: each stops at its first INSERT into a table until the others are there."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from remediator.errors import UsageError
from remediator.storage import Database
from remediator.storage.db import is_sqlite


@contextmanager
def meeting_at_insert(
    engines: list[sa.Engine], timeout: float, table: str = "runs"
) -> Iterator[list[bool]]:
    """Each engine's first INSERT into ``table`` waits until all of them are there (or
    ``timeout``): every instance has looked for the row and found none. Yields, per meeting,
    whether everyone came (on SQLite the write lock keeps the second out until the first
    commits)."""
    barrier = threading.Barrier(len(engines), timeout=timeout)
    met: list[bool] = []
    waited: set[int] = set()

    def meet(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.startswith(f"INSERT INTO {table} ") or id(conn.engine) in waited:
            return
        waited.add(id(conn.engine))
        try:
            barrier.wait()
            met.append(True)
        except threading.BrokenBarrierError:
            met.append(False)

    for engine in engines:
        sa.event.listen(engine, "before_cursor_execute", meet)
    try:
        yield met
    finally:
        for engine in engines:
            sa.event.remove(engine, "before_cursor_execute", meet)


def adding_at_once(url: str, table: str, adds: list[Callable[[Database], object]]) -> list[str]:
    """Each of ``adds`` run at once in a thread of its own, on a ``Database`` of its own over
    ``url``, meeting at its INSERT into ``table`` (on PostgreSQL all of them must come).
    Returns, sorted, what each said: "added", or the ``UsageError`` it raised."""
    databases = [Database(url) for _ in adds]
    answers: list[str] = []

    def run(add: Callable[[Database], object], database: Database) -> None:
        try:
            add(database)
            answers.append("added")
        except UsageError as err:
            answers.append(str(err))

    sqlite = is_sqlite(databases[0].engine)
    try:
        with meeting_at_insert(
            [d.engine for d in databases], 1.0 if sqlite else 10.0, table
        ) as met:
            threads = [
                threading.Thread(target=run, args=pair)
                for pair in zip(adds, databases, strict=True)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        for database in databases:
            database.dispose()
    if not sqlite:
        assert met == [True] * len(adds)  # all had looked, found nothing, and inserted at once
    return sorted(answers)
