"""Operations: Prometheus metrics, health, JSON-lines logs, and no secret in any answer or log."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from remediator.service.logs import scrub
from remediator.storage import Database, TokenCipher
from remediator.storage.db import runs
from remediator.storage.keys import KeyCheck
from tests.service.conftest import (
    API_TOKEN,
    AUTH,
    CALLBACK_SECRET,
    INTAKE_SECRET,
    Harness,
    TestClient,
    harness_for,
    post_failure,
    wait_for,
    wait_until,
)


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match is not None, name
    return float(match.group(1))


def test_metrics_count_what_happened(harness: Harness) -> None:
    with harness.client() as client:
        harness.connect(client)
        run_id = post_failure(client, harness.failure()).json()["run_id"]
        wait_for(client, run_id)
        answer = client.get("/metrics")
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = answer.text
    assert metric(text, 'remediator_failures_received_total{kind="account_inactive"}') == 1
    assert metric(text, 'remediator_runs_total{outcome="fixed"}') == 1
    assert metric(text, 'remediator_fortnox_requests_total{status="200"}') >= 5
    assert metric(text, 'remediator_fortnox_requests_total{status="201"}') == 1
    assert (
        metric(text, 'remediator_token_refreshes_total{grant_type="refresh_token",result="ok"}')
        == 1
    )
    assert metric(text, "remediator_queue_depth") == 0
    assert metric(text, "remediator_run_duration_seconds_count") == 1
    assert metric(text, 'remediator_run_duration_seconds_bucket{le="+Inf"}') == 1
    assert "# TYPE remediator_run_duration_seconds histogram" in text


def test_queue_depth_counts_stored_work(harness: Harness) -> None:
    client = TestClient(harness.app(worker_concurrency=0))
    harness.connect(client)
    for n in range(3):
        post_failure(client, harness.failure(f"evt-{n}"))
    assert metric(client.get("/metrics").text, "remediator_queue_depth") == 3


def test_healthz_reports_the_database_and_the_workers(harness: Harness) -> None:
    app = harness.app()
    with harness.client(app) as client:
        ok = client.get("/healthz")
        dispatcher = app.state.service.workers._dispatcher
        assert client.portal is not None
        client.portal.call(cancelled, dispatcher)
        down = client.get("/healthz")
    assert ok.status_code == 200
    assert ok.json() == {
        "status": "ok",
        "database": "ok",
        "secret_key": "ok",
        "workers": {"state": "running", "busy": 0, "concurrency": 2},
        "callbacks": "ok",
        "runs": {"stuck": 0, "stuck_after_seconds": 900.0},
        "scheduler": "off",  # schedule_enabled is false in these tests
    }
    assert down.status_code == 503
    assert down.json()["workers"]["state"] == "stopped"


async def cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def test_logs_are_json_lines_with_ids_and_nothing_secret(
    tmp_path: Path, log_lines: io.StringIO
) -> None:
    harness = harness_for("connection_invalidated", tmp_path)
    answers: list[str] = []
    with harness.client() as client:
        harness.connect(client)
        run_id = post_failure(client, harness.failure(callback=True)).json()["run_id"]
        answers.append(json.dumps(wait_for(client, run_id)))
        location = client.get(
            f"/v1/connections/{harness.connection_id}/authorize",
            headers=AUTH,
            follow_redirects=False,
        ).headers["location"]
        browser = TestClient(harness.sandbox.app)
        callback = browser.get(location, follow_redirects=False).headers["location"]
        answers.append(client.get(callback.removeprefix("http://testserver")).text)
        answers.append(json.dumps(wait_for(client, run_id, ("done",))))
        token = client.post(f"/v1/connections/{harness.connection_id}/access-token", headers=AUTH)
        assert token.status_code == 200
        answers.append(client.get(f"/v1/connections/{harness.connection_id}", headers=AUTH).text)
        answers.append(client.get("/v1/runs", headers=AUTH).text)
        answers.append(client.get("/metrics").text)
    world = harness.sandbox.world
    secrets = {
        *world.tokens,
        *world.used_refresh,
        *(grant.refresh_token for grant in world.grants.values()),
        *(client.client_secret for client in world.state.clients),
        API_TOKEN,
        INTAKE_SECRET,
        CALLBACK_SECRET,
        harness.settings.secret_key.get_secret_value(),
        parse_code(callback),
    }
    lines = log_lines.getvalue().splitlines()
    entries = [json.loads(line) for line in lines]
    assert any(e.get("run_id") == run_id and e.get("connection_id") for e in entries)
    everything = "\n".join(lines + answers + [str(body) for _, body in harness.receiver.received])
    leaked = [secret for secret in secrets if secret and secret in everything]
    assert leaked == []


def parse_code(url: str) -> str:
    match = re.search(r"code=([^&]+)", url)
    assert match is not None
    return match.group(1)


def test_scrub_hides_what_looks_like_a_credential() -> None:
    line = "GET /oauth/callback?code=abc123&state=xyz Bearer eyJhbGciOi.eyJzdWIiOjF9.sig"
    assert scrub(line) == "GET /oauth/callback?code=<hidden>&state=<hidden> Bearer <hidden>"


@pytest.mark.parametrize(
    ("line", "scrubbed"),
    [
        ("Authorization: BASIC dXNlcjpwYXNz", "Authorization: BASIC <hidden>"),
        ("POST /token refresh_token=abc123", "POST /token refresh_token=<hidden>"),
        ("got eyJhbGciOiJIUzI1.eyJzdWIiOjF9.c2ln back", "got <jwt hidden> back"),
        ("POST /v1/failures 202 3.1 ms", "POST /v1/failures 202 3.1 ms"),
    ],
)
def test_scrub_hides_each_shape_alone_and_leaves_plain_text(line: str, scrubbed: str) -> None:
    assert scrub(line) == scrubbed


def test_healthz_is_503_when_the_database_does_not_answer(harness: Harness) -> None:
    app = harness.app(worker_concurrency=0)

    def unreachable() -> None:
        raise OSError("disk gone")

    app.state.service.queue.ping = unreachable
    with harness.client(app) as client:
        answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["database"] == "unreachable"


def test_an_instance_whose_key_does_not_decrypt_the_tokens_works_no_run(
    harness: Harness, log_lines: io.StringIO
) -> None:
    """Another instance's key file, a changed REMEDIATOR_SECRET_KEY: it must not fail the runs
    that an instance with the right key would fix. It keeps taking failures in, works none,
    and says why (healthz 503, one error line at start)."""
    with harness.client() as client:
        harness.connect(client)
    wrong = harness.app(secret_key=SecretStr(Fernet.generate_key().decode()))
    with harness.client(wrong) as client:
        run_id = post_failure(client, harness.failure()).json()["run_id"]
        health = client.get("/healthz")
        time.sleep(0.5)  # workers would have taken it by now
        queued = client.get(f"/v1/runs/{run_id}", headers=AUTH).json()
    assert health.status_code == 503
    assert health.json()["secret_key"] == "does not decrypt the stored tokens"
    assert health.json()["workers"]["state"] == "stopped"
    assert queued["state"] == "queued"
    assert "does not decrypt the stored tokens" in log_lines.getvalue()
    with harness.client() as client:  # the right key works it
        assert wait_for(client, run_id)["outcome"] == "fixed"
        assert client.get("/healthz").json()["secret_key"] == "ok"


def test_an_instance_whose_key_is_replaced_while_it_runs_stops_working_at_its_next_check(
    harness: Harness, log_lines: io.StringIO
) -> None:
    """``db adopt-key`` with another key while an instance runs (the docs say to stop them
    first): its next health check says so, and it takes no more runs."""
    app = harness.app()
    with harness.client(app) as client:
        harness.connect(client)
        assert client.get("/healthz").json()["secret_key"] == "ok"
        database = Database(harness.settings.database_url)
        try:
            KeyCheck(database, TokenCipher(Fernet.generate_key())).adopt()
        finally:
            database.dispose()
        health = client.get("/healthz")
        assert (health.status_code, health.json()["secret_key"]) == (
            503,
            "does not decrypt the stored tokens",
        )
        wait_until(lambda: not app.state.service.workers.running(), 15)
        run_id = post_failure(client, harness.failure()).json()["run_id"]
        time.sleep(0.5)  # workers would have taken it by now
        assert client.get(f"/v1/runs/{run_id}", headers=AUTH).json()["state"] == "queued"
    assert "it was replaced; no more runs are worked here" in log_lines.getvalue()


def test_every_request_is_logged_refused_ones_too(tmp_path: Path, log_lines: io.StringIO) -> None:
    harness = harness_for("healthy", tmp_path)
    body = json.dumps(harness.failure()).encode()
    with harness.client(harness.app(worker_concurrency=0)) as client:
        unsigned = client.post("/v1/failures", content=body)
        huge = post_failure(client, b"x" * 2_000_000)
        invalid = post_failure(client, b'{"event_id": "secret-looking-body"}')
        no_token = client.get("/v1/runs?connection=private-query")
        traced = client.get("/v1/runs", headers={**AUTH, "X-Request-ID": "backoffice-42"})
    assert [a.status_code for a in (unsigned, huge, invalid, no_token, traced)] == [
        401,
        413,
        422,
        401,
        200,
    ]
    assert traced.headers["x-request-id"] == "backoffice-42"
    assert re.fullmatch(r"[0-9a-f]{16}", unsigned.headers["x-request-id"])
    entries = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    requests = [e for e in entries if "request_id" in e]
    assert [(e["method"], e["path"], e["status"]) for e in requests] == [
        ("POST", "/v1/failures", 401),
        ("POST", "/v1/failures", 413),
        ("POST", "/v1/failures", 422),
        ("GET", "/v1/runs", 401),
        ("GET", "/v1/runs", 200),
    ]
    assert all(e["level"] == "info" and e["duration_ms"] >= 0 for e in requests)
    assert requests[0]["request_id"] == unsigned.headers["x-request-id"]
    assert requests[-1]["request_id"] == "backoffice-42"
    # The service's own lines (the test's HTTP client logs its URLs; `serve` silences httpx).
    text = "\n".join(json.dumps(e) for e in entries if e["logger"] != "httpx")
    assert "secret-looking-body" not in text  # no bodies
    assert "private-query" not in text  # no query strings
    assert API_TOKEN not in text


def test_an_accepted_failure_is_one_line_with_its_ids(
    tmp_path: Path, log_lines: io.StringIO
) -> None:
    harness = harness_for("healthy", tmp_path)
    with harness.client(harness.app(worker_concurrency=0)) as client:
        harness.connect(client)
        first = post_failure(client, harness.failure())
        again = post_failure(client, harness.failure())
    run_id = first.json()["run_id"]
    entries = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    intake = [e for e in entries if e.get("path") == "/v1/failures"]
    assert [e["status"] for e in intake] == [202, 200]
    for entry, answer in zip(intake, (first, again), strict=True):
        assert (entry["run_id"], entry["event_id"], entry["connection_id"]) == (
            run_id,
            "evt-1",
            harness.connection_id,
        )
        assert entry["request_id"] == answer.headers["x-request-id"]
    # nothing else names the run while it is only queued: one line a request
    assert [e for e in entries if e.get("run_id") == run_id] == intake


def test_runs_stuck_in_running_make_healthz_degraded_and_are_counted(harness: Harness) -> None:
    with harness.client(harness.app(worker_concurrency=0, stuck_run_seconds=60)) as client:
        harness.connect(client)
        run_ids = [
            post_failure(client, harness.failure(f"evt-{n}")).json()["run_id"] for n in (1, 2)
        ]
        assert client.get("/healthz").json()["status"] == "ok"
        database = Database(harness.settings.database_url)
        with database.engine.begin() as conn:  # one claimed two minutes ago, one just now
            for run_id, started in zip(run_ids, (time.time() - 120, time.time()), strict=True):
                conn.execute(
                    runs.update()
                    .where(runs.c.id == run_id)
                    .values(state="running", started_at=started)
                )
        database.dispose()
        health = client.get("/healthz")
        text = client.get("/metrics").text
    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert health.json()["runs"] == {"stuck": 1, "stuck_after_seconds": 60.0}
    assert metric(text, "remediator_runs_stuck") == 1
