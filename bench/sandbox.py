"""Benchmark: simple authenticated GETs per second the in-process sandbox sustains.

Drives ``GET /3/me`` with a valid access token through the sandbox's own in-process transport
(httpx on the ASGI app) for a few seconds, and in the same run a naive baseline: a bare
Starlette app answering a constant JSON on the same kind of transport. The two alternate in
short slices and the medians are compared, so load from elsewhere on the machine hits both. Reports requests per
second, the ratio to the 2,000/s target (so the sandbox is never the bottleneck of the
remediator's own benchmarks) and the ratio to the baseline (what the sandbox's work costs).

The sandbox's rate limit (25 per 5 s per tenant) would throttle one tenant, so the state's
``rate_limit`` is raised far out of reach: the window is still kept and checked per request.

Run: ``.venv/bin/python -m bench.sandbox [--seconds 3] [--workers 8]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from remediator.sandbox import Sandbox
from remediator.sandbox.state import RateLimit, load_scenario

TARGET = 2000.0  # simple GETs per second, in-process


def _sandbox() -> Sandbox:
    state = load_scenario("healthy")
    out_of_reach = RateLimit(requests=1_000_000_000, window_seconds=5.0)
    return Sandbox(state.model_copy(update={"rate_limit": out_of_reach, "request_log_size": 1000}))


async def _access_token(http: httpx.AsyncClient, sandbox: Sandbox) -> str:
    client, grant = sandbox.world.state.clients[0], sandbox.world.state.grants[0]
    answer = await http.post(
        "/oauth-v1/token",
        data={"grant_type": "refresh_token", "refresh_token": grant.refresh_token},
        auth=(client.client_id, client.client_secret),
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def _baseline_app() -> Starlette:
    async def me(_request: Request) -> Response:
        return JSONResponse({"MeInformation": {"Id": "u1", "Name": "Anna Ek"}})

    return Starlette(routes=[Route("/3/me", me)])


async def _hammer(http: httpx.AsyncClient, seconds: float, workers: int) -> float:
    """Requests per second answered 200, ``workers`` at a time, after a short warm-up."""
    for _ in range(50):
        (await http.get("/3/me")).raise_for_status()
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            answer = await http.get("/3/me")
            if answer.status_code != 200:
                raise RuntimeError(f"unexpected {answer.status_code}: {answer.text[:200]}")
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return done / (time.perf_counter() - started)


async def _measure(seconds: float, workers: int, rounds: int) -> tuple[float, float]:
    """Medians over ``rounds`` alternating slices, so a noisy neighbour hits both alike."""
    sandbox = _sandbox()
    slice_seconds = seconds / rounds
    measured: list[float] = []
    baseline: list[float] = []
    base_transport = httpx.ASGITransport(app=_baseline_app())
    async with (
        httpx.AsyncClient(transport=sandbox.transport(), base_url="http://sandbox") as http,
        httpx.AsyncClient(transport=base_transport, base_url="http://base") as base,
    ):
        http.headers["Authorization"] = f"Bearer {await _access_token(http, sandbox)}"
        for _ in range(rounds):
            measured.append(await _hammer(http, slice_seconds, workers))
            baseline.append(await _hammer(base, slice_seconds, workers))
    return statistics.median(measured), statistics.median(baseline)


def run(seconds: float = 3.0, workers: int = 8, rounds: int = 3) -> dict[str, float]:
    sandbox_rps, baseline_rps = asyncio.run(_measure(seconds, workers, rounds))
    result = {
        "sandbox_rps": sandbox_rps,
        "baseline_rps": baseline_rps,
        "ratio_to_target": sandbox_rps / TARGET,
        "ratio_to_baseline": sandbox_rps / baseline_rps,
    }
    print(
        f"sandbox GET /3/me in-process: {sandbox_rps:,.0f}/s = "
        f"{result['ratio_to_target']:.2f} of the {TARGET:,.0f}/s target (must be >= 1); "
        f"bare Starlette baseline on the same transport: {baseline_rps:,.0f}/s; "
        f"sandbox/baseline {result['ratio_to_baseline']:.2f} "
        f"(medians of {rounds} alternating slices, {seconds:.0f} s per app, {workers} concurrent)"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    run(args.seconds, args.workers)


if __name__ == "__main__":
    main()
