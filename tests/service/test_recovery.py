"""Nothing accepted is lost: runs a crash left ``running`` are finished on restart, and a
voucher that reached Fortnox before the crash is found, not posted again."""

from __future__ import annotations

import json
import time

import sqlalchemy as sa

from remediator.storage import Database
from remediator.storage.db import runs
from remediator.storage.runs import RunStore, Started
from tests.service.conftest import (
    AUTH,
    Harness,
    TestClient,
    post_failure,
    wait_for,
    wait_until,
)


def crash_mid_run(harness: Harness, run_id: str) -> None:
    """What the database holds when the process died during the run: ``running``, no report."""
    database = Database(harness.settings.database_url)
    with database.engine.begin() as conn:
        conn.execute(
            runs.update()
            .where(runs.c.id == run_id)
            .values(state="running", report=None, outcome=None, finished_at=None)
        )
    database.dispose()


def test_a_run_left_running_is_finished_on_restart_without_a_second_voucher(
    harness: Harness,
) -> None:
    with harness.client() as client:
        harness.connect(client)
        run_id = post_failure(client, harness.failure()).json()["run_id"]
        assert wait_for(client, run_id)["outcome"] == "fixed"
    assert len(harness.vouchers()) == 1
    crash_mid_run(harness, run_id)
    with harness.client() as client:  # the restart
        run = wait_for(client, run_id)
    # the first pass's trail was stored whole: the run made its changes there, so it is fixed
    assert (run["state"], run["outcome"]) == ("done", "fixed")
    assert "by an earlier attempt that did not finish" in run["report"]["summary"]["en"]
    voucher = run["report"]["voucher"]
    assert (voucher["already_booked"], voucher["keyed"]) == (True, True)  # sent by the first pass
    (step,) = [s for s in run["report"]["steps"] if s["action"] == "resend_voucher"]
    assert step["summary"]["en"].endswith(
        ": the remediator sent it earlier (the export's key is on it)."
    )
    assert len(harness.vouchers()) == 1


def test_a_run_that_never_started_is_worked_after_a_restart(harness: Harness) -> None:
    queued = TestClient(harness.app(worker_concurrency=0))
    harness.connect(queued)
    run_id = post_failure(queued, harness.failure()).json()["run_id"]
    crash_mid_run(harness, run_id)
    with harness.client() as client:
        run = wait_for(client, run_id)
        listed = client.get("/v1/runs", headers=AUTH, params={"state": "done"}).json()
    assert run["outcome"] == "fixed"
    assert [item["id"] for item in listed["items"]] == [run_id]
    assert len(harness.vouchers()) == 1


def test_a_shutdown_lets_the_run_under_way_finish_and_takes_no_other(harness: Harness) -> None:
    harness.sandbox.set_faults(latency=0.05)
    with harness.client() as client:
        harness.connect(client)
        first = post_failure(client, harness.failure("evt-1", day="2026-03-01")).json()
        wait_for(client, first["run_id"], ("running",))
        second = post_failure(client, harness.failure("evt-2", day="2026-03-02")).json()
    database = Database(harness.settings.database_url)
    with database.engine.connect() as conn:
        states = dict(conn.execute(sa.select(runs.c.event_id, runs.c.state)).all())
    database.dispose()
    assert states == {"evt-1": "done", "evt-2": "queued"}
    assert second["state"] == "queued"


def interrupted(harness: Harness, run_id: str, attempts: int) -> None:
    """As if ``attempts`` passes over the run had been interrupted, the last one just now."""
    database = Database(harness.settings.database_url)
    with database.engine.begin() as conn:
        conn.execute(
            runs.update().where(runs.c.id == run_id).values(state="running", attempts=attempts)
        )
    database.dispose()


def test_a_run_interrupted_as_often_as_it_may_be_is_parked_as_failed(harness: Harness) -> None:
    queued = TestClient(harness.app(worker_concurrency=0))
    harness.connect(queued)
    again = post_failure(queued, harness.failure("evt-1", day="2026-03-01")).json()["run_id"]
    poison = post_failure(queued, harness.failure("evt-2", callback=True)).json()["run_id"]
    interrupted(harness, again, 1)
    interrupted(harness, poison, 2)
    with harness.client(harness.app(run_attempts=3)) as client:
        parked = wait_for(client, poison, ("done",))
        worked = wait_for(client, again, ("done",))
        wait_until(lambda: len(harness.receiver.received) == 1)
    assert (parked["outcome"], parked["attempts"]) == ("failed", 3)
    assert parked["state_reason"].startswith("the run could not be completed: poison:")
    assert parked["report"]["summary"]["en"].startswith("Failed: the run could not be completed")
    assert harness.receiver.bodies()[0]["run_id"] == poison
    assert (worked["outcome"], worked["attempts"]) == ("fixed", 2)
    assert len(harness.vouchers()) == 1  # the parked run re-sent nothing


def test_a_run_that_takes_too_long_ends_failed_saying_so(harness: Harness) -> None:
    harness.sandbox.set_faults(latency=0.2)
    with harness.client(harness.app(run_timeout_seconds=0.3)) as client:
        harness.connect(client)
        run_id = post_failure(client, harness.failure(callback=True)).json()["run_id"]
        run = wait_for(client, run_id, ("done",))
        wait_until(lambda: len(harness.receiver.received) == 1)
    assert run["outcome"] == "failed"
    assert run["state_reason"] == "the run could not be completed: it took longer than 0.3 s"


def cli_run_left_running(harness: Harness, run_id: str, started_ago: float) -> None:
    """What the database holds when ``remediator fix`` was killed during its run."""
    database = Database(harness.settings.database_url)
    failure = json.dumps(harness.failure(f"cli-{run_id}"))
    RunStore(database).write(
        [Started(run_id, f"cli-{run_id}", harness.connection_id, "apply", failure)]
    )
    with database.engine.begin() as conn:
        conn.execute(
            runs.update().where(runs.c.id == run_id).values(created_at=time.time() - started_ago)
        )
    database.dispose()


def test_a_cli_run_whose_command_was_killed_ends_failed_saying_so(harness: Harness) -> None:
    """Found from outside: ``kill -9`` of ``remediator fix`` left its run ``running`` for ever
    (``runs list``, the console). Once it is ``stuck_run_seconds`` old and its company's lease
    is gone, the service ends it failed, saying what happened and what to do."""
    with harness.client() as client:
        harness.connect(client)
    cli_run_left_running(harness, "old", started_ago=3600)
    cli_run_left_running(harness, "new", started_ago=0)  # may still be running: left alone
    with harness.client() as client:
        run = wait_for(client, "old")
        new = client.get("/v1/runs/new", headers=AUTH).json()
    assert (run["state"], run["outcome"]) == ("done", "failed")
    assert run["state_reason"].startswith(
        "the run could not be completed: interrupted: the command that ran it (remediator fix"
    )
    assert "make the run again" in run["report"]["summary"]["en"]
    assert new["state"] == "running"
    assert harness.vouchers() == []
