"""Benchmark: 1,000 Z-report failures across 100 restaurants, fixed against the sandbox with
50 ms added latency and Fortnox's real rate limit (25 requests per 5 s per tenant, enforced by
both the connector and the sandbox).

Each restaurant (a Fortnox tenant) has one broken thing — series F not manual, account 3001
inactive, series F missing, or nothing (the export met an outage that is over) — and ten days of
Z-reports that failed because of it. All failures are handed to the engine at once (``apply``);
runs for one company take turns, companies go on at the same time.

Reported, from one run:

- **wall time as a ratio of the lower bound** that the rate limit and the latency impose on
  the minimal request plan (target <= 1.5). The minimal plan keeps only each kind's data
  dependencies (docs/playbooks.md, "The minimal plan"): per company its financial year once,
  the read that finds its defect and the write that fixes it once, one duplicate search over
  the burst's days (docs/duplicates.md, "One search for a burst"), then per failure the
  voucher POST. A company's requests are sequential: each depends on
  the answer to the one before, and two writes for one company never race (they would both
  create series F). With latency L, R = 25 requests per window W = 5 s, request k of a company
  cannot start before ``max(start[k-1] + L, start[k-R] + W)``, so N requests take at least
  ``start[N-1] + L``. The lower bound is the largest over the companies.
- **the engine's budget**: the playbooks' ``budget.apply`` summed over the runs (the ceiling
  tests/e2e/test_budgets.py guards), and the time the same window and latency give it.
- **429s** the sandbox answered (target 0), and **requests made vs the minimal plan** (target
  <= 1.1).
- **CPU of this process per failure** (user + system from its own accounting, during the
  runs; with ``--served`` the sandbox's CPU is its own process's, not counted, and printed
  apart from /proc: on a machine with few cores it is often what the wall time waits for),
  and **the wall time over that CPU**: near 1 (or below, when the database's threads ran in
  C beside the event loop), the run waited for its own CPU, not for Fortnox's limits, and
  1.5 × the lower bound asks the whole process to fit in the CPU per failure printed beside.
- **the HTTP stack's floor** (with ``--served``): the engine's own requests, as the sandbox
  logged them, sent again by a bare client on the connector's HTTP stack (httpx over its
  transport, ``remediator/fortnox/_network.py``) to a fresh sandbox process in the same state (``bench/_floor.py``): the
  wall time and CPU that the HTTP stack and this machine charge for the plan alone, and the
  engine's figures as ratios of them (its own overhead). Where the floor is above the lower
  bound, no client on this HTTP stack reaches the bound on this machine.
- **a naive baseline in the same run**: the first ``--naive-tenants`` companies' failures (4 by
  default, one of each defect) sent through the engine one at a time on a fresh sandbox; its
  time per failure times the number of failures is the naive client's time for the whole set
  (it is sequential, so its time grows with the failures), printed as a ratio.

The engine (and the floor) run on uvloop's event loop, as in the service (``bench/_loop.py``).

Run: ``.venv/bin/python -m bench.remediation [--tenants 100] [--per-tenant 10] [--latency 0.05]
[--served] [--naive-tenants 4]``.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import httpx
from cryptography.fernet import Fernet
from pydantic import SecretStr

from bench._floor import Floor, companies, replay
from bench._loop import run_async
from bench._loopback import free_port
from remediator import collector
from remediator.failure import ExportFailure
from remediator.report import Outcome, Report
from remediator.runtime import Runtime, open_runtime
from remediator.sandbox import Sandbox, SandboxState, load_scenario
from remediator.settings import Settings
from remediator.storage import Connection

RATE, WINDOW = 25, 5.0
FIRST_DAY = date(2026, 3, 1)


# The minimal plan's requests, from the data they depend on (docs/playbooks.md):
YEAR = "financial year of the dates"  # once per company: every failure's date is in one year
SEARCH = "duplicate search over the burst's days"  # once per burst, under the company's lease
PER_FAILURE = ("voucher POST",)  # never shared


@dataclass(frozen=True)
class Defect:
    """What is broken in a company, the error Fortnox gave, and what finding and fixing it
    needs once per company (beside the year and each failure's own two requests)."""

    kind: str
    error: dict[str, Any]
    fix: tuple[str, ...]


DEFECTS = [
    Defect(
        "series_not_manual",
        {"message": "Fel vid export: Verifikationsserien är inte manuell (F)", "code": 2001940},
        ("series F read", "series F update (Manual)"),
    ),
    Defect(
        "account_inactive",
        {"message": 'Fel vid export: Konto "3001" är inte aktivt', "code": 2000550},
        ("the voucher's accounts read (one chart page)", "account 3001 update (Active)"),
    ),
    Defect(
        "series_missing",
        {"message": "Fel vid export: Ogiltig verifikationsserie angiven", "code": 2001939},
        ("series F read (404)", "series F POST"),
    ),
    # Fortnox is back: the year lookup's answer shows it, no further check is needed
    Defect(
        "fortnox_unavailable",
        {"message": "Fel vid export: System exception", "code": 1000003, "http_status": 500},
        (),
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


def minimal_plan(index: int, per_tenant: int) -> list[str]:
    """The requests company ``index`` needs at least for ``per_tenant`` failures."""
    if per_tenant <= 0:
        return []
    return [YEAR, *defect_of(index).fix, SEARCH, *(PER_FAILURE * per_tenant)]


def minimal_requests(index: int, per_tenant: int) -> int:
    return len(minimal_plan(index, per_tenant))


def budget_requests(runtime: Runtime, index: int, per_tenant: int) -> int:
    """The engine's ceiling: the playbook's ``budget.apply`` for each of the company's runs."""
    playbook = runtime.catalogue.playbook(defect_of(index).kind)
    if playbook is None:  # pragma: no cover - every bench kind is shipped
        raise LookupError(defect_of(index).kind)
    return playbook.budget.apply * per_tenant


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

    def cpu(self) -> float | None:
        """The sandbox's own CPU seconds: not apart from this process's here."""
        return None

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
        # One client for the admin endpoints: ``httpx.get`` makes a client, and with it an SSL
        # context of about 50 ms of CPU, at every call.
        self._admin = httpx.Client(base_url=self.base, timeout=60)
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + 120  # a loaded machine starts Python slowly
        while time.monotonic() < deadline:
            try:
                self._admin.get("/_sandbox/faults", timeout=1).raise_for_status()
            except httpx.HTTPError:
                time.sleep(0.1)
            else:
                return
        self.close()
        raise RuntimeError("the sandbox server did not start")

    def set_latency(self, seconds: float) -> None:
        self._admin.put("/_sandbox/faults", json={"latency": seconds}).raise_for_status()

    def requests(self) -> list[dict[str, Any]]:
        answer = self._admin.get("/_sandbox/requests")
        return list(answer.raise_for_status().json())

    def vouchers(self) -> list[dict[str, Any]]:
        tenants = self._admin.get("/_sandbox/state").raise_for_status().json()
        return [v for t in tenants["tenants"].values() for v in t["vouchers"].get("2", [])]

    def cpu(self) -> float | None:
        """User + system CPU seconds of the sandbox's process (Linux /proc; None elsewhere)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self._admin.close()
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


class Ran(NamedTuple):
    """What the bench keeps of a run: its outcome and, when not fixed, why. The report itself
    is let go as the service lets it go once stored; keeping 10,000 of them alive made every
    full collection of the garbage collector traverse them (a cost only the bench had)."""

    outcome: Outcome
    why: str | None


def _ran(report: Report) -> Ran:
    """What the bench keeps of ``report``: its outcome and, unless fixed, the first failing
    step's reason (else the summary)."""
    if report.outcome is Outcome.FIXED:
        return Ran(report.outcome, None)
    step = next((s for s in report.steps if s.reason), None)
    why = f"{step.action}: {step.reason}" if step else report.summary.en
    return Ran(report.outcome, why[:160])


@dataclass
class Result:
    seconds: float
    cpu_seconds: float
    ran: list[Ran]
    requests: list[dict[str, Any]]
    vouchers: list[dict[str, Any]]
    budgets: list[int]  # per company: the engine's ceiling
    sandbox_cpu_seconds: float | None = None  # the served sandbox's, during the runs
    loop_cpu_seconds: float = 0.0  # of ``cpu_seconds``: the event loop's thread
    failures: list[ExportFailure] = field(default_factory=list)

    def count(self, status: int) -> int:
        return sum(1 for r in self.requests if r["status"] == status)

    def api_requests(self) -> Counter[str]:
        return Counter(r["method"] for r in self.requests if r["path"].startswith("/3/"))

    def token_calls(self) -> int:
        return sum(1 for r in self.requests if r["path"] == "/oauth-v1/token")


def _own_cpu() -> float:
    """User + system CPU seconds of this process (its own accounting, no children)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _failures(runtime: Runtime, state: SandboxState, per_tenant: int) -> list[ExportFailure]:
    """The connections stored and the failures made (set-up: not timed, not in the CPU)."""
    stored = connections(runtime, state)
    return [
        failure(state, connection, index, FIRST_DAY + timedelta(days=day))
        for day in range(per_tenant)
        for index, connection in enumerate(stored)
    ]


async def _fix_all(
    runtime: Runtime, failures: list[ExportFailure], *, one_at_a_time: bool
) -> list[Ran]:
    async def fix(failure: ExportFailure) -> Ran:
        return _ran(await runtime.engine.run(failure, mode="apply"))

    if one_at_a_time:  # the naive client: the next failure once the last is done
        return [await fix(f) for f in failures]
    return list(await asyncio.gather(*(fix(f) for f in failures)))


async def _remediate(
    tenants: int,
    per_tenant: int,
    latency: float,
    workdir: Path,
    *,
    served: bool,
    one_at_a_time: bool = False,
) -> Result:
    state = bench_state(tenants)
    target: Target = (Served if served else InProcess)(state, workdir)
    try:
        runtime = open_runtime(bench_settings(state, target, workdir), transport=target.transport)
        try:
            target.set_latency(latency)
            failures = _failures(runtime, state, per_tenant)
            sandbox_cpu = target.cpu()
            cpu, loop, started = _own_cpu(), time.thread_time(), time.monotonic()
            ran = await _fix_all(runtime, failures, one_at_a_time=one_at_a_time)
            seconds, cpu = time.monotonic() - started, _own_cpu() - cpu
            loop = time.thread_time() - loop
            after = target.cpu()
            sandbox_cpu = None if sandbox_cpu is None or after is None else after - sandbox_cpu
            budgets = [budget_requests(runtime, i, per_tenant) for i in range(tenants)]
        finally:
            await runtime.aclose()
        requests, vouchers = target.requests(), target.vouchers()
    finally:
        target.close()
    return Result(seconds, cpu, ran, requests, vouchers, budgets, sandbox_cpu, loop, failures)


def _why_not_fixed(ran: list[Ran]) -> Counter[str]:
    """The first failing step's reason of each run that was not fixed."""
    return Counter(run.why for run in ran if run.why is not None)


def _booked_once(result: Result) -> bool:
    keys = Counter(line for voucher in result.vouchers for line in voucher["Comments"].splitlines())
    return len(keys) == len(result.ran) and set(keys.values()) == {1}


def _naive_seconds(
    tenants: int, per_tenant: int, latency: float, *, served: bool, failures: int
) -> float:
    """The naive client's time for ``failures`` failures, from its time per failure on the
    first ``tenants`` companies (a fresh sandbox, one failure at a time)."""
    with tempfile.TemporaryDirectory() as tmp:
        sample = run_async(
            _remediate(tenants, per_tenant, latency, Path(tmp), served=served, one_at_a_time=True)
        )
    return sample.seconds / len(sample.ran) * failures


def _floor(tenants: int, latency: float, result: Result) -> Floor:
    """The engine's requests sent again by a bare client (the connector's HTTP stack) to a
    fresh sandbox process in the same state (bench/_floor.py)."""
    state = bench_state(tenants)
    grants = {f"rest-{i}": (g.tenant_id, g.refresh_token) for i, g in enumerate(state.grants)}
    plan = companies(result.requests, grants, result.failures)
    client = state.clients[0]
    with tempfile.TemporaryDirectory() as tmp:
        target = Served(state, Path(tmp))
        try:
            target.set_latency(latency)
            return run_async(replay(target.base, client.client_id, client.client_secret, plan))
        finally:
            target.close()


def run(
    tenants: int = 100,
    per_tenant: int = 10,
    latency: float = 0.05,
    *,
    served: bool = False,
    naive_tenants: int = 4,
) -> dict[str, float]:
    """One run; ``served``: the sandbox runs as its own process on loopback; ``naive_tenants``:
    how many companies the naive baseline samples (0: none). The garbage collector is paced as
    ``remediator serve`` paces it (``remediator.collector``)."""
    collector.pace()
    with tempfile.TemporaryDirectory() as tmp:
        result = run_async(_remediate(tenants, per_tenant, latency, Path(tmp), served=served))
    outcomes = Counter(r.outcome.value for r in result.ran)
    made = result.api_requests()
    total = sum(made.values())
    minimal = sum(minimal_requests(i, per_tenant) for i in range(tenants))
    lower_bound = max(
        bound_seconds(minimal_requests(i, per_tenant), latency) for i in range(tenants)
    )
    at_budget = max(bound_seconds(b, latency) for b in result.budgets)
    failures = len(result.ran)
    where = "a sandbox process on loopback" if served else "the sandbox in this process"
    print(
        f"{failures} failures across {tenants} tenants against {where}, "
        f"{latency * 1000:.0f} ms latency, {RATE} requests / {WINDOW:.0f} s per tenant"
    )
    print(f"outcomes: {dict(outcomes)}; every Z-report booked exactly once: {_booked_once(result)}")
    for reason, count in _why_not_fixed(result.ran).most_common(5):
        print(f"  not fixed ({count}): {reason}")
    print(
        f"wall time {result.seconds:.2f} s vs lower bound {lower_bound:.2f} s: "
        f"ratio {result.seconds / lower_bound:.2f} (target <= 1.5)"
    )
    print(f"429s: {result.count(429)} (target 0)")
    print(
        f"API requests made {total} ({dict(sorted(made.items()))}) vs the minimal plan "
        f"{minimal}: ratio {total / minimal:.3f} (target <= 1.1); token calls "
        f"{result.token_calls()}"
    )
    print(
        f"engine budget (the playbooks' budget.apply per run) {sum(result.budgets)} requests: "
        f"{at_budget:.2f} s under the same window and latency"
    )
    cpu_note = "" if served else " (the in-process sandbox's share included)"
    print(
        f"CPU of this process {result.cpu_seconds:.2f} s: "
        f"{result.cpu_seconds / failures * 1000:.2f} ms per failure{cpu_note} "
        f"(target <= 3; the event loop's thread {result.loop_cpu_seconds / failures * 1000:.2f}, "
        f"the database's threads the rest)"
    )
    allowed = 1.5 * lower_bound / failures * 1000
    print(
        f"wall time / CPU of this process: {result.seconds / result.cpu_seconds:.2f} (near 1 "
        "or below: the wall is this process's CPU, one event loop and the threads that take "
        "turns with it, not what Fortnox's limits impose; 1.5 x the lower bound leaves the "
        f"whole process {allowed:.2f} ms per failure)"
    )
    if result.sandbox_cpu_seconds is not None:
        print(
            f"CPU of the sandbox's process {result.sandbox_cpu_seconds:.2f} s "
            f"({result.sandbox_cpu_seconds / total * 1000:.2f} ms per request; not ours)"
        )
    figures = {
        "seconds": result.seconds,
        "lower_bound_seconds": lower_bound,
        "ratio": result.seconds / lower_bound,
        "responses_429": float(result.count(429)),
        "requests": float(total),
        "minimal_requests": float(minimal),
        "budget_requests": float(sum(result.budgets)),
        "budget_seconds": at_budget,
        "cpu_ms_per_failure": result.cpu_seconds / failures * 1000,
        "loop_cpu_ms_per_failure": result.loop_cpu_seconds / failures * 1000,
        "wall_per_cpu": result.seconds / result.cpu_seconds,
        "fixed": float(outcomes.get(Outcome.FIXED.value, 0)),
        "booked_once": float(_booked_once(result)),
    }
    if served:
        floor = _floor(tenants, latency, result)
        print(
            f"the HTTP stack's floor (the engine's {floor.requests} requests sent again by a bare "
            "client on the same HTTP stack to a fresh sandbox process; bench/_floor.py): "
            f"wall {floor.seconds:.2f} s "
            f"({floor.seconds / lower_bound:.2f} x the lower bound), CPU "
            f"{floor.cpu_seconds / failures * 1000:.2f} ms per failure; the engine's wall is "
            f"{result.seconds / floor.seconds:.2f} x it, its CPU "
            f"{result.cpu_seconds / floor.cpu_seconds:.2f} x"
        )
        figures["floor_seconds"] = floor.seconds
        figures["floor_cpu_ms_per_failure"] = floor.cpu_seconds / failures * 1000
    if naive_tenants > 0:
        naive = _naive_seconds(
            min(naive_tenants, tenants), per_tenant, latency, served=served, failures=failures
        )
        print(
            f"naive client (one failure at a time, timed on {min(naive_tenants, tenants)} "
            f"companies): {naive:.1f} s for the {failures} failures; the engine takes "
            f"{result.seconds / naive:.3f} of it"
        )
        figures["naive_seconds"] = naive
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--per-tenant", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument(
        "--served", action="store_true", help="run the sandbox as its own process on loopback"
    )
    parser.add_argument(
        "--naive-tenants",
        type=int,
        default=4,
        help="companies the naive one-at-a-time baseline is timed on (0: skip it)",
    )
    args = parser.parse_args()
    run(
        args.tenants,
        args.per_tenant,
        args.latency,
        served=args.served,
        naive_tenants=args.naive_tenants,
    )


if __name__ == "__main__":
    main()
