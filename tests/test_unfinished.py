"""Final reports for runs that could not be finished, and the end of CLI runs whose command
died, on both dialects."""

from __future__ import annotations

import json
import time

import sqlalchemy as sa

from remediator.catalogue import Catalogue, load_catalogue
from remediator.fortnox import RequestRecord
from remediator.storage import Database
from remediator.storage.db import runs
from remediator.storage.queue import QueueStore
from remediator.storage.runs import Logged, RunState, RunStore, Started
from remediator.unfinished import INTERRUPTED, end_interrupted, unfinished

FAILURE = json.dumps(
    {
        "event_id": "ev-1",
        "restaurant": {"id": "r1", "name": "Krogen"},
        "connection_id": "c1",
        "export": {"kind": "z_report", "id": "z-1", "date": "2026-03-02", "voucher_series": "F"},
        "error": {"message": "Fel vid export: Verifikationsserien är inte manuell (F)"},
    }
)


def left_running(database: Database, run_id: str, failure: str, age: float) -> None:
    RunStore(database).write([Started(run_id, f"ev-{run_id}", "c1", "apply", failure)])
    with database.engine.begin() as conn:
        conn.execute(runs.update().where(runs.c.id == run_id).values(created_at=time.time() - age))


def test_a_dead_command_s_run_ends_failed_with_its_report(database: Database) -> None:
    left_running(database, "old", FAILURE, age=3600)
    left_running(database, "new", FAILURE, age=0)  # its command may still be working
    loads: list[Catalogue] = []

    def catalogue() -> Catalogue:
        loads.append(load_catalogue())
        return loads[-1]

    queue = QueueStore(database)
    assert end_interrupted(queue, catalogue, older_than=900) == ["old"]
    assert end_interrupted(queue, catalogue, older_than=900) == []
    assert len(loads) == 1  # the playbooks are read only when there is a run to end
    old, new = queue.queued("old"), queue.queued("new")
    assert (old.state, old.outcome, new.state) == (RunState.DONE, "failed", RunState.RUNNING)
    assert old.state_reason == f"the run could not be completed: {INTERRUPTED}"
    assert old.report is not None
    assert "make the run again" in old.report
    assert old.kind == "series_not_manual"  # recognised from the stored failure
    assert "before it stopped is not known here" in old.report  # never "nothing was changed"


def test_a_dead_command_s_report_counts_the_changes_its_stored_trail_shows(
    database: Database,
) -> None:
    """A command killed after Fortnox answered its writes stored them (``Logged``): its end
    says how many changes it made, and not that nothing is known."""
    left_running(database, "old", FAILURE, age=3600)
    answered = [
        RequestRecord(kind="api", method="GET", path="/3/voucherseries/F", status=200, duration=0),
        RequestRecord(kind="api", method="PUT", path="/3/voucherseries/F", status=200, duration=0),
        RequestRecord(kind="api", method="POST", path="/3/vouchers", status=500, duration=0),
    ]
    RunStore(database).write([Logged("old", answered)])
    queue = QueueStore(database)
    assert end_interrupted(queue, load_catalogue, older_than=900) == ["old"]
    report = json.loads(queue.queued("old").report or "{}")
    assert "Before it stopped it made 1 change(s) in Fortnox" in report["explanation"]["en"]
    assert "gjorde den 1 ändring(ar) i Fortnox" in report["explanation"]["sv"]
    assert [e.method for e in queue.audit("old")] == ["GET", "PUT", "POST"]  # kept, as it was


def test_a_run_whose_failure_cannot_be_read_gets_a_report_from_its_row(database: Database) -> None:
    left_running(database, "broken", "{not json", age=3600)
    queue = QueueStore(database)
    report = unfinished(queue.queued("broken"), load_catalogue(), "a reason")
    assert (report.outcome.value, report.recognition.matched_by) == ("failed", "none")
    assert "a reason" in report.summary.en
    with database.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(runs)).scalar_one() == 1
