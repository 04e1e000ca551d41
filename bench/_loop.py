"""The event loop the benchmarks run the engine on: uvloop's, as the service runs it (uvicorn
picks uvloop when it is installed, and it is a dependency), asyncio's own where uvloop is not
available (Windows)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


try:
    from uvloop import new_event_loop
except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
    from asyncio import new_event_loop  # type: ignore[assignment]


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on the service's kind of event loop.

    The result is handed back outside the runner's task: when ``Runner.run`` ends, Python
    3.11 looks at its SIGINT handler through ``signal.getsignal``, which formats the handler's
    repr into an error it then drops, and that repr holds the task with its result. A run's
    10,000 reports took seconds of CPU to format, after every measurement."""
    kept: list[T] = []

    async def keeping() -> None:
        kept.append(await main)

    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(keeping())
    return kept[0]
