"""Benchmark: the signed intake on loopback against a real ``remediator serve`` (uvicorn).

Clients POST signed failures (distinct event ids) for ``seconds`` with ``concurrency`` requests
in flight; the service runs without workers so that only intake is measured. Reports failures
accepted and persisted per second (every 202 is checked against the database afterwards) as a
ratio of the 500/s target, and p50/p99 latency against the 50 ms target.

Run: ``.venv/bin/python -m bench.intake [--seconds 10] [--concurrency 8]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import sqlalchemy as sa
from cryptography.fernet import Fernet

from bench._loopback import free_port
from remediator import signing

SECRET, TOKEN = "bench-intake-secret", "bench-api-token"
TARGET_RATE, TARGET_P99 = 500.0, 0.050
CONNECTION = "bench-restaurant"



def _serve(port: int, database: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REMEDIATOR_")} | {
        "REMEDIATOR_DATABASE_URL": database,
        "REMEDIATOR_SECRET_KEY": Fernet.generate_key().decode(),
        "REMEDIATOR_INTAKE_SECRET": SECRET,
        "REMEDIATOR_API_TOKEN": TOKEN,
        "REMEDIATOR_WORKER_CONCURRENCY": "0",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "remediator", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            time.sleep(0.05)
        else:
            return process
    process.kill()
    raise RuntimeError("the service did not start")


def _failure(n: int) -> bytes:
    body = {
        "event_id": f"bench-{n}",
        "restaurant": {"id": "r1", "name": "Bistro Bench"},
        "connection_id": CONNECTION,
        "export": {"kind": "z_report", "id": f"z-{n}", "date": "2026-03-02"},
        "error": {"message": 'Fel vid export: Konto "3001" är inte aktivt', "code": 2000550},
    }
    return json.dumps(body).encode()


async def _client(
    http: httpx.AsyncClient, counter: list[int], stop_at: float, latencies: list[float]
) -> int:
    accepted = 0
    while time.monotonic() < stop_at:
        counter[0] += 1
        body = _failure(counter[0])
        headers = {signing.HEADER: signing.sign(body, SECRET), "Content-Type": "application/json"}
        started = time.perf_counter()
        answer = await http.post("/v1/failures", content=body, headers=headers)
        latencies.append(time.perf_counter() - started)
        accepted += answer.status_code == 202
    return accepted


async def _load(base: str, seconds: float, concurrency: int) -> tuple[int, list[float], float]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10) as http:
        answer = await http.put(
            f"/v1/connections/{CONNECTION}",
            json={"label": "Bench"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        answer.raise_for_status()
        latencies: list[float] = []
        counter = [0]
        started = time.monotonic()
        stop_at = started + seconds
        done = await asyncio.gather(
            *(_client(http, counter, stop_at, latencies) for _ in range(concurrency))
        )
        return sum(done), latencies, time.monotonic() - started


def _persisted(database: str) -> int:
    engine = sa.create_engine(database)
    with engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM runs WHERE origin = 'service'"))
        value = int(count.scalar_one())
    engine.dispose()
    return value


def run(seconds: float = 10.0, concurrency: int = 8) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        database = f"sqlite:///{Path(tmp) / 'intake.db'}"
        port = free_port()
        process = _serve(port, database)
        try:
            accepted, latencies, elapsed = asyncio.run(
                _load(f"http://127.0.0.1:{port}", seconds, concurrency)
            )
        finally:
            process.terminate()
            process.wait(timeout=10)
        persisted = _persisted(database)
    cuts = statistics.quantiles(latencies, n=100)
    rate = persisted / elapsed
    result = {
        "accepted": float(accepted),
        "persisted": float(persisted),
        "per_second": rate,
        "rate_ratio": rate / TARGET_RATE,
        "p50_ms": cuts[49] * 1000,
        "p99_ms": cuts[98] * 1000,
        "p99_ratio": cuts[98] / TARGET_P99,
    }
    print(
        f"{accepted} accepted (202), {persisted} persisted in {elapsed:.1f} s with "
        f"{concurrency} in flight: {rate:.0f}/s = {result['rate_ratio']:.2f} of the 500/s "
        f"target; latency p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms "
        f"= {result['p99_ratio']:.2f} of the 50 ms target"
    )
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=8)
    arguments = parser.parse_args()
    run(arguments.seconds, arguments.concurrency)
