"""Processes racing for one connection's refresh, against the sandbox served on loopback (its
OAuth: single-use refresh tokens, a reused one revokes the grant; its request log is the
oracle). The refresh lock lives in the database, so it holds across processes; a process that
dies between Fortnox rotating the token and storing it leaves a mark that makes the loss the
remediator's, not Fortnox's."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from remediator.fortnox import ReconnectCause
from remediator.runtime import open_store
from remediator.sandbox import load_scenario
from remediator.settings import Settings
from remediator.storage import ConnectionStatus, ConnectionStore
from tests.conftest import connection
from tests.fortnox.refresh_worker import CRASH_EXIT
from tests.loopback import free_port, stop, wait_until_listening

ROOT = Path(__file__).parents[2]
HEALTHY = load_scenario("healthy")
CLIENT = HEALTHY.clients[0]
GRANT = HEALTHY.grants[0]


@pytest.fixture
def sandbox() -> Iterator[str]:
    """The healthy scenario served by ``remediator sandbox`` on a free loopback port."""
    port = free_port()
    command = [sys.executable, "-m", "remediator", "sandbox", "--scenario", "healthy"]
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_listening(process, port, 20.0)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def token_requests(sandbox: str) -> list[tuple[Any, Any]]:
    log: list[dict[str, Any]] = httpx.get(f"{sandbox}/_sandbox/requests").json()
    return [(r.get("grant_type"), r["status"]) for r in log if r["path"] == "/oauth-v1/token"]


def workers(
    settings: Settings, sandbox: str, count: int, start_at: float, *extra: str
) -> list[subprocess.Popen[str]]:
    command = [
        sys.executable,
        "-m",
        "tests.fortnox.refresh_worker",
        settings.database_url,
        settings.secret_key.get_secret_value(),
        f"{sandbox}/oauth-v1",
        CLIENT.client_id,
        CLIENT.client_secret,
        str(start_at),
        *extra,
    ]
    return [
        subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(count)
    ]


def outputs(processes: list[subprocess.Popen[str]]) -> list[tuple[int, str, str]]:
    done = [(p, *p.communicate(timeout=60)) for p in processes]
    return [(p.returncode, out, err) for p, out, err in done]


def add_expired(store: ConnectionStore) -> None:
    store.add(
        connection(valid_for=-10, refresh=GRANT.refresh_token).model_copy(
            update={"client_id": CLIENT.client_id, "tenant_id": GRANT.tenant_id}
        )
    )


@pytest.mark.slow
def test_three_processes_with_an_expired_token_make_exactly_one_refresh(
    settings: Settings, database_url: str, sandbox: str
) -> None:
    """On SQLite and on PostgreSQL (where the processes could be on several machines)."""
    settings = settings.model_copy(update={"database_url": database_url})
    store = open_store(settings)
    add_expired(store)
    results = outputs(workers(settings, sandbox, 3, time.time() + 1.5))
    for code, _, err in results:
        assert code == 0, err
    tokens = {line for _, out, _ in results for line in out.split()}
    assert len(tokens) == 1  # one access token, shared through the database
    assert token_requests(sandbox) == [("refresh_token", 200)]
    stored = store.get("rest-1")
    assert stored.status is ConnectionStatus.ACTIVE
    assert stored.refresh_token != SecretStr(GRANT.refresh_token)  # the rotated one
    assert stored.refresh_started_at is None
    store._db.dispose()


@pytest.mark.slow
def test_a_process_killed_between_rotation_and_store_loses_the_token_as_ours(
    settings: Settings, store: ConnectionStore, sandbox: str
) -> None:
    add_expired(store)
    [(code, _, _)] = outputs(workers(settings, sandbox, 1, time.time(), "crash"))
    assert code == CRASH_EXIT
    assert token_requests(sandbox) == [("refresh_token", 200)]  # Fortnox rotated it
    marked = store.get("rest-1")
    assert marked.refresh_started_at is not None
    assert marked.refresh_token == SecretStr(GRANT.refresh_token)  # the used-up one

    [(code, out, err)] = outputs(workers(settings, sandbox, 1, time.time()))
    assert code == 0, err
    assert out.split() == ["consent_required:lost_by_remediator"]
    assert token_requests(sandbox) == [("refresh_token", 200), ("refresh_token", 400)]
    lost = store.get("rest-1")
    assert (lost.status, lost.status_cause) == (
        ConnectionStatus.NEEDS_RECONNECT,
        ReconnectCause.LOST,
    )
