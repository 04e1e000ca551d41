"""One actor per Fortnox company, across processes: real ``remediator`` processes on one SQLite
database against ``remediator sandbox`` served in its own process with 0.2 s latency.

Two ``fix --yes`` started at the same moment, and the service's run plus a ``fix --yes`` on the
same failure, each book the Z-report once: the company's lease (docs/deploy.md) serialises
them, and whoever comes second finds the voucher booked. The connection is added without its
tenant, so each process first learns the company (under the connection's lease).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from remediator import signing
from remediator.sandbox import load_scenario
from tests.loopback import free_port, stop, wait_until_listening

pytestmark = pytest.mark.slow

SCENARIO = "account_inactive"
MESSAGE = 'Fel vid export: Konto "3001" är inte aktivt'
INTAKE_SECRET = "intake-secret-for-tests"
API_TOKEN = "api-token-for-tests"
LATENCY = 0.6  # seconds the sandbox waits before each answer: unserialised runs overlap
START_SECONDS = 20
RUN_SECONDS = 90


@dataclass
class Served:
    """The sandbox in its own process, and the environment every remediator process shares."""

    sandbox_url: str
    env: dict[str, str]
    workdir: Path
    example: dict[str, Any]

    def remediator(self, *args: str) -> subprocess.Popen[bytes]:
        """A remediator process; read its output with ``_finished``."""
        return subprocess.Popen(
            [sys.executable, "-m", "remediator", *args],
            env=self.env,
            cwd=self.workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.PIPE,
        )

    def serve(self, port: int, log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as sink:
            return subprocess.Popen(
                [sys.executable, "-m", "remediator", "serve", "--port", str(port)],
                env=self.env,
                cwd=self.workdir,
                stdout=sink,
                stderr=sink,
            )

    def failure(self) -> dict[str, Any]:
        day = self.example["date"]
        return {
            "event_id": f"evt-{day}",
            "restaurant": self.example["restaurant"],
            "connection_id": self.example["restaurant"]["id"],
            "export": {
                "kind": "z_report",
                "id": self.example["export_id"],
                "date": day,
                "voucher": self.example["voucher"],
            },
            "error": {"message": MESSAGE},
        }

    def failure_file(self) -> Path:
        path = self.workdir / "failure.json"
        path.write_text(json.dumps(self.failure()), encoding="utf-8")
        return path

    def voucher_posts(self) -> list[dict[str, Any]]:
        log = httpx.get(f"{self.sandbox_url}/_sandbox/requests").json()
        return [r for r in log if r["method"] == "POST" and r["path"] == "/3/vouchers"]

    def booked(self) -> list[dict[str, Any]]:
        """The vouchers of the export's day in the sandbox's books."""
        tenants = httpx.get(f"{self.sandbox_url}/_sandbox/state").json()["tenants"]
        vouchers = [v for t in tenants.values() for year in t["vouchers"].values() for v in year]
        return [v for v in vouchers if v["TransactionDate"] == self.example["date"]]


def _finished(process: subprocess.Popen[bytes]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=RUN_SECONDS)
    return process.returncode, out.decode(), err.decode()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    state = load_scenario(SCENARIO)
    port = free_port()
    sandbox_url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REMEDIATOR_")} | {
        "REMEDIATOR_SCHEDULE_ENABLED": "false",
        "REMEDIATOR_FORTNOX_API_URL": f"{sandbox_url}/3",
        "REMEDIATOR_FORTNOX_OAUTH_URL": f"{sandbox_url}/oauth-v1",
        "REMEDIATOR_CLIENT_ID": state.clients[0].client_id,
        "REMEDIATOR_CLIENT_SECRET": state.clients[0].client_secret,
        "REMEDIATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'remediator.db'}",
        "REMEDIATOR_SECRET_KEY": Fernet.generate_key().decode(),
        "REMEDIATOR_LEASE_SECONDS": "10",
    }
    log = tmp_path / "sandbox.log"
    command = ["sandbox", "--scenario", SCENARIO, "--port", str(port)]
    with log.open("ab") as sink:
        sandbox = subprocess.Popen(
            [sys.executable, "-m", "remediator", *command],
            env=env,
            stdout=sink,
            stderr=sink,
        )
    try:
        wait_until_listening(sandbox, port, START_SECONDS, log.read_text)
        example = dict(state.examples["z_report"])
        made = Served(sandbox_url, env, tmp_path, example)
        grant = next(g for g in state.grants if g.name == example["grant"])
        adding = made.remediator(
            "connections",
            "add",
            example["restaurant"]["id"],
            "--label",
            "Café Linnea",
            "--refresh-token-stdin",
        )
        _, err = adding.communicate(grant.refresh_token.encode(), timeout=RUN_SECONDS)
        assert adding.returncode == 0, err.decode()
        faults = httpx.put(f"{sandbox_url}/_sandbox/faults", json={"latency": LATENCY})
        assert faults.status_code == 200
        yield made
    finally:
        stop(sandbox)


def test_two_fixes_at_the_same_moment_book_the_voucher_once(served: Served) -> None:
    failure = str(served.failure_file())
    fixes = [served.remediator("fix", "--yes", "--json", failure) for _ in range(2)]
    results = [_finished(fix) for fix in fixes]
    for code, out, err in results:
        assert code == 0, err
        assert json.loads(out)["outcome"] in {"fixed", "nothing_to_fix"}
    assert len(served.voucher_posts()) == 1
    assert len(served.booked()) == 1


def test_the_service_and_a_fix_on_the_same_failure_book_it_once(served: Served) -> None:
    port = free_port()
    served.env |= {
        "REMEDIATOR_INTAKE_SECRET": INTAKE_SECRET,
        "REMEDIATOR_API_TOKEN": API_TOKEN,
        "REMEDIATOR_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "REMEDIATOR_WORKER_POLL_SECONDS": "0.1",
    }
    log = served.workdir / "service.log"
    service = served.serve(port, log)
    try:
        wait_until_listening(service, port, START_SECONDS, log.read_text)
        body = json.dumps(served.failure()).encode()
        service_url = f"http://127.0.0.1:{port}"
        answer = httpx.post(
            f"{service_url}/v1/failures",
            content=body,
            headers={signing.HEADER: signing.sign(body, INTAKE_SECRET)},
        )
        assert answer.status_code == 202, answer.text
        fix = served.remediator("fix", "--yes", "--json", str(served.failure_file()))
        code, out, err = _finished(fix)
        assert code == 0, err
        assert json.loads(out)["outcome"] in {"fixed", "nothing_to_fix"}
        run = _settled(service_url, answer.json()["run_id"])
        assert run["outcome"] in {"fixed", "nothing_to_fix"}, run
    finally:
        stop(service)
    assert len(served.voucher_posts()) == 1
    assert len(served.booked()) == 1


def _settled(service_url: str, run_id: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    deadline = time.monotonic() + RUN_SECONDS
    while time.monotonic() < deadline:
        run: dict[str, Any] = httpx.get(f"{service_url}/v1/runs/{run_id}", headers=headers).json()
        if run["state"] == "done":
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish")
