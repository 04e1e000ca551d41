"""Several instances on one PostgreSQL database, as real processes: two ``remediator serve``
and ``remediator fix --yes`` at once against one served sandbox, whose books and request log
are the oracle (every voucher once, no 429, one refresh per connection; each callback sent
once; a reconnect at one instance lets the run waiting at the other go on); then ``kill -9``
of one instance in the middle of a burst."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests import postgres
from tests.loopback import free_port, stop
from tests.service.conftest import AUTH, reconnect_link, wait_until
from tests.service.e2e import (
    HOLD_SECONDS,
    Stack,
    connect_all,
    make_stack,
    sandbox_state,
    send,
    settled,
    start,
)

pytestmark = pytest.mark.slow
BURST = {"account_inactive": 5, "series_missing": 3, "series_not_manual": 3}


@dataclass
class Instance:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def lines(self, message: str) -> list[dict[str, Any]]:
        text = self.log.read_text()
        found = [json.loads(line) for line in text.splitlines() if line[:1] == "{"]
        return [line for line in found if line.get("message") == message]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with postgres.fresh_schema(postgres.require()) as url, make_stack(tmp_path, url) as made:
        made.env["REMEDIATOR_WORKER_POLL_SECONDS"] = "0.1"
        yield made


def serve(stack: Stack, name: str) -> Instance:
    port = free_port()
    log = stack.log.with_name(f"{name}.log")
    process = start(["serve", "--log-level", "info"], stack.env, port, log)
    stack.processes.append(process)
    return Instance(process, f"http://127.0.0.1:{port}", log)


def burst(
    stack: Stack, instances: list[Instance], *, first_day: int = 0, days: int | None = None
) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """The burst's failures (of each scenario, its days from ``first_day``, at most ``days`` of
    them), each sent to the instances in turn; returns run ids and failures."""
    failures = {
        f"{name}-{day}": stack.failure(name, f"2026-02-{10 + day:02d}")
        for name, count in BURST.items()
        for day in range(first_day, count if days is None else min(count, first_day + days))
    }
    ids = []
    for n, failure in enumerate(failures.values()):
        with httpx.Client(base_url=instances[n % len(instances)].url, headers=AUTH) as http:
            ids.append(send(http, failure))
    return ids, failures


def booked(stack: Stack) -> dict[str, list[str]]:
    """Per scenario of the burst, the dates of the vouchers in the sandbox's books."""
    tenants = sandbox_state(stack)["tenants"]
    found = {}
    for name in BURST:
        tenant = tenants[stack.examples[name]["grant"]["tenant_id"]]
        found[name] = sorted(v["TransactionDate"] for y in tenant["vouchers"].values() for v in y)
    return found


def expected_books() -> dict[str, list[str]]:
    return {
        name: [f"2026-02-{10 + day:02d}" for day in range(days)] for name, days in BURST.items()
    }


def requests(stack: Stack) -> list[dict[str, Any]]:
    return list(httpx.get(f"{stack.sandbox_url}/_sandbox/requests", timeout=30).json())


def fix(stack: Stack, failure: dict[str, Any], path: Path) -> subprocess.Popen[bytes]:
    path.write_text(json.dumps(failure), encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, "-m", "remediator", "fix", str(path), "--yes", "--json"],
        env=stack.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def reconnect_at(instance: Instance, report: dict[str, Any]) -> None:
    """The restaurant follows the report's reconnect link at ``instance`` and consents."""
    opened = httpx.get(
        f"{instance.url}{reconnect_link(report)}", headers={"Accept": "application/json"}
    )
    assert opened.status_code == 200, opened.text
    consent = httpx.get(opened.json()["authorize_url"])
    callback = urlsplit(consent.headers["location"])
    assert httpx.get(f"{instance.url}{callback.path}?{callback.query}").status_code == 200


