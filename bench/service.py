"""Benchmark: 1,000 failures across 100 restaurants through the service, end to end.

The same companies, defects and failures as ``bench.remediation`` (which drives the engine
directly), but each failure goes through the service: signed intake (in-process ASGI), the
stored queue, the workers (plan, then apply when the playbook and policy allow; later failures
of a kind join the first), against the in-process sandbox with 50 ms added latency and
Fortnox's rate limit. Reported, from one run:

- wall time from the first intake to the last run ``done``, as a ratio of the lower bound the
  rate limit and latency impose on the minimal request plan of ``bench.remediation`` (target
  <= 1.5); the service's leading run of a company also plans before it applies;
- 429s the sandbox answered (target 0); every Z-report booked once.

Run: ``.venv/bin/python -m bench.service [--tenants 100] [--per-tenant 10] [--latency 0.05]
[--served]``

**Several instances** (``--instances N[,M…] [--database URL]``): N ``remediator serve``
processes on one database (a fresh schema of its own on the PostgreSQL server of ``URL``;
SQLite without it), the sandbox served in its own process, the failures posted over HTTP to
the instances in turn, 50 in flight (one client each, ``bench/_loopback.py``). Reported for
each N: wall time from the first intake to the last run
``done``, CPU seconds of the instances, the sandbox, the PostgreSQL server (when it runs on
this machine) and this process (the client), vouchers booked more than once or not at all,
and 429s. Given several counts (``--instances 1,2``), each later one's scaling ratio (the
first's wall time over its own; target >= 1.6 for 2 against 1) is printed with the machine's
CPUs and load, e.g. ``.venv/bin/python -m bench.service --instances 1,2 --tenants 1000
--per-tenant 10 --database postgresql+psycopg://postgres@127.0.0.1:5432/test``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from pydantic import SecretStr

from bench._instances import (
    Instances,
    cpu_seconds,
    fresh_database,
    machine,
    postgres_cpu_seconds,
    wait_for,
)
from bench._loop import run_async
from bench._loopback import load_clients
from bench.remediation import (
    FIRST_DAY,
    InProcess,
    Served,
    Target,
    bench_settings,
    bench_state,
    bound_seconds,
    connections,
    failure,
    minimal_requests,
)
from remediator import collector, signing
from remediator.runtime import open_runtime
from remediator.sandbox import SandboxState
from remediator.service import Service, create_app
from remediator.settings import Settings
from remediator.storage import Connection
from remediator.storage.db import open_engine, runs

SECRET = "bench-intake-secret"  # noqa: S105 - a throwaway secret of the benchmark


def _settings(state: SandboxState, target: Target, workdir: Path, tenants: int) -> Settings:
    """The engine bench's settings, plus what the service needs."""
    return bench_settings(state, target, workdir).model_copy(
        update={
            "intake_secret": SecretStr(SECRET),
            "api_token": SecretStr("bench-token"),
            "worker_concurrency": tenants,
            "worker_poll_seconds": 0.05,
            "schedule_enabled": False,
        }
    )


def _done(service: Service) -> int:
    """Runs done: one count on the state index, 20 times a second. (``queue.page`` counts
    through the rows, whose later columns sit behind the stored reports: ~9 ms a look, a
    load on the service under test that is not the service's.)"""
    query = sa.select(sa.func.count()).select_from(runs).where(runs.c.state == "done")
    with service.queue._engine.connect() as conn:  # noqa: SLF001 - the bench's own look
        return int(conn.execute(query).scalar_one())


async def _drive(service: Service, app: object, bodies: list[bytes]) -> float:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        await service.start()
        try:
            started = time.monotonic()
            for chunk in range(0, len(bodies), 50):
                answers = await asyncio.gather(
                    *(
                        client.post(
                            "/v1/failures",
                            content=body,
                            headers={signing.HEADER: signing.sign(body, SECRET)},
                        )
                        for body in bodies[chunk : chunk + 50]
                    )
                )
                assert all(a.status_code == 202 for a in answers)  # noqa: S101 - a bench check
            print(f"intake of {len(bodies)} failures done after {time.monotonic() - started:.1f} s")
            while await asyncio.to_thread(_done, service) < len(bodies):  # noqa: ASYNC110 - the state is in the database
                await asyncio.sleep(0.05)
            return time.monotonic() - started
        finally:
            await service.stop()


