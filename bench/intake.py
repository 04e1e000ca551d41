"""Benchmark: the signed intake on loopback against a real ``remediator serve`` (uvicorn).

Clients POST signed failures (distinct event ids) for ``seconds`` with ``concurrency`` requests
in flight; the service runs without workers so that only intake is measured. Reports failures
accepted and persisted per second (every 202 is checked against the database afterwards) as a
ratio of the 500/s target, and p50/p99 latency against the 50 ms target.

Run: ``.venv/bin/python -m bench.intake [--seconds 10] [--concurrency 8]``

**Several instances** (``--instances N [--database URL]``): N services on one database (a fresh
schema of its own on the PostgreSQL server of ``URL``), the clients spread over them; then the
same load on N processes of a bare endpoint that only answers 202 on the same server
(``bench._bare``). The figure is the ratio of the services' accepted-and-durable rate to the
bare endpoint's answered rate, and their p99s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import sqlalchemy as sa
from cryptography.fernet import Fernet

from bench._instances import (
    cpu_seconds,
    fresh_database,
    machine,
    postgres_cpu_seconds,
    wait_healthy,
)
from bench._loop import run_async
from bench._loopback import free_port, load_clients
from remediator import signing

SECRET, TOKEN = "bench-intake-secret", "bench-api-token"
TARGET_RATE, TARGET_P99 = 500.0, 0.050
CONNECTION = "bench-restaurant"


def _serve(port: int, database: str, key: str, *, bare: bool = False) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REMEDIATOR_")} | {
        "REMEDIATOR_DATABASE_URL": database,
        "REMEDIATOR_SECRET_KEY": key,
        "REMEDIATOR_INTAKE_SECRET": SECRET,
        "REMEDIATOR_API_TOKEN": TOKEN,
        "REMEDIATOR_WORKER_CONCURRENCY": "0",
        "REMEDIATOR_SCHEDULE_ENABLED": "false",
    }
    command = ["-m", "bench._bare", str(port)] if bare else ["-m", "remediator", "serve"]
    if not bare:
        command += ["--port", str(port)]
    process = subprocess.Popen(
        [sys.executable, *command],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Ready when it answers /healthz, not when its port takes a connection: ``serve``
        # binds before it loads its playbooks and opens the database, and that start (a second
        # or two of CPU) would otherwise be measured as intake.
        wait_healthy(f"http://127.0.0.1:{port}", timeout=20)
    except RuntimeError:
        process.kill()
        raise RuntimeError("the service did not start") from None
    return process


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


async def _load(
    bases: list[str], seconds: float, concurrency: int
) -> tuple[int, list[float], float]:
    """``concurrency`` clients, spread over ``bases``, for ``seconds``."""
    clients = load_clients(bases, concurrency, timeout=10)
    try:
        answer = await clients[0].put(
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
            *(_client(client, counter, stop_at, latencies) for client in clients)
        )
        return sum(done), latencies, time.monotonic() - started
    finally:
        for client in clients:
            await client.aclose()


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
        return _measure(1, database, seconds, concurrency)


def _measure(
    instances: int, database: str, seconds: float, concurrency: int, *, bare: bool = False
) -> dict[str, float]:
    key = Fernet.generate_key().decode()
    ports = [free_port() for _ in range(instances)]
    processes = [_serve(port, database, key, bare=bare) for port in ports]
    try:
        before = _cpu_now(processes)
        accepted, latencies, elapsed = run_async(
            _load([f"http://127.0.0.1:{port}" for port in ports], seconds, concurrency)
        )
        used = {k: v - before[k] for k, v in _cpu_now(processes).items()}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)
    persisted = accepted if bare else _persisted(database)
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
    what = "bare 202 endpoint" if bare else "service"
    per = {name: value / max(accepted, 1) * 1000 for name, value in used.items()}
    result |= {f"{name}_cpu_ms": value for name, value in per.items()}
    cpu = ", ".join(f"{name} {value:.2f}" for name, value in per.items())
    print(
        f"{instances} {what} process(es): {accepted} accepted (202), {persisted} persisted in "
        f"{elapsed:.1f} s with {concurrency} in flight: {rate:.0f}/s = "
        f"{result['rate_ratio']:.2f} of the 500/s target; latency p50 {result['p50_ms']:.1f} "
        f"ms, p99 {result['p99_ms']:.1f} ms = {result['p99_ratio']:.2f} of the 50 ms target; "
        f"CPU ms per request: {cpu}; {machine()}"
    )
    return result


def _cpu_now(processes: list[subprocess.Popen[bytes]]) -> dict[str, float]:
    """CPU seconds so far of the servers, this process (the clients) and PostgreSQL (when it
    runs on this machine)."""
    used = {
        "servers": sum(cpu_seconds(p.pid) for p in processes),
        "clients": time.process_time(),
    }
    postgres = postgres_cpu_seconds()
    if postgres is not None:
        used["postgres"] = postgres
    return used


def run_instances(
    instances: int, database: str | None, seconds: float = 10.0, concurrency: int = 16
) -> dict[str, float]:
    """The services on one database, then the bare endpoint, under the same load."""
    with tempfile.TemporaryDirectory() as tmp, fresh_database(database, Path(tmp)) as url:
        service = _measure(instances, url, seconds, concurrency)
    bare = _measure(instances, "", seconds, concurrency, bare=True)
    ratio = service["per_second"] / bare["per_second"]
    print(
        f"services / bare endpoint: {ratio:.2f} of the rate (target >= 0.5); p99 "
        f"{service['p99_ms']:.1f} ms vs {bare['p99_ms']:.1f} ms; {machine()}"
    )
    return service | {"bare_per_second": bare["per_second"], "ratio": ratio}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--instances", type=int, help="Services on one database (see above).")
    parser.add_argument("--database", help="postgresql://… for --instances (default: SQLite).")
    arguments = parser.parse_args()
    if arguments.instances:
        run_instances(
            arguments.instances, arguments.database, arguments.seconds, arguments.concurrency
        )
    else:
        run(arguments.seconds, arguments.concurrency)
