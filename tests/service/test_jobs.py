"""The service's scheduler end to end: two instances of the service on one database, their
clocks the sandbox's, which the test moves on by days. Keep-alive runs once per slot in the
deployment: the sandbox sees one refresh per connection, the connections outlive their 45 days,
a grant revoked is found at the next slot and the Backoffice told, and ``job_runs`` holds one
row per slot (the latest missed one, not a backlog). The check ahead runs once per slot too,
after keep-alive."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
from pydantic import SecretStr

from remediator import signing
from remediator.keepalive import DAY, EVENT_NEEDS_RECONNECT
from remediator.runtime import open_store
from remediator.sandbox.state import Grant
from remediator.service import create_app
from remediator.storage import ConnectionStatus, Database
from remediator.storage.jobs import JobResult, JobRun, JobRunStore
from tests.service.conftest import AUTH, Harness, TestClient, harness_for, wait_until

BACKOFFICE_SECRET = "backoffice-secret"


class Backoffice:
    """The Backoffice's endpoint: checks each signature, keeps each event."""

    def __init__(self) -> None:
        self.events: list[dict[str, object]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        signing.verify(request.headers.get(signing.HEADER), request.content, BACKOFFICE_SECRET)
        self.events.append(json.loads(request.content))
        return httpx.Response(204)


def with_second_connection(harness: Harness) -> None:
    """A second grant on the restaurant's company, for a second connection."""
    state = harness.sandbox.world.state.model_copy(deep=True)
    first = state.grants[0]
    state.grants.append(first.model_copy(update={"name": "second", "refresh_token": "rt-2"}))
    harness.sandbox.world.load(state)


@contextmanager
def instances(harness: Harness, backoffice: Backoffice, count: int) -> Iterator[list[TestClient]]:
    """``count`` instances of the service on one database, with the scheduler on."""
    settings = harness.settings.model_copy(
        update={
            "schedule_enabled": True,
            "schedule_spread_minutes": 0.0,
            "schedule_poll_seconds": 0.05,
            "backoffice_url": "http://backoffice.test/events",
            "callback_secret": SecretStr(BACKOFFICE_SECRET),
        }
    )
    with ExitStack() as stack:
        clients = []
        for _ in range(count):
            app = create_app(
                settings,
                transport=harness.sandbox.transport(),
                backoffice_transport=httpx.MockTransport(backoffice.handle),
                clock=harness.sandbox.world.now,  # the sandbox's days pass for the scheduler
            )
            clients.append(stack.enter_context(TestClient(app)))
        yield clients


def connect(client: TestClient, harness: Harness, grant: Grant, connection_id: str) -> None:
    answer = client.put(
        f"/v1/connections/{connection_id}",
        headers=AUTH,
        json={
            "label": connection_id,
            "tenant_id": grant.tenant_id,
            "refresh_token": grant.refresh_token,
        },
    )
    assert answer.status_code == 201, answer.text


def refreshes(harness: Harness, since: int) -> int:
    return sum(
        1 for r in harness.sandbox.requests[since:] if r.get("grant_type") == "refresh_token"
    )


def slots(runs: JobRunStore) -> list[tuple[str, JobResult | None, str | None]]:
    return sorted((r.slot, r.result, r.summary) for r in runs.recent(job="keepalive"))


def slot_of(run: JobRun) -> str:
    return run.slot


def finished(runs: JobRunStore, count: int, job: str = "keepalive") -> bool:
    done = [r for r in runs.recent(job=job) if r.finished_at is not None]
    return len(done) >= count


def test_two_instances_keep_every_connection_alive_with_one_refresh_per_connection(
    tmp_path: Path,
) -> None:
    harness = harness_for("account_inactive", tmp_path)
    with_second_connection(harness)
    grants = harness.sandbox.world.grants
    backoffice = Backoffice()
    database = Database(harness.settings.database_url)
    runs = JobRunStore(database)
    with instances(harness, backoffice, 2) as (first, second):
        connect(first, harness, grants["bistro"], harness.connection_id)
        connect(second, harness, grants["second"], "second")
        for client in (first, second):
            health = client.get("/healthz").json()
            assert (health["status"], health["scheduler"]) == ("ok", "running")
        seen = len(harness.sandbox.requests)
        time.sleep(0.3)  # a new deployment: today's slot has passed, the first is tomorrow's
        assert runs.recent() == []
        assert refreshes(harness, seen) == 0

        harness.sandbox.advance(DAY)  # tomorrow's slot has come: one instance runs it
        wait_until(lambda: finished(runs, 1))
        wait_until(lambda: finished(runs, 1, "preflight"))  # the check ahead, after keep-alive
        assert refreshes(harness, seen) == 2  # imported tokens, of unknown age: refreshed

        rotated = dict(harness.sandbox.world.refreshed_at)
        seen = len(harness.sandbox.requests)
        harness.sandbox.advance(40 * DAY)  # 40 nights pass with no export at all
        wait_until(lambda: finished(runs, 2))
        time.sleep(0.3)  # several more looks by both instances
        assert refreshes(harness, seen) == 2  # one per connection, whichever instance ran it
        assert all(harness.sandbox.world.refreshed_at[g] > rotated[g] for g in rotated)
        assert len(runs.recent(job="keepalive")) == 2  # the latest missed slot only, not 40
        wait_until(lambda: finished(runs, 2, "preflight"))  # the check ahead, after keep-alive

        harness.sandbox.advance(40 * DAY)  # 81 days since import: alive only thanks to the job
        wait_until(lambda: finished(runs, 3))
        wait_until(lambda: finished(runs, 3, "preflight"))
        for client in (first, second):
            for connection_id in (harness.connection_id, "second"):
                shown = client.get(f"/v1/connections/{connection_id}", headers=AUTH).json()
                assert shown["status"] == "active"

        harness.sandbox.world.revoke("second")
        harness.sandbox.advance(DAY)
        wait_until(lambda: finished(runs, 4))
        wait_until(lambda: finished(runs, 4, "preflight"))
        time.sleep(0.3)
        scraped = [stored_gauges(client.get("/metrics").text) for client in (first, second)]

    history = slots(runs)
    assert [result for _, result, _ in history] == [JobResult.OK] * 4
    assert [summary for _, _, summary in history] == [
        "2 refreshed",
        "2 refreshed",
        "2 refreshed",
        # The store stamps a refresh with the real clock, the job reads the sandbox's (82 days
        # on): the first connection looks due again. The revoked one is found that night.
        "1 needs_reconnect, 1 refreshed",
    ]
    # The check ahead ran once per slot, after keep-alive: on the last night it checked only
    # the connection keep-alive had proven alive (what it found depends on the real date: the
    # slots fall on real days, and the sandbox has no year after 2026).
    checked_ahead = [r.summary or "" for r in sorted(runs.recent(job="preflight"), key=slot_of)]
    assert [summary.split(",")[0] for summary in checked_ahead] == [
        "2 checked",
        "2 checked",
        "2 checked",
        "1 checked",
    ]
    # Told once, by the one instance that ran the slot (the checks ahead tell of their runs).
    [event] = [e for e in backoffice.events if e["event"] == EVENT_NEEDS_RECONNECT]
    assert (event["event"], event["connection_id"]) == (EVENT_NEEDS_RECONNECT, "second")
    assert str(event["reconnect_url"]).startswith("http://testserver/v1/connections/second/")
    stored = {c.id: c.status for c in open_store(harness.settings).all()}
    assert stored == {
        harness.connection_id: ConnectionStatus.ACTIVE,
        "second": ConnectionStatus.NEEDS_RECONNECT,
    }
    # /metrics: read from the database, the same at every instance (but the expiry's days,
    # computed at each scrape).
    for lines in scraped:
        assert lines["remediator_connections"] == {
            'remediator_connections{state="active"}': 1.0,
            'remediator_connections{state="needs_reconnect"}': 1.0,
            'remediator_connections{state="not_authorized"}': 0.0,
        }
        [(series, days)] = lines["remediator_refresh_token_expires_in_days"].items()
        assert (
            series
            == f'remediator_refresh_token_expires_in_days{{connection_id="{harness.connection_id}"}}'
        )
        assert 44.9 < days <= 45.0  # refreshed by the last slot: Fortnox's 45 days ahead
        assert lines["remediator_job_last_success_timestamp_seconds"] == {
            f'remediator_job_last_success_timestamp_seconds{{job="{job}"}}': max(
                r.finished_at or 0 for r in runs.recent(job=job)
            )
            for job in ("keepalive", "preflight")
        }
    database.dispose()


def stored_gauges(text: str) -> dict[str, dict[str, float]]:
    """The series of the gauges read from the database, by family."""
    families = (
        "remediator_connections",
        "remediator_refresh_token_expires_in_days",
        "remediator_job_last_success_timestamp_seconds",
    )
    found: dict[str, dict[str, float]] = {family: {} for family in families}
    for line in text.splitlines():
        series, _, value = line.rpartition(" ")
        family = series.split("{", 1)[0]
        if family in found:
            found[family][series] = float(value)
    return found


def test_a_stopped_scheduler_makes_the_instance_degraded(tmp_path: Path) -> None:
    harness = harness_for("account_inactive", tmp_path)
    with instances(harness, Backoffice(), 1) as (client,):
        scheduler = client.app.state.service.scheduler  # type: ignore[attr-defined]
        assert client.portal is not None
        client.portal.call(scheduler.stop)
        health = client.get("/healthz")
    assert health.status_code == 200  # still serves: only the daily jobs are not looked after
    assert (health.json()["status"], health.json()["scheduler"]) == ("degraded", "stopped")
