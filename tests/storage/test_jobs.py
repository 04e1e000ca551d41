"""Job runs on each dialect: a slot is claimed once; a finished slot by nobody; an unfinished
one taken over (attempts counted) only once its owner's lease on the job is gone; and only
its owner records its end."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from remediator.storage import Database
from remediator.storage.jobs import JobResult, JobRunStore, lease_key
from remediator.storage.leases import LeaseStore
from tests.storage.conftest import wait_expired

DAY = "2026-07-14"


@pytest.fixture
def runs(database: Database) -> JobRunStore:
    return JobRunStore(database)


def test_a_slot_is_claimed_once_and_its_end_recorded(runs: JobRunStore, database: Database) -> None:
    assert LeaseStore(database).acquire(lease_key("keepalive"), "a", 30)
    run = runs.claim("keepalive", DAY, 100.0, "a", now=101.0)
    assert run is not None
    assert (run.owner, run.attempts, run.started_at, run.result) == ("a", 1, 101.0, None)
    assert runs.claim("keepalive", DAY, 100.0, "b", now=102.0) is None  # a is alive
    assert runs.claim("preflight", DAY, 100.0, "b", now=102.0) is not None  # another job
    assert runs.finish(run, 150.0, JobResult.OK, summary="2 refreshed")
    assert runs.claim("keepalive", DAY, 100.0, "b", now=200.0) is None  # finished
    done = runs.get("keepalive", DAY)
    assert done is not None
    assert (done.finished_at, done.result, done.summary, done.error) == (
        150.0,
        JobResult.OK,
        "2 refreshed",
        None,
    )


def test_an_unfinished_slot_is_taken_over_once_its_owners_lease_is_gone(
    runs: JobRunStore, database: Database
) -> None:
    leases = LeaseStore(database)
    assert leases.acquire(lease_key("keepalive"), "dead", 1)
    dead = runs.claim("keepalive", DAY, 100.0, "dead", now=101.0)
    assert dead is not None
    assert runs.claim("keepalive", DAY, 100.0, "next", now=102.0) is None
    wait_expired(leases, lease_key("keepalive"))  # the dead owner's (nobody took it: gone)
    taken = runs.claim("keepalive", DAY, 100.0, "next", now=300.0)
    assert taken is not None
    assert (taken.owner, taken.attempts, taken.started_at) == ("next", 2, 300.0)
    assert not runs.finish(dead, 310.0, JobResult.OK)  # not its claim any more
    assert runs.finish(taken, 320.0, JobResult.FAILED, error="Fortnox down")
    ended = runs.get("keepalive", DAY)
    assert ended is not None
    assert (ended.result, ended.error, ended.finished_at) == (
        JobResult.FAILED,
        "Fortnox down",
        320.0,
    )


def test_known_recent_and_last_success(runs: JobRunStore) -> None:
    assert not runs.known("keepalive")
    for day, result in (("2026-07-12", JobResult.OK), ("2026-07-13", JobResult.FAILED)):
        run = runs.claim("keepalive", day, 1.0, "a", now=2.0)
        assert run is not None
        runs.finish(run, 10.0 if result is JobResult.OK else 20.0, result)
    runs.claim("preflight", "2026-07-13", 1.0, "a", now=2.0)
    assert runs.known("keepalive")
    assert [(r.job, r.slot) for r in runs.recent()] == [
        ("keepalive", "2026-07-13"),
        ("preflight", "2026-07-13"),
        ("keepalive", "2026-07-12"),
    ]
    assert [r.slot for r in runs.recent(job="keepalive", limit=1)] == ["2026-07-13"]
    assert runs.last_success() == {"keepalive": 10.0}  # not the failed one nor the running one


def test_the_job_runs_table_is_in_the_schema(database: Database) -> None:
    assert "job_runs" in sa.inspect(database.engine).get_table_names()
