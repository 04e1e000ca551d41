"""End to end over TCP: the real ``remediator sandbox`` and ``remediator serve`` as
subprocesses on free loopback ports, a local callback receiver, signed failures for each of the
six Backoffice errors; then ``kill -9`` of the service mid-run and a restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet

from remediator import signing
from remediator.sandbox import load_scenario
from tests.loopback import free_port, stop, wait_until_listening
from tests.service.conftest import (
    API_TOKEN,
    AUTH,
    CALLBACK_SECRET,
    INTAKE_SECRET,
    MESSAGES,
    reconnect_link,
)

pytestmark = pytest.mark.slow
START_SECONDS = 20
EXPECTED = {
    "series_not_manual": ("done", "fixed"),
    "chart_of_accounts_missing": ("done", "manual_action_required"),
    "account_inactive": ("done", "fixed"),
    "series_missing": ("done", "fixed"),
    "access_denied": ("done", "manual_action_required"),
    "connection_invalidated": ("awaiting_reconnect", "manual_action_required"),
}



def merged_state(path: Path) -> dict[str, dict[str, Any]]:
    """The six scenarios as one sandbox (one tenant each); returns each one's example."""
    merged: dict[str, Any] = {"clients": [], "tenants": [], "grants": [], "examples": {}}
    examples: dict[str, dict[str, Any]] = {}
    for name in EXPECTED:
        state = load_scenario(name).model_dump(mode="json", by_alias=True)
        merged["clients"] = state["clients"]
        merged["today"] = state["today"]
        merged["tenants"] += state["tenants"]
        for grant in state["grants"]:
            merged["grants"].append(grant | {"name": name})
        if name == "connection_invalidated":
            merged["consent"] = state["consent"]
        example = state["examples"]["z_report"]
        examples[name] = example | {"grant": next(g for g in state["grants"])}
    path.write_text(json.dumps(merged), encoding="utf-8")
    return examples


