"""Fault injection: latency, a share of 5xx answers per path, a 429 storm, a 503 burst,
dropped connections, and voucher writes whose answer never comes back.

A request waiting out its latency is let go as soon as the faults are set again, so a test can
hold calls inside Fortnox with a long latency for as long as it needs and then release them.

A dropped connection and a lost answer are responses that misbehave on purpose, so they work
the same in-process (the transport turns them into what httpx raises over a network) and over
TCP under uvicorn (the socket is closed mid-answer, or the answer never comes).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from remediator.sandbox import codes
from remediator.sandbox.state import Faults

GATEWAY_PAGE = "<html><head><title>503 Service Unavailable</title></head><body></body></html>"
LOST_ANSWER_SECONDS = 300.0  # how long a served lost answer keeps the client waiting at most
LATENCY_STEP_SECONDS = 0.05  # how often a request waiting out its latency looks for new faults


class Dropped(Exception):
    """The connection is dropped without a complete answer."""


class NeverAnswered(Exception):
    """The request was applied but its answer never comes back (a timeout for the client)."""


class DropConnection(Response):
    """Starts an answer, then breaks the connection: the client sees it closed mid-response."""

    def __init__(self, path: str) -> None:
        super().__init__(status_code=200)
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: ARG002 - ASGI signature
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise Dropped(self.path)


class LostAnswer(Response):
    """Never answers. Served over TCP it waits for the client to give up; in-process it raises
    ``NeverAnswered`` at once (an in-process client has no timeout to wait for)."""

    def __init__(self, path: str, *, served: bool) -> None:
        super().__init__(status_code=504)
        self.path, self.served = path, served

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: ARG002 - ASGI signature
        if not self.served:
            raise NeverAnswered(self.path)
        try:
            await asyncio.wait_for(_disconnected(receive), LOST_ANSWER_SECONDS)
        except TimeoutError:
            await send({"type": "http.response.start", "status": 504, "headers": []})
            raise Dropped(self.path) from None


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def error_answer(refusal: codes.Refusal) -> JSONResponse:
    return JSONResponse(refusal.body(), status_code=refusal.status)


async def injected(
    faults: Faults, path: str, *, in_burst: bool, in_force: Callable[[], bool]
) -> Response | None:
    """The fault answer for a request to ``/3{path}``, or ``None`` to answer normally.
    ``in_force()`` is false once ``faults`` were replaced: that ends the latency's wait."""
    if faults.latency:
        await wait_out(faults.latency, in_force)
    full = f"/3{path}"
    if share(faults.drop_rate, full):
        return DropConnection(full)
    if faults.storm_429:
        return Response(status_code=429)
    if in_burst:
        return Response(GATEWAY_PAGE, status_code=503, media_type="text/html")
    if share(faults.error_rate, full):
        return error_answer(codes.SYSTEM_EXCEPTION)
    return None


async def wait_out(latency: float, in_force: Callable[[], bool]) -> None:
    """Sleep ``latency`` seconds, or until ``in_force()`` turns false (the faults were set
    again), whichever comes first. Polled: the faults are set from any thread or event loop
    (a test's, the TestClient's), where an ``asyncio.Event`` could not be set safely."""
    end = time.monotonic() + latency
    while in_force() and (left := end - time.monotonic()) > 0:  # noqa: ASYNC110 - see above
        await asyncio.sleep(min(left, LATENCY_STEP_SECONDS))


def share(rates: dict[str, float], path: str) -> bool:
    """True for the configured share of requests whose path starts with a listed prefix (the
    longest matching prefix wins)."""
    matching = [prefix for prefix in rates if path.startswith(prefix)]
    if not matching:
        return False
    rate = rates[max(matching, key=len)]
    return rate > 0 and random.random() < rate  # noqa: S311 - fault injection, not security