def test_two_instances_and_two_fixes_book_every_voucher_once(stack: Stack, tmp_path: Path) -> None:
    httpx.put(f"{stack.sandbox_url}/_sandbox/faults", json={"latency": 0.2}).raise_for_status()
    instances = [serve(stack, "a"), serve(stack, "b")]
    with httpx.Client(base_url=instances[0].url, headers=AUTH, timeout=10) as http:
        connect_all(http, stack)
    contested = stack.failure("series_not_manual", "2026-02-10")  # also in the burst
    fixes = [fix(stack, contested, tmp_path / f"fix-{n}.json") for n in range(2)]
    ids, _ = burst(stack, instances)
    with httpx.Client(base_url=instances[1].url, headers=AUTH, timeout=10) as http:
        waiting = send(http, stack.failure("connection_invalidated"))
        report = settled(http, waiting, ("awaiting_reconnect",), timeout=60)["report"]
    reconnect_at(instances[0], report)  # at the other instance
    with httpx.Client(base_url=instances[1].url, headers=AUTH, timeout=10) as http:
        final = [settled(http, run_id, ("done",), timeout=90) for run_id in [*ids, waiting]]
    for process in fixes:
        out, err = process.communicate(timeout=90)
        assert process.returncode == 0, err.decode()
        assert json.loads(out)["outcome"] in {"fixed", "nothing_to_fix"}
    assert {run["outcome"] for run in final} <= {"fixed", "nothing_to_fix"}
    assert booked(stack) == expected_books()  # every voucher once, none missing
    log = requests(stack)
    assert [r for r in log if r["status"] == 429] == []
    grants = Counter(
        r.get("tenant")
        for r in log
        if r.get("grant_type") == "refresh_token" and r["status"] == 200
    )
    used = {stack.examples[name]["grant"]["tenant_id"] for name in BURST}
    # One refresh per connection of the burst: its token lives an hour. (The reconnected one
    # refreshes to prove its new grant.)
    assert {tenant: n for tenant, n in grants.items() if tenant in used} == dict.fromkeys(used, 1)
    worked = [len(instance.lines("run settled")) for instance in instances]
    assert sum(worked) >= len(ids), worked
    sent = Counter(
        (json.loads(body)["run_id"], json.loads(body)["state"])
        for _, body in stack.receiver.received
    )
    assert {key for key, times in sent.items() if times > 1} == set()  # each callback once
    assert {run_id for run_id, state in sent if state == "done"} == {*ids, waiting}


def test_an_instance_that_starts_mid_burst_gets_its_share_of_the_companies(
    stack: Stack,
) -> None:
    """The first instance, alone, takes every company of a burst; once a second one is at
    work, the first hands a company back between two of its runs and the second works the
    rest of that company's runs. Every voucher once."""
    httpx.put(f"{stack.sandbox_url}/_sandbox/faults", json={"latency": 0.5}).raise_for_status()
    first = serve(stack, "first")
    with httpx.Client(base_url=first.url, headers=AUTH, timeout=10) as http:
        connect_all(http, stack)
    ids, failures = burst(stack, [first])
    companies = {failure["connection_id"] for failure in failures.values()}
    wait_until(lambda: len({line["connection_id"] for line in first.lines("run started")}) == 3)
    second = serve(stack, "second")
    with httpx.Client(base_url=second.url, headers=AUTH, timeout=10) as http:
        final = [settled(http, run_id, ("done",), timeout=120) for run_id in ids]
    assert {run["outcome"] for run in final} <= {"fixed", "nothing_to_fix"}
    assert booked(stack) == expected_books()
    handed = first.lines("drain handed its company back: more than this instance's share")
    assert {line["connection_id"] for line in handed} <= companies
    assert handed, "the first instance kept every company"
    assert second.lines("run settled"), "the second instance worked nothing"


