"""The end-to-end rig: the real ``remediator sandbox`` and ``remediator serve`` as subprocesses on
free loopback ports, a local callback receiver, and the helpers that drive them over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

from remediator import signing
from remediator.sandbox import load_scenario
from tests.loopback import free_port, stop, wait_until_listening
from tests.service.conftest import API_TOKEN, CALLBACK_SECRET, INTAKE_SECRET, MESSAGES

START_SECONDS = 20
# A latency that holds every /3 call inside the sandbox until the faults are set again: a
# process caught in a run then is surely in the middle of it.
HOLD_SECONDS = 600
SCENARIOS = (
    "series_not_manual",
    "chart_of_accounts_missing",
    "account_inactive",
    "series_missing",
    "access_denied",
    "connection_invalidated",
)


def merged_state(path: Path) -> dict[str, dict[str, Any]]:
    """The six scenarios as one sandbox (one tenant each); returns each one's example."""
    merged: dict[str, Any] = {"clients": [], "tenants": [], "grants": [], "examples": {}}
    examples: dict[str, dict[str, Any]] = {}
    for name in SCENARIOS:
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


@contextmanager
def make_stack(tmp_path: Path, database_url: str) -> Iterator[Stack]:
    """The sandbox served from the six scenarios, a callback receiver, and the services'
    environment on ``database_url``; every process started through the stack is stopped."""
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
        "REMEDIATOR_DATABASE_URL": database_url,
        "REMEDIATOR_SECRET_KEY": Fernet.generate_key().decode(),
        "REMEDIATOR_INTAKE_SECRET": INTAKE_SECRET,
        "REMEDIATOR_CALLBACK_SECRET": CALLBACK_SECRET,
        "REMEDIATOR_API_TOKEN": API_TOKEN,
        "REMEDIATOR_PUBLIC_URL": public,
        "REMEDIATOR_REDIRECT_URI": f"{public}/oauth/callback",
        "REMEDIATOR_WORKER_POLL_SECONDS": "0.1",
        "REMEDIATOR_SCHEDULE_ENABLED": "false",
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
    run: dict[str, Any] = {}
    while time.monotonic() < deadline:
        run = http.get(f"/v1/runs/{run_id}").json()
        if run["state"] in states:
            return run
        time.sleep(0.05)
    seen = {key: run.get(key) for key in ("state", "state_reason", "attempts", "started_at")}
    raise AssertionError(f"run {run_id} did not reach {states} in {timeout:g} s: {seen}")


def sandbox_state(stack: Stack) -> dict[str, Any]:
    state: dict[str, Any] = httpx.get(f"{stack.sandbox_url}/_sandbox/state").json()
    return state
