"""Waiting for a wake-up or a poll interval, whichever comes first."""

from __future__ import annotations

import asyncio
import contextlib


async def woken(event: asyncio.Event, seconds: float) -> None:
    """Wait until ``event`` is set or ``seconds`` pass, then clear it.

    ``asyncio.timeout`` rather than ``asyncio.wait_for``: on Python 3.11 ``wait_for`` can
    swallow a cancellation that arrives just as the event is set, and the task never stops.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
    event.clear()
