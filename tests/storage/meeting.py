"""Instances made to race: each stops at its first INSERT into a table until the others are there."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa


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
