"""Benchmark: 1,000 Z-report failures across 100 restaurants, fixed against the sandbox with
50 ms added latency and Fortnox's real rate limit (25 requests per 5 s per tenant, enforced by
both the connector and the sandbox).

Each restaurant (a Fortnox tenant) has one broken thing — series F not manual, account 3001
inactive, series F missing, or nothing (the export met an outage that is over) — and ten days of
Z-reports that failed because of it. All failures are handed to the engine at once (``apply``);
runs for one company take turns, companies go on at the same time.

Reported, from one run:

- **wall time as a ratio of the bound** that the rate limit and the latency impose (target
  <= 1.5). A company's requests are sequential: each request of a run depends on the answer to
  the one before, and two runs for one company never race (they would both create series F).
  With latency L, R = 25 requests per window W = 5 s, request k of a company cannot start
  before ``max(start[k-1] + L, start[k-R] + W)``, so N requests take at least
  ``start[N-1] + L``. The bound is the largest over the companies, N being the documented
  minimum number of requests for that company's failures.
- **429s** the sandbox answered (target 0).
- **requests made vs the documented minimum** (docs/playbooks.md, tests/e2e/test_budgets.py):
  the first fix of a company costs its playbook's apply figure (5: year lookup, one read, one
  write, voucher search, voucher POST; 4 for an outage: availability check, year lookup,
  search, POST); every later failure of that company finds the fix made and costs 4 (three
  reads, the voucher POST).

Run: ``.venv/bin/python -m bench.remediation [--tenants 100] [--per-tenant 10] [--latency 0.05]``.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from pydantic import SecretStr

from bench._loopback import free_port
from remediator.failure import ExportFailure
from remediator.report import Outcome, Report
from remediator.runtime import Runtime, open_runtime
from remediator.sandbox import Sandbox, SandboxState, load_scenario
from remediator.settings import Settings
from remediator.storage import Connection

RATE, WINDOW = 25, 5.0
FIRST_DAY = date(2026, 3, 1)


@dataclass(frozen=True)
class Defect:
    """What is broken in a company, the error Fortnox gave, and what fixing costs."""

    kind: str
    error: dict[str, Any]
    first_fix: int  # requests of the first failure's fix
    later: int = 4  # requests of each later failure: the fix is already made


DEFECTS = [
    Defect(
        "series_not_manual",
        {"message": "Fel vid export: Verifikationsserien är inte manuell (F)", "code": 2001940},
        5,
    ),
    Defect(
        "account_inactive",
        {"message": 'Fel vid export: Konto "3001" är inte aktivt', "code": 2000550},
        5,
    ),
    Defect(
        "series_missing",
        {"message": "Fel vid export: Ogiltig verifikationsserie angiven", "code": 2001939},
        5,
    ),
    Defect(
        "fortnox_unavailable",
        {"message": "Fel vid export: System exception", "code": 1000003, "http_status": 500},
        4,
    ),
]


def defect_of(index: int) -> Defect:
    return DEFECTS[index % len(DEFECTS)]


def _break(tenant: dict[str, Any], defect: Defect) -> None:
    series = tenant["series"]["2"]
    if defect.kind == "series_not_manual":
        next(s for s in series if s["code"] == "F")["manual"] = False
    elif defect.kind == "series_missing":
        tenant["series"]["2"] = [s for s in series if s["code"] != "F"]
    elif defect.kind == "account_inactive":
        tenant["charts"]["2"]["inactive"] = [3001]


def bench_state(tenants: int) -> SandboxState:
    """``tenants`` companies made from the healthy one, each with its defect and a grant."""
    base = load_scenario("healthy").model_dump(mode="json", by_alias=True)
    template, grant = base["tenants"][0], base["grants"][0]
    base["tenants"], base["grants"] = [], []
    for index in range(tenants):
        tenant = copy.deepcopy(template) | {"tenant_id": str(200_000 + index)}
        tenant["company"]["CompanyName"] = f"Restaurang {index} AB"
        _break(tenant, defect_of(index))
        base["tenants"].append(tenant)
        base["grants"].append(
            grant
            | {
                "name": f"g{index}",
                "tenant_id": tenant["tenant_id"],
                "refresh_token": f"rt-{index}",
            }
        )
    base["consent"] = None
    base["request_log_size"] = 100_000
    return SandboxState.model_validate(base)


def connections(runtime: Runtime, state: SandboxState) -> list[Connection]:
    return [
        runtime.store.add(
            Connection(
                id=f"rest-{index}",
                label=f"Restaurang {index}",
                client_id=grant.client_id,
                tenant_id=grant.tenant_id,
                refresh_token=SecretStr(grant.refresh_token),
            )
        )
        for index, grant in enumerate(state.grants)
    ]


def failure(state: SandboxState, connection: Connection, index: int, day: date) -> ExportFailure:
    voucher = copy.deepcopy(state.examples["z_report"]["voucher"])
    voucher |= {"TransactionDate": day.isoformat(), "Description": f"Z-rapport {day} {index}"}
    return ExportFailure.model_validate(
        {
            "event_id": f"bench-{index}-{day}",
            "restaurant": {"id": connection.id, "name": connection.label},
            "connection_id": connection.id,
            "export": {
                "kind": "z_report",
                "id": f"z-{day}",
                "date": day.isoformat(),
                "voucher_series": "F",
                "voucher": voucher,
            },
            "error": defect_of(index).error,
        }
    )


def minimum_requests(index: int, per_tenant: int) -> int:
    defect = defect_of(index)
    return defect.first_fix + (per_tenant - 1) * defect.later


def bound_seconds(requests: int, latency: float, rate: int = RATE, window: float = WINDOW) -> float:
    """The least time ``requests`` sequential requests of one tenant take (see the docstring)."""
    starts: list[float] = []
    for k in range(requests):
        after_previous = starts[k - 1] + latency if k else 0.0
        window_free = starts[k - rate] + window if k >= rate else 0.0
        starts.append(max(after_previous, window_free))
    return starts[-1] + latency if starts else 0.0


class InProcess:
    """The sandbox in this process, reached through its ASGI transport (shares the CPU)."""

    base = "http://sandbox"

    def __init__(self, state: SandboxState, _workdir: Path) -> None:
        self.sandbox = Sandbox(state)
        self.transport: httpx.AsyncBaseTransport | None = self.sandbox.transport()

    def set_latency(self, seconds: float) -> None:
        self.sandbox.set_faults(latency=seconds)

    def requests(self) -> list[dict[str, Any]]:
        return list(self.sandbox.requests)

    def vouchers(self) -> list[dict[str, Any]]:
        return [v for c in self.sandbox.world.companies.values() for v in c.vouchers.get(2, [])]

    def close(self) -> None:
        """Nothing to stop."""


class Served:
    """The sandbox as its own process (``remediator sandbox``) on loopback, as support runs it."""

    transport: httpx.AsyncBaseTransport | None = None

    def __init__(self, state: SandboxState, workdir: Path) -> None:
        path = workdir / "state.json"
        path.write_text(state.model_dump_json(by_alias=True), encoding="utf-8")
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "remediator", "sandbox", "--state", str(path)]
        self.process = subprocess.Popen([*command, "--port", str(port)], stdout=subprocess.DEVNULL)
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.base}/_sandbox/faults", timeout=1).raise_for_status()
            except httpx.HTTPError:
                time.sleep(0.1)
            else:
                return
        self.close()
        raise RuntimeError("the sandbox server did not start")

    def set_latency(self, seconds: float) -> None:
        httpx.put(f"{self.base}/_sandbox/faults", json={"latency": seconds}).raise_for_status()

    def requests(self) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.base}/_sandbox/requests", timeout=60)
        return list(answer.raise_for_status().json())

    def vouchers(self) -> list[dict[str, Any]]:
        tenants = httpx.get(f"{self.base}/_sandbox/state", timeout=60).raise_for_status().json()
        return [v for t in tenants["tenants"].values() for v in t["vouchers"].get("2", [])]

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)



Target = InProcess | Served


def bench_settings(state: SandboxState, target: Target, workdir: Path) -> Settings:
    client = state.clients[0]
    return Settings(
        fortnox_api_url=f"{target.base}/3",
        fortnox_oauth_url=f"{target.base}/oauth-v1",
        client_id=client.client_id,
        client_secret=SecretStr(client.client_secret),
        database_url=f"sqlite:///{workdir / 'bench.db'}",
        secret_key=SecretStr(Fernet.generate_key().decode()),
        key_file=workdir / "unused.key",
    )


@dataclass
class Result:
    seconds: float
    bound: float
    reports: list[Report]
    requests: list[dict[str, Any]]
    vouchers: list[dict[str, Any]]
    minimum: int

    @property
    def ratio(self) -> float:
        return self.seconds / self.bound

    def count(self, status: int) -> int:
        return sum(1 for r in self.requests if r["status"] == status)

    def api_requests(self) -> Counter[str]:
        return Counter(r["method"] for r in self.requests if r["path"].startswith("/3/"))

    def token_calls(self) -> int:
        return sum(1 for r in self.requests if r["path"] == "/oauth-v1/token")


async def _fix_all(runtime: Runtime, state: SandboxState, per_tenant: int) -> list[Report]:
    stored = connections(runtime, state)
    failures = [
        failure(state, connection, index, FIRST_DAY + timedelta(days=day))
        for day in range(per_tenant)
        for index, connection in enumerate(stored)
    ]
    return list(await asyncio.gather(*(runtime.engine.run(f, mode="apply") for f in failures)))


async def _remediate(
    tenants: int, per_tenant: int, latency: float, workdir: Path, *, served: bool
) -> Result:
    state = bench_state(tenants)
    target: Target = (Served if served else InProcess)(state, workdir)
    try:
        runtime = open_runtime(bench_settings(state, target, workdir), transport=target.transport)
        try:
            target.set_latency(latency)
            started = time.monotonic()
            reports = await _fix_all(runtime, state, per_tenant)
            seconds = time.monotonic() - started
        finally:
            await runtime.aclose()
        requests, vouchers = target.requests(), target.vouchers()
    finally:
        target.close()
    minimum = sum(minimum_requests(index, per_tenant) for index in range(tenants))
    bound = max(bound_seconds(minimum_requests(i, per_tenant), latency) for i in range(tenants))
    return Result(seconds, bound, reports, requests, vouchers, minimum)


def _booked_once(result: Result) -> bool:
    keys = Counter(line for voucher in result.vouchers for line in voucher["Comments"].splitlines())
    return len(keys) == len(result.reports) and set(keys.values()) == {1}


def run(
    tenants: int = 100, per_tenant: int = 10, latency: float = 0.05, *, served: bool = False
) -> dict[str, float]:
    """One run; ``served``: the sandbox runs as its own process on loopback."""
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(_remediate(tenants, per_tenant, latency, Path(tmp), served=served))
    outcomes = Counter(r.outcome.value for r in result.reports)
    made = result.api_requests()
    total = sum(made.values())
    where = "a sandbox process on loopback" if served else "the sandbox in this process"
    print(
        f"{len(result.reports)} failures across {tenants} tenants against {where}, "
        f"{latency * 1000:.0f} ms latency, {RATE} requests / {WINDOW:.0f} s per tenant"
    )
    print(f"outcomes: {dict(outcomes)}; every Z-report booked exactly once: {_booked_once(result)}")
    print(
        f"wall time {result.seconds:.2f} s, bound {result.bound:.2f} s: "
        f"ratio {result.ratio:.2f} (target <= 1.5)"
    )
    print(f"429s: {result.count(429)} (target 0)")
    print(
        f"API requests made {total} ({dict(sorted(made.items()))}) vs documented minimum "
        f"{result.minimum}: ratio {total / result.minimum:.3f}; token calls {result.token_calls()}"
    )
    return {
        "seconds": result.seconds,
        "bound_seconds": result.bound,
        "ratio": result.ratio,
        "responses_429": float(result.count(429)),
        "requests": float(total),
        "minimum_requests": float(result.minimum),
        "fixed": float(outcomes.get(Outcome.FIXED.value, 0)),
        "booked_once": float(_booked_once(result)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--per-tenant", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument(
        "--served", action="store_true", help="run the sandbox as its own process on loopback"
    )
    args = parser.parse_args()
    run(args.tenants, args.per_tenant, args.latency, served=args.served)


if __name__ == "__main__":
    main()
