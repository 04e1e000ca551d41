"""Storage for the service, on both dialects: the queue's store keeps RunStore's API for the
engine and the CLI. (Upgrades of older databases: tests/storage/test_migrations.py.)"""

from __future__ import annotations

from cryptography.fernet import Fernet

from remediator.fortnox import RequestRecord
from remediator.storage import Connection, ConnectionStore, Database, TokenCipher
from remediator.storage.queue import Intake, QueueStore, Settled
from remediator.storage.runs import RunState


def test_a_claimed_run_s_report_is_written_with_its_new_state(database: Database) -> None:
    ConnectionStore(database, TokenCipher(Fernet.generate_key())).add(
        Connection(id="c", label="C", client_id="x")
    )
    queue = QueueStore(database)
    intake = Intake("r1", "e1", "c", "series_missing", "2026-03-02", "{}", None)
    assert queue.accept(intake).created
    claimed = queue.claim("c")
    assert claimed is not None
    assert claimed.state is RunState.RUNNING
    queue.create("r1", event_id="e1", connection_id="c", mode="apply", failure_json="{}")
    record = RequestRecord(kind="api", method="GET", path="/3/me", status=200, duration=0.1)
    queue.finish("r1", report_json='{"mode": "apply"}', kind="k", outcome="fixed", records=[record])
    assert (queue.get("r1").report, queue.audit("r1")) == (None, [])  # not before it settles
    settled = queue.settle("r1", Settled(RunState.DONE, notify=True))
    assert (settled.state, settled.outcome, settled.mode, settled.report) == (
        RunState.DONE,
        "fixed",
        "apply",
        '{"mode": "apply"}',
    )
    assert [entry.path for entry in queue.audit("r1")] == ["/3/me"]
    assert settled.callback_state is None  # no callback_url


def test_a_claimed_run_s_mode_is_taken_as_given_without_reading_the_report(
    database: Database,
) -> None:
    ConnectionStore(database, TokenCipher(Fernet.generate_key())).add(
        Connection(id="c", label="C", client_id="x")
    )
    queue = QueueStore(database)
    queue.accept(Intake("r1", "e1", "c", "series_missing", "2026-03-02", "{}", None))
    assert queue.claim("c") is not None
    queue.finish("r1", report_json="{}", kind="k", outcome="fixed", records=[], mode="apply")
    assert queue.settle("r1", Settled(RunState.DONE)).mode == "apply"


def test_runs_of_other_doors_are_stored_as_by_the_run_store(database: Database) -> None:
    queue = QueueStore(database)
    queue.create("r1", event_id="e", connection_id="c", mode="plan", failure_json="{}")
    queue.finish("r1", report_json="{}", kind="k", outcome="would_fix", records=[])
    row = queue.get("r1")
    assert (row.state, row.outcome, row.mode) == (RunState.DONE, "would_fix", "plan")


def test_statuses_filter_and_count_runs_as_the_console_shows_them(database: Database) -> None:
    ConnectionStore(database, TokenCipher(Fernet.generate_key())).add(
        Connection(id="c", label="C", client_id="x")
    )
    queue = QueueStore(database)
    ends = {
        "r1": (Settled(RunState.AWAITING_REVIEW), "would_fix"),
        "r2": (Settled(RunState.DONE), "fixed"),
        "r3": (Settled(RunState.DONE), "failed"),
    }
    for n, run_id in enumerate([*ends, "r4"]):
        queue.accept(Intake(run_id, f"e{n}", "c", "k", f"2026-03-0{n + 1}", "{}", None))
    for run_id, (settled, outcome) in ends.items():
        assert queue.claim("c") is not None
        queue.finish(run_id, report_json="{}", kind="k", outcome=outcome, records=[], mode="plan")
        queue.settle(run_id, settled)
    assert queue.counts() == {"awaiting_review": 1, "fixed": 1, "failed": 1, "queued": 1}
    rows, total = queue.page(statuses=["awaiting_review", "failed"])
    assert (sorted(r.id for r in rows), total) == (["r1", "r3"], 2)
    assert queue.page(statuses=["fixed"], export_date="2026-03-02")[1] == 1
    assert queue.page(statuses=["fixed"], export_date="2026-03-03")[1] == 0


def _queued(database: Database, count: int) -> QueueStore:
    ConnectionStore(database, TokenCipher(Fernet.generate_key())).add(
        Connection(id="c", label="C", client_id="x")
    )
    queue = QueueStore(database)
    for n in range(count):
        queue.accept(Intake(f"r{n}", f"e{n}", "c", "k", f"2026-03-0{n + 1}", "{}", None))
    return queue


def test_runs_left_running_are_queued_again_until_their_attempts_run_out(
    database: Database,
) -> None:
    """No lease is held on the company (the process that claimed the run is gone)."""
    queue = _queued(database, 2)
    assert queue.claim("c") is not None  # r0
    assert queue.take_poisoned(60, max_attempts=2) == {}
    assert queue.recover(60) == ["r0"]
    assert (queue.queued("r0").state, queue.queued("r0").attempts) == (RunState.QUEUED, 1)
    assert queue.claim("c") is not None  # r0 again, interrupted again
    assert queue.take_poisoned(60, max_attempts=2) == {"r0": 2}
    assert queue.take_poisoned(60, max_attempts=2) == {}  # taken once, by one caller
    assert queue.recover(60) == []
    parked = queue.queued("r0")
    assert (parked.state, parked.attempts, parked.state_reason) == (
        RunState.DONE,
        2,
        "poison: interrupted as often as it may be",
    )
    assert queue.queued("r1").state is RunState.QUEUED


def test_runs_running_longer_than_a_limit_are_counted_stuck(database: Database) -> None:
    queue = _queued(database, 2)
    assert queue.stuck(60) == 0
    assert queue.claim("c") is not None
    assert queue.stuck(60) == 0
    assert queue.stuck(-1) == 1  # claimed before "now + 1 s"


def test_a_run_s_request_log_goes_on_where_its_last_pass_left_it(database: Database) -> None:
    """Two passes over one run, at two instances (a plan, then its apply once approved): the
    second pass's requests are numbered after the first's."""
    ConnectionStore(database, TokenCipher(Fernet.generate_key())).add(
        Connection(id="c", label="C", client_id="x")
    )
    other = Database(database.url)
    try:
        first, second = QueueStore(database), QueueStore(other)
        first.accept(Intake("r1", "e1", "c", "series_missing", "2026-03-02", "{}", None))
        for queue, paths in ((first, ["/3/me", "/3/financialyears"]), (second, ["/3/vouchers"])):
            assert queue.claim("c") is not None
            records = [
                RequestRecord(kind="api", method="GET", path=path, status=200, duration=0.1)
                for path in paths
            ]
            queue.finish(
                "r1", report_json="{}", kind="k", outcome="fixed", records=records, mode="plan"
            )
            queue.settle("r1", Settled(RunState.QUEUED, not_before=0.0))
        log = first.audit("r1")
        assert [(entry.seq, entry.path) for entry in log] == [
            (0, "/3/me"),
            (1, "/3/financialyears"),
            (2, "/3/vouchers"),
        ]
    finally:
        other.dispose()