def run(
    tenants: int = 100, per_tenant: int = 10, latency: float = 0.05, *, served: bool = False
) -> dict[str, float]:
    """One run; ``served``: the sandbox runs as its own process on loopback. The garbage
    collector is paced as ``remediator serve`` paces it (``remediator.collector``)."""
    collector.pace()
    state = bench_state(tenants)
    with tempfile.TemporaryDirectory() as tmp:
        target: Target = Served(state, Path(tmp)) if served else InProcess(state, Path(tmp))
        try:
            target.set_latency(latency)
            settings = _settings(state, target, Path(tmp), tenants)
            app = create_app(settings, transport=target.transport)
            service: Service = app.state.service
            stored = connections(service.runtime, state)
            bodies = [
                json.dumps(
                    failure(state, connection, index, FIRST_DAY + timedelta(days=day)).model_dump(
                        mode="json", by_alias=True
                    )
                ).encode()
                for day in range(per_tenant)
                for index, connection in enumerate(stored)
            ]
            seconds = run_async(_drive(service, app, bodies))
            outcomes = Counter(run.outcome for run in service.queue.page(limit=len(bodies))[0])
            vouchers, requests = target.vouchers(), target.requests()
        finally:
            target.close()
    bound = max(
        bound_seconds(minimal_requests(index, per_tenant), latency) for index in range(tenants)
    )
    keys = [(v.get("Comments") or "") + (v.get("Description") or "") for v in vouchers]
    rejected = sum(1 for r in requests if r["status"] == 429)
    result = {
        "seconds": seconds,
        "bound": bound,
        "ratio": seconds / bound,
        "429s": float(rejected),
        "vouchers": float(len(vouchers)),
        "booked_once": float(len(set(keys)) == len(keys) == len(bodies)),
    }
    where = "a sandbox process on loopback" if served else "the sandbox in this process"
    print(
        f"{len(bodies)} failures, {tenants} tenants, {where}, {latency * 1000:.0f} ms latency: "
        f"{seconds:.1f} s vs lower bound {bound:.1f} s = {result['ratio']:.2f} (target <= 1.5); "
        f"429s {rejected}; vouchers {len(vouchers)} (each once: {bool(result['booked_once'])}); "
        f"outcomes {dict(outcomes)}"
    )
    return result


def _bodies(state: SandboxState, stored: list[Connection], per_tenant: int) -> list[bytes]:
    return [
        json.dumps(
            failure(state, connection, index, FIRST_DAY + timedelta(days=day)).model_dump(
                mode="json", by_alias=True
            )
        ).encode()
        for day in range(per_tenant)
        for index, connection in enumerate(stored)
    ]


async def _post_all(bases: list[str], bodies: list[bytes]) -> None:
    """Every failure, signed, to the instances in turn, in order, 50 in flight: each client
    takes the next failure as soon as its last one is answered (no waiting for a whole group,
    which left the instances idle while the slowest answer of each group came)."""
    clients = load_clients(bases, 50, timeout=60)
    pending = iter(bodies)

    async def post(client: httpx.AsyncClient) -> None:
        for body in pending:
            answer = await client.post(
                "/v1/failures", content=body, headers={signing.HEADER: signing.sign(body, SECRET)}
            )
            assert answer.status_code == 202, answer.text  # noqa: S101 - a bench check

    try:
        await asyncio.gather(*(post(client) for client in clients))
    finally:
        for client in clients:
            await client.aclose()


def _register(settings: Settings, state: SandboxState, per_tenant: int) -> list[bytes]:
    """The connections, stored through the remediator (it creates the schema), and the bodies."""
    runtime = open_runtime(settings)
    try:
        return _bodies(state, connections(runtime, state), per_tenant)
    finally:
        run_async(runtime.aclose())
        runtime.store._db.dispose()  # noqa: SLF001 - the bench's own handle


def _serve_env(settings: Settings, concurrency: int) -> dict[str, str]:
    return {
        "fortnox_api_url": settings.fortnox_api_url,
        "fortnox_oauth_url": settings.fortnox_oauth_url,
        "client_id": settings.client_id,
        "client_secret": settings.client_secret.get_secret_value(),
        "database_url": settings.database_url,
        "secret_key": settings.secret_key.get_secret_value(),
        "intake_secret": SECRET,
        "api_token": "bench-token",
        "worker_concurrency": str(concurrency),
        "worker_poll_seconds": "0.2",
        "schedule_enabled": "false",
    }


