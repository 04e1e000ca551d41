"""``remediator jobs list``: the daily jobs' slots as stored, newest first."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from remediator.runtime import open_database
from remediator.settings import load_settings
from remediator.storage.jobs import JobResult, JobRunStore
from tests.cli.conftest import run

SLOT = datetime(2026, 7, 14, 1, 0, tzinfo=UTC).timestamp()


@pytest.mark.usefixtures("env")
def test_jobs_list_shows_each_slot_and_how_it_ended() -> None:
    assert run("jobs", "list").output == "no job has run yet\n"
    database = open_database(load_settings())
    runs = JobRunStore(database)
    done = runs.claim("keepalive", "2026-07-14", SLOT, "a", now=SLOT + 1)
    assert done is not None
    runs.finish(done, SLOT + 60, JobResult.OK, summary="3 alive, 2 refreshed")
    runs.claim("keepalive", "2026-07-15", SLOT + 86_400, "a", now=SLOT + 86_401)
    database.dispose()

    listed = json.loads(run("jobs", "list", "--json").output)
    assert listed == [
        {
            "job": "keepalive",
            "slot": "2026-07-15",
            "due_at": "2026-07-15T01:00:00.000+00:00",
            "attempts": 1,
            "started_at": "2026-07-15T01:00:01.000+00:00",
            "finished_at": None,
            "result": "running",
            "summary": None,
            "error": None,
        },
        {
            "job": "keepalive",
            "slot": "2026-07-14",
            "due_at": "2026-07-14T01:00:00.000+00:00",
            "attempts": 1,
            "started_at": "2026-07-14T01:00:01.000+00:00",
            "finished_at": "2026-07-14T01:01:00.000+00:00",
            "result": "ok",
            "summary": "3 alive, 2 refreshed",
            "error": None,
        },
    ]
    table = run("jobs", "list", "--job", "keepalive", "--limit", "1").output
    assert "2026-07-15" in table
    assert "running" in table
    assert "2026-07-14" not in table
    assert run("jobs", "list", "--job", "preflight").output == "no job has run yet\n"