def test_kill_9_of_one_instance_mid_burst_the_other_finishes_every_run(stack: Stack) -> None:
    """The victim is caught inside Fortnox: a long latency holds every ``/3`` call, so once its
    log says a run of each company started, each of them is waiting for an answer and cannot
    settle. The survivor starts, the rest of the burst arrives at both, the victim is killed,
    and the held calls are let go (setting the faults again releases them)."""
    stack.env["REMEDIATOR_LEASE_SECONDS"] = "2"  # the killed one's leases expire soon
    victim = serve(stack, "victim")
    with httpx.Client(base_url=victim.url, headers=AUTH, timeout=10) as http:
        connect_all(http, stack)
    hold = {"latency": HOLD_SECONDS}
    httpx.put(f"{stack.sandbox_url}/_sandbox/faults", json=hold).raise_for_status()
    ids, _ = burst(stack, [victim], days=1)  # one run per company, at the victim
    wait_until(lambda: set(ids) <= {line["run_id"] for line in victim.lines("run started")}, 60)
    survivor = serve(stack, "survivor")  # every company's lease is the victim's
    more, _ = burst(stack, [victim, survivor], first_day=1)
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait(timeout=5)
    httpx.put(f"{stack.sandbox_url}/_sandbox/faults", json={"latency": 0.1}).raise_for_status()
    started = {line["run_id"] for line in victim.lines("run started")}
    ended = {line["run_id"] for line in victim.lines("run settled")}
    assert started - ended == set(ids), "the victim was killed inside each company's run"
    with httpx.Client(base_url=survivor.url, headers=AUTH, timeout=10) as http:
        final = [settled(http, run_id, ("done",), timeout=90) for run_id in [*ids, *more]]
    assert {run["outcome"] for run in final} <= {"fixed", "nothing_to_fix"}
    assert all(run["report"] is not None for run in final)  # 0 accepted failures lost
    assert booked(stack) == expected_books()  # 0 vouchers twice
    resumed = {
        line["run_id"] for line in survivor.lines("run resumed: the process working it is gone")
    }
    assert set(ids) <= resumed
    stop(survivor.process)


def trail(stack: Stack, run_id: str) -> list[dict[str, Any]]:
    """The run's audit trail as support reads it (``remediator runs show --audit --json``)."""
    shown = subprocess.run(
        [sys.executable, "-m", "remediator", "runs", "show", run_id, "--audit", "--json"],
        env=stack.env,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return list(json.loads(shown.stdout)["audit"])


def test_an_instance_killed_after_it_wrote_leaves_its_writes_in_the_trail_and_runs_end_fixed(
    stack: Stack,
) -> None:
    """The victim fixes each company's cause, then its voucher POSTs are stored by Fortnox but
    never answered; it is killed waiting for them. The survivor finds nothing left to do, yet
    every run ends ``fixed`` (its earlier pass made the changes) and every write Fortnox saw is
    in its run's audit trail."""
    stack.env["REMEDIATOR_LEASE_SECONDS"] = "2"
    victim = serve(stack, "victim")
    with httpx.Client(base_url=victim.url, headers=AUTH, timeout=10) as http:
        connect_all(http, stack)
    faults = f"{stack.sandbox_url}/_sandbox/faults"
    httpx.put(faults, json={"timeout_after_write": len(BURST)}).raise_for_status()
    ids, _ = burst(stack, [victim], days=1)  # one run per company

    def posted() -> int:
        return sum(r["method"] == "POST" and r["path"] == "/3/vouchers" for r in requests(stack))

    def fixes_stored() -> int:  # each run's cause fix, stored as it was answered
        return sum(
            entry["kind"] == "api" and entry["method"] != "GET"
            for run_id in ids
            for entry in trail(stack, run_id)
        )

    wait_until(lambda: posted() == len(BURST), 60)
    wait_until(lambda: fixes_stored() == len(BURST), 30)  # without waiting for the runs' ends
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait(timeout=5)
    httpx.put(faults, json={}).raise_for_status()
    assert not victim.lines("run settled")
    survivor = serve(stack, "survivor")
    with httpx.Client(base_url=survivor.url, headers=AUTH, timeout=10) as http:
        final = [settled(http, run_id, ("done",), timeout=90) for run_id in ids]
    assert [run["outcome"] for run in final] == ["fixed"] * len(BURST)
    for run in final:
        assert "by an earlier attempt that did not finish" in run["report"]["summary"]["en"]
        assert run["report"]["voucher"]["keyed"] is True
    assert booked(stack) == {name: ["2026-02-10"] for name in BURST}
    writes = Counter(
        (r["method"], r["path"], r["status"])
        for r in requests(stack)
        if r["path"].startswith("/3/") and r["method"] != "GET"
    )
    trails = Counter(
        (entry["method"], entry["path"], entry["status"])
        for run_id in ids
        for entry in trail(stack, run_id)
        if entry["kind"] == "api" and entry["method"] != "GET"
    )
    # every answered write is in a trail, once; the POSTs Fortnox never answered are not
    assert trails == writes - Counter({("POST", "/3/vouchers", 201): len(BURST)})
    assert sum(trails.values()) >= len(BURST)  # each company's cause fix
    stop(survivor.process)
