"""Benchmark: 10 tenants at full speed against a local counting server, 15 s.

Reports per tenant the largest number of requests the server saw in any 5 s window (must never
exceed 25), the throughput as a ratio of the allowed 5 requests/s (target >= 0.9), and the number
of 429s (target 0). The server answers 429 exactly as Fortnox would, so a pacing bug shows up.
The ratio counts the burst of 25 that the window allows at the start; over long runs it tends to
25 / (5 s + margin + latency) per 5 s, about 0.97 on loopback. Workers stop at the deadline,
also one the limiter is holding back, so no request is sent after it and the ratio is at most 1.

Run: ``.venv/bin/python -m bench.ratelimit [--seconds 15] [--tenants 10]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import threading
import time
from bisect import bisect_left
from collections import defaultdict
from pathlib import Path

import uvicorn
from cryptography.fernet import Fernet
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench._loopback import free_port
from remediator.fortnox import FortnoxConnector, tenant_of
from remediator.runtime import open_store
from remediator.settings import Settings
from remediator.storage import Connection
from tests.fortnox.conftest import jwt

LIMIT, WINDOW = 25, 5.0


class CountingServer:
    """Counts arrivals per tenant and enforces Fortnox's window the way Fortnox does."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.rejected: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()
        self.app = Starlette(routes=[Route("/3/me", self.me)])

    async def me(self, request: Request) -> Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        tenant = tenant_of(token) or "?"
        now = time.monotonic()
        with self.lock:
            seen = self.arrivals[tenant]
            recent = len(seen) - bisect_left(seen, now - WINDOW)
            if recent >= LIMIT:
                self.rejected[tenant] += 1
                return Response(status_code=429)
            seen.append(now)
        return JSONResponse({"MeInformation": {"Id": "1", "Name": "bench"}})

    def max_in_window(self, tenant: str) -> int:
        seen = self.arrivals[tenant]
        return max((bisect_left(seen, t + WINDOW) - i for i, t in enumerate(seen)), default=0)


def _start(server: CountingServer, port: int) -> uvicorn.Server:
    config = uvicorn.Config(server.app, host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    threading.Thread(target=running.run, daemon=True).start()
    deadline = time.monotonic() + 10
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.05)
    return running


async def _drive(settings: Settings, tenants: int, seconds: float, workers: int) -> None:
    store = open_store(settings)
    for n in range(tenants):
        store.add(
            Connection(
                id=f"t{n}",
                label=f"tenant {n}",
                client_id="bench",
                tenant_id=str(100000 + n),
                access_token=SecretStr(jwt(str(100000 + n))),
                access_expires_at=time.time() + 7200,
            )
        )
    async with FortnoxConnector(settings, store) as connector:
        clients = [connector.client(store.get(f"t{n}"), read_only=True) for n in range(tenants)]

        async def worker(index: int) -> None:
            client = clients[index % tenants]
            while True:
                await client.me()

        # At the deadline every worker stops, also one the limiter holds back: a request
        # waiting for the window is never sent after the deadline.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(worker(i) for i in range(tenants * workers))), seconds
            )


def run(seconds: float = 15.0, tenants: int = 10, workers: int = 4) -> dict[str, float]:
    server = CountingServer()
    port = free_port()
    running = _start(server, port)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            fortnox_api_url=f"http://127.0.0.1:{port}/3",
            database_url=f"sqlite:///{Path(tmp) / 'bench.db'}",
            secret_key=SecretStr(Fernet.generate_key().decode()),
            retry_attempts=3,
        )
        asyncio.run(_drive(settings, tenants, seconds, workers))
    running.should_exit = True
    names = sorted(server.arrivals)
    elapsed = seconds
    allowed = LIMIT / WINDOW * seconds
    for name in names:
        print(
            f"tenant {name}: max in any 5 s window {server.max_in_window(name):2d}/25, "
            f"throughput {len(server.arrivals[name]) / allowed:.3f} of allowed, "
            f"429s {server.rejected[name]}"
        )
    result = {
        "max_in_any_window": float(max(server.max_in_window(n) for n in names)),
        "min_throughput_ratio": min(len(server.arrivals[n]) / allowed for n in names),
        "total_429": float(sum(server.rejected.values())),
        "seconds": elapsed,
    }
    print(
        f"worst window {result['max_in_any_window']:.0f}/25 (must be <= 25), "
        f"lowest throughput ratio {result['min_throughput_ratio']:.3f} (target >= 0.9), "
        f"429s {result['total_429']:.0f} (target 0), over {elapsed:.1f} s"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--tenants", type=int, default=10)
    args = parser.parse_args()
    run(args.seconds, args.tenants)


if __name__ == "__main__":
    main()