@dataclass
class Receiver:
    received: list[tuple[str, bytes]] = field(default_factory=list)

    def serve(self) -> tuple[ThreadingHTTPServer, str]:
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((self.headers[signing.HEADER], body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, f"http://127.0.0.1:{server.server_address[1]}/hook"


def start(args: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "remediator", *args, "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=sink,
        )
    wait_until_listening(process, port, START_SECONDS, log.read_text)
    return process


@dataclass
class Stack:
    sandbox_url: str
    service_port: int
    env: dict[str, str]
    examples: dict[str, dict[str, Any]]
    callback_url: str
    receiver: Receiver
    log: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def service_url(self) -> str:
        return f"http://127.0.0.1:{self.service_port}"

    def serve(self) -> subprocess.Popen[bytes]:
        process = start(["serve", "--log-level", "info"], self.env, self.service_port, self.log)
        self.processes.append(process)
        return process

    def failure(self, name: str, day: str | None = None) -> dict[str, Any]:
        example = self.examples[name]
        day = day or example["date"]
        voucher = example["voucher"] | {"TransactionDate": day, "Description": f"Z {day}"}
        return {
            "event_id": f"evt-{name}-{day}",
            "restaurant": example["restaurant"],
            "connection_id": example["restaurant"]["id"],
            "export": {"kind": "z_report", "id": f"z-{day}", "date": day, "voucher": voucher},
            "error": {"message": MESSAGES[name]},
            "callback_url": self.callback_url,
        }


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    examples = merged_state(tmp_path / "sandbox.json")
    sandbox_port, service_port = free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    public = f"http://127.0.0.1:{service_port}"
    state = json.loads((tmp_path / "sandbox.json").read_text())
    client = state["clients"][0]
    env = {k: v for k, v in os.environ.items() if not k.startswith("REMEDIATOR_")} | {
        "REMEDIATOR_FORTNOX_API_URL": f"{sandbox_url}/3",
        "REMEDIATOR_FORTNOX_OAUTH_URL": f"{sandbox_url}/oauth-v1",
        "REMEDIATOR_CLIENT_ID": client["client_id"],
        "REMEDIATOR_CLIENT_SECRET": client["client_secret"],
        "REMEDIATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'service.db'}",
        "REMEDIATOR_SECRET_KEY": Fernet.generate_key().decode(),
        "REMEDIATOR_INTAKE_SECRET": INTAKE_SECRET,
        "REMEDIATOR_CALLBACK_SECRET": CALLBACK_SECRET,
        "REMEDIATOR_API_TOKEN": API_TOKEN,
        "REMEDIATOR_PUBLIC_URL": public,
        "REMEDIATOR_REDIRECT_URI": f"{public}/oauth/callback",
        "REMEDIATOR_WORKER_POLL_SECONDS": "0.1",
        "REMEDIATOR_RETRY_MAX_SECONDS": "5",
    }
    receiver = Receiver()
    server, callback_url = receiver.serve()
    log = tmp_path / "service.log"  # the sandbox prints its own (sandbox) client secret
    sandbox_log = tmp_path / "sandbox.log"
    sandbox = start(
        ["sandbox", "--state", str(tmp_path / "sandbox.json")], env, sandbox_port, sandbox_log
    )
    made = Stack(sandbox_url, service_port, env, examples, callback_url, receiver, log, [sandbox])
    try:
        yield made
    finally:
        for process in made.processes:
            stop(process)
        server.shutdown()
        server.server_close()


def connect_all(http: httpx.Client, stack: Stack) -> None:
    for example in stack.examples.values():
        grant = example["grant"]
        answer = http.put(
            f"/v1/connections/{example['restaurant']['id']}",
            json={
                "label": example["restaurant"]["name"],
                "restaurant": example["restaurant"],
                "tenant_id": grant["tenant_id"],
                "refresh_token": grant["refresh_token"],
            },
        )
        assert answer.status_code == 201, answer.text


def send(http: httpx.Client, failure: dict[str, Any]) -> str:
    body = json.dumps(failure).encode()
    answer = http.post(
        "/v1/failures",
        content=body,
        headers={signing.HEADER: signing.sign(body, INTAKE_SECRET)},
    )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["run_id"])


def settled(
    http: httpx.Client, run_id: str, states: tuple[str, ...], timeout: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = http.get(f"/v1/runs/{run_id}").json()
        if run["state"] in states:
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not reach {states}")


def sandbox_state(stack: Stack) -> dict[str, Any]:
    state: dict[str, Any] = httpx.get(f"{stack.sandbox_url}/_sandbox/state").json()
    return state


def test_the_six_backoffice_errors_end_to_end(stack: Stack) -> None:
    stack.serve()
    with httpx.Client(base_url=stack.service_url, headers=AUTH, timeout=10) as http:
        assert http.get("/healthz").status_code == 200
        connect_all(http, stack)
        runs = {name: send(http, stack.failure(name)) for name in EXPECTED}
        final = {
            name: settled(http, run_id, ("done", "awaiting_reconnect", "awaiting_review"))
            for name, run_id in runs.items()
        }
        assert {n: (r["state"], r["outcome"]) for n, r in final.items()} == EXPECTED

        # the restaurant opens the link of its report: no api token
        link = reconnect_link(final["connection_invalidated"]["report"])
        opened = httpx.get(f"{stack.service_url}{link}", headers={"Accept": "application/json"})
        assert opened.status_code == 200, opened.text
        consent = httpx.get(opened.json()["authorize_url"])
        assert consent.status_code == 302
        callback = urlsplit(consent.headers["location"])
        answer = http.get(f"{callback.path}?{callback.query}")
        assert answer.status_code == 200
        reconnected = settled(http, runs["connection_invalidated"], ("done",))
        assert reconnected["outcome"] == "fixed"  # the waiting run booked the day
        assert reconnected["report"]["resent"] is True
        metrics = http.get("/metrics").text

    tenants = sandbox_state(stack)["tenants"]
    by_name = {n: tenants[e["grant"]["tenant_id"]] for n, e in stack.examples.items()}
    booked = ("series_not_manual", "account_inactive", "series_missing", "connection_invalidated")
    for name in booked:
        vouchers = [v for year in by_name[name]["vouchers"].values() for v in year]
        assert len(vouchers) == 1, name
    for name in ("chart_of_accounts_missing", "access_denied"):
        assert all(not year for year in by_name[name]["vouchers"].values()), name
    assert 3001 not in by_name["account_inactive"]["inactive_accounts"]["2"]

    deliveries: dict[str, list[str]] = {}
    for header, body in stack.receiver.received:
        signing.verify(header, body, CALLBACK_SECRET)
        sent = json.loads(body)
        deliveries.setdefault(sent["run_id"], []).append(sent["state"])
    assert {n: deliveries[r][-1] for n, r in runs.items()} == dict.fromkeys(EXPECTED, "done")
    assert deliveries[runs["connection_invalidated"]] == ["awaiting_reconnect", "done"]
    assert 'remediator_runs_total{outcome="fixed"} 4' in metrics  # + the reconnected one
    text = stack.log.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line[:1] == "{"]
    assert any(line.get("run_id") == runs["account_inactive"] for line in lines)
    secrets = [INTAKE_SECRET, API_TOKEN, CALLBACK_SECRET, stack.env["REMEDIATOR_SECRET_KEY"]]
    secrets += [stack.env["REMEDIATOR_CLIENT_SECRET"], callback.query, link.partition("?")[2]]
    secrets += [e["grant"]["refresh_token"] for e in stack.examples.values()]
    assert [secret for secret in secrets if secret in text] == []


def test_kill_9_mid_run_loses_nothing_and_posts_no_voucher_twice(stack: Stack) -> None:
    # The killed process's company leases stay until they expire: the restarted one waits.
    stack.env["REMEDIATOR_LEASE_SECONDS"] = "2"
    service = stack.serve()
    days = [f"2026-02-{day:02d}" for day in range(10, 15)]
    faults = {"latency": 0.1}
    assert httpx.put(f"{stack.sandbox_url}/_sandbox/faults", json=faults).status_code == 200
    with httpx.Client(base_url=stack.service_url, headers=AUTH, timeout=10) as http:
        connect_all(http, stack)
        ids = [send(http, stack.failure("account_inactive", day)) for day in days]
        ids += [send(http, stack.failure("series_missing", day)) for day in days[:3]]
        deadline = time.monotonic() + 20
        states: list[str] = []
        while time.monotonic() < deadline:
            states = [http.get(f"/v1/runs/{run_id}").json()["state"] for run_id in ids]
            if states.count("done") >= 2 and "running" in states:
                break
            time.sleep(0.02)
        service.send_signal(signal.SIGKILL)
        assert "running" in states, "the service was not killed mid-run"
        service.wait(timeout=5)
    httpx.put(f"{stack.sandbox_url}/_sandbox/faults", json={})
    stack.serve()
    with httpx.Client(base_url=stack.service_url, headers=AUTH, timeout=10) as http:
        final = [settled(http, run_id, ("done",)) for run_id in ids]
    assert {run["outcome"] for run in final} <= {"fixed", "nothing_to_fix"}
    assert "run resumed: the process working it is gone" in stack.log.read_text()
    assert all(run["report"] is not None for run in final)
    tenants = sandbox_state(stack)["tenants"]
    for name, count in (("account_inactive", 5), ("series_missing", 3)):
        tenant = tenants[stack.examples[name]["grant"]["tenant_id"]]
        vouchers = [v for year in tenant["vouchers"].values() for v in year]
        dates = [v["TransactionDate"] for v in vouchers]
        assert sorted(dates) == sorted(set(dates)), f"{name}: a voucher was posted twice"
        assert len(vouchers) == count, name