def run_instances(
    instances: int,
    database: str | None,
    tenants: int = 1000,
    per_tenant: int = 10,
    latency: float = 0.05,
) -> dict[str, float]:
    """N ``remediator serve`` processes on one database against a served sandbox."""
    state = bench_state(tenants)
    with tempfile.TemporaryDirectory() as tmp, fresh_database(database, Path(tmp)) as url:
        target = Served(state, Path(tmp))
        try:
            target.set_latency(latency)
            settings = bench_settings(state, target, Path(tmp)).model_copy(
                update={"database_url": url}
            )
            bodies = _register(settings, state, per_tenant)
            served = Instances(instances, _serve_env(settings, tenants), log_dir=Path(tmp))
            try:
                before = _cpu_now(served, target)
                started = time.monotonic()
                run_async(_post_all(served.bases, bodies))
                intake = time.monotonic() - started
                wait_for(url, "SELECT count(*) FROM runs WHERE state = 'done'", len(bodies))
                seconds = time.monotonic() - started
                used = {k: v - before[k] for k, v in _cpu_now(served, target).items()}
            finally:
                served.stop()
            outcomes = _outcomes(url)
            vouchers, requests = target.vouchers(), target.requests()
        finally:
            target.close()
    keys = Counter((v.get("Comments") or "") + (v.get("Description") or "") for v in vouchers)
    result = {
        "instances": float(instances),
        "seconds": seconds,
        "intake_seconds": intake,
        **{f"{name}_cpu": value for name, value in used.items()},
        "fortnox_requests": float(len(requests)),
        "429s": float(sum(1 for r in requests if r["status"] == 429)),
        "vouchers": float(len(vouchers)),
        "duplicates": float(sum(n - 1 for n in keys.values())),
        "missing": float(len(bodies) - len(keys)),
    }
    kind = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    cpu = ", ".join(f"{name} {value:.1f} s" for name, value in used.items())
    print(
        f"{instances} instance(s) on {kind}, {len(bodies)} failures, {tenants} tenants, a sandbox "
        f"process, {latency * 1000:.0f} ms latency: {seconds:.1f} s (intake {intake:.1f} s); "
        f"CPU {cpu} (instances {used['instances'] / len(bodies) * 1000:.1f} ms per failure; "
        f"all of it {sum(used.values()) / seconds:.2f} of {os.cpu_count()} CPUs); Fortnox "
        f"requests {len(requests)} ({_by_kind(requests)}), 429s {result['429s']:.0f}; "
        f"vouchers {len(vouchers)}, "
        f"booked twice {result['duplicates']:.0f}, missing {result['missing']:.0f}; "
        f"outcomes {outcomes}; {machine()}"
    )
    return result


def _by_kind(requests: list[dict[str, Any]]) -> str:
    """The requests counted by method and resource (``GET vouchers 10``), most first."""
    kinds = Counter(f"{r['method']} {r['path'].split('?')[0].split('/')[2]}" for r in requests)
    return ", ".join(f"{kind} {count}" for kind, count in kinds.most_common())


def _cpu_now(served: Instances, target: Served) -> dict[str, float]:
    """CPU seconds used so far by the instances, the sandbox, PostgreSQL (when it runs on this
    machine) and this process."""
    used = {
        "instances": sum(cpu_seconds(p.pid) for p in served.processes),
        "sandbox": cpu_seconds(target.process.pid),
        "client": time.process_time(),
    }
    postgres = postgres_cpu_seconds()
    if postgres is not None:
        used["postgres"] = postgres
    return used


def run_scaling(counts: list[int], database: str | None, **options: Any) -> list[dict[str, float]]:
    """``run_instances`` for each count, then each later count's scaling over the first."""
    results = [run_instances(n, database, **options) for n in counts]
    first = results[0]
    for result in results[1:]:
        ratio = first["seconds"] / result["seconds"]
        print(
            f"scaling {result['instances']:.0f} instances vs {first['instances']:.0f}: "
            f"{ratio:.2f} (target >= 1.6 for 2 vs 1); the most the CPU each run used allows on "
            f"{os.cpu_count()} idle CPUs: {_cpu_floor(first) / _cpu_floor(result):.2f}; {machine()}"
        )
    return results


def _cpu_floor(result: dict[str, float]) -> float:
    """The least wall time a run's CPU allows on this machine were it idle: all of it
    (instances, sandbox, PostgreSQL, client) spread over every CPU, and no instance faster than
    its one core."""
    used = sum(v for k, v in result.items() if k.endswith("_cpu"))
    return max(used / (os.cpu_count() or 1), result["instances_cpu"] / result["instances"])


def _outcomes(url: str) -> dict[str, int]:
    """Runs per outcome, and for runs that failed, per first line of their summary."""
    engine = open_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(runs.c.outcome, runs.c.report)).all()
    finally:
        engine.dispose()
    found: Counter[str] = Counter()
    for outcome, report in rows:
        found[str(outcome)] += 1
        if outcome == "failed" and report:
            found[f"failed: {json.loads(report)['summary']['en'][:90]}"] += 1
    return dict(found)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--per-tenant", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--served", action="store_true", help="The sandbox as its own process.")
    parser.add_argument(
        "--instances", help="remediator serve processes, or counts to compare: 1,2 (see above)."
    )
    parser.add_argument("--database", help="postgresql://… for --instances (default: SQLite).")
    arguments = parser.parse_args()
    if arguments.instances:
        run_scaling(
            [int(n) for n in arguments.instances.split(",")],
            arguments.database,
            tenants=arguments.tenants,
            per_tenant=arguments.per_tenant,
            latency=arguments.latency,
        )
    else:
        run(arguments.tenants, arguments.per_tenant, arguments.latency, served=arguments.served)
