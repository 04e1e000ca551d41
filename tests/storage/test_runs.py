"""The run store, on both dialects: reports and audit trails, filtered and paged."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.exc import IntegrityError, OperationalError

from remediator.fortnox import RequestRecord
from remediator.runlog import RunLog
from remediator.storage import Connection, ConnectionStore, Database, TokenCipher
from remediator.storage.queue import Intake, QueueStore, Settled
from remediator.storage.runs import (
    Finished,
    Logged,
    RunState,
    RunStore,
    RunWrite,
    Started,
    UnknownRunError,
)


@pytest.fixture
def runs(database: Database) -> RunStore:
    return RunStore(database)


def test_create_finish_get_and_audit(runs: RunStore) -> None:
    runs.create("r1", event_id="e1", connection_id="c1", mode="plan", failure_json="{}")
    assert runs.get("r1").state is RunState.RUNNING
    records = [
        RequestRecord(
            kind="api", method="GET", path="/3/me", status=200, duration=0.01, tenant="1"
        ),
        RequestRecord(
            kind="token",
            method="POST",
            path="/oauth-v1/token",
            status=400,
            duration=0.02,
            grant_type="refresh_token",
            error="invalid_grant",
        ),
    ]
    runs.finish(
        "r1", report_json='{"x": 1}', kind="series_missing", outcome="would_fix", records=records
    )
    row = runs.get("r1")
    assert (row.state, row.kind, row.outcome, row.report) == (
        RunState.DONE,
        "series_missing",
        "would_fix",
        '{"x": 1}',
    )
    trail = runs.audit("r1")
    assert [(e.seq, e.method, e.path, e.status, e.grant_type) for e in trail] == [
        (0, "GET", "/3/me", 200, None),
        (1, "POST", "/oauth-v1/token", 400, "refresh_token"),
    ]


def test_find_filters_and_pages(runs: RunStore) -> None:
    for n in range(5):
        runs.create(
            f"r{n}",
            event_id=f"e{n}",
            connection_id="c1" if n % 2 else "c2",
            mode="apply",
            failure_json="{}",
        )
        runs.finish(
            f"r{n}", report_json="{}", kind="k", outcome="fixed" if n < 3 else "failed", records=[]
        )
    assert {r.id for r in runs.find(connection_id="c1")} == {"r1", "r3"}
    assert {r.id for r in runs.find(outcome="failed")} == {"r3", "r4"}
    assert len(runs.find(limit=2)) == 2
    assert len(runs.find(limit=2, offset=4)) == 1


def test_unknown_run(runs: RunStore) -> None:
    with pytest.raises(UnknownRunError, match="unknown run 'nope'"):
        runs.get("nope")


def _record(path: str) -> RequestRecord:
    return RequestRecord(kind="api", method="GET", path=path, status=200, duration=0.01)


def test_one_write_holds_many_runs_starts_and_ends_in_order(runs: RunStore) -> None:
    runs.write(
        [
            Started("a", "ea", "c1", "apply", "{}"),
            Started("b", "eb", "c1", "apply", "{}"),
            Finished("a", '{"a": 1}', "k", "fixed", [_record("/3/a0"), _record("/3/a1")]),
            Started("c", "ec", "c2", "plan", "{}"),
            Finished("b", '{"b": 1}', "k", "failed", [_record("/3/b0")]),
        ]
    )
    a, b, c = runs.get("a"), runs.get("b"), runs.get("c")
    assert (a.state, a.outcome, a.report) == (RunState.DONE, "fixed", '{"a": 1}')
    assert (b.state, b.outcome, b.report) == (RunState.DONE, "failed", '{"b": 1}')
    assert (c.state, c.outcome) == (RunState.RUNNING, None)
    assert [e.path for e in runs.audit("a")] == ["/3/a0", "/3/a1"]
    assert [e.path for e in runs.audit("b")] == ["/3/b0"]


async def test_the_run_log_writes_what_comes_together_in_one_batch(
    runs: RunStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches: list[int] = []
    write = runs.write

    def counted(writes: Sequence[RunWrite]) -> None:
        batches.append(len(writes))
        write(writes)

    monkeypatch.setattr(runs, "write", counted)
    log = RunLog(runs)
    await asyncio.gather(
        *(log.write(Started(f"r{n}", f"e{n}", "c", "apply", "{}")) for n in range(20))
    )
    assert sum(batches) == 20
    assert len(batches) < 20
    assert {runs.get(f"r{n}").state for n in range(20)} == {RunState.RUNNING}


async def test_what_the_store_keeps_goes_with_a_claimed_run_s_settle_and_no_thread(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run the service's worker claimed: its start and report are kept with the pass at once
    (each write through a thread cost ~0.16 ms of CPU), and its settle stores them."""
    ConnectionStore(database, TokenCipher(Fernet.generate_key())).add(
        Connection(id="c", label="C", client_id="x")
    )
    queue = QueueStore(database)
    queue.accept(Intake("r1", "e1", "c", "series_missing", "2026-03-01", "{}", None))
    assert queue.claim("c") is not None
    log = RunLog(queue)
    hops: list[object] = []

    async def no_thread(func: object, *args: object) -> None:
        hops.append(func)

    monkeypatch.setattr(asyncio, "to_thread", no_thread)
    record = RequestRecord(kind="api", method="POST", path="/3/vouchers", status=201, duration=0.1)
    await log.write(Started("r1", "e1", "c", "apply", "{}"))
    await log.write(
        Finished("r1", '{"mode": "apply"}', "series_missing", "fixed", [record], mode="apply")
    )
    assert hops == []
    monkeypatch.undo()
    queue.settle("r1", Settled(RunState.DONE))
    settled = queue.get("r1")
    assert (settled.state, settled.outcome, settled.report) == (
        RunState.DONE,
        "fixed",
        '{"mode": "apply"}',
    )
    assert [entry.path for entry in queue.audit("r1")] == ["/3/vouchers"]


async def test_a_bad_write_in_a_batch_fails_its_own_run_only(runs: RunStore) -> None:
    log = RunLog(runs)
    await log.write(Started("taken", "e", "c", "apply", "{}"))
    results = await asyncio.gather(
        log.write(Started("new", "e1", "c", "apply", "{}")),
        log.write(Started("taken", "e2", "c", "apply", "{}")),  # the same id: refused
        log.write(Started("other", "e3", "c", "apply", "{}")),
        return_exceptions=True,
    )
    assert results[0] is None
    assert isinstance(results[1], IntegrityError)
    assert results[2] is None
    assert runs.get("new").state is RunState.RUNNING
    assert runs.get("other").state is RunState.RUNNING


def _write(method: str, path: str, status: int) -> RequestRecord:
    return RequestRecord(kind="api", method=method, path=path, status=status, duration=0.01)


def test_a_run_s_logged_requests_and_its_end_make_one_trail_in_order(runs: RunStore) -> None:
    """What a run stored when a write was answered, then the rest with its end: one trail."""
    runs.write([Started("r", "e", "c", "apply", "{}")])
    runs.write([Logged("r", [_record("/3/read"), _write("PUT", "/3/x", 200)])])
    assert [(e.seq, e.path) for e in runs.audit("r")] == [(0, "/3/read"), (1, "/3/x")]
    assert runs.get("r").state is RunState.RUNNING  # the end is not written by a log
    runs.write([Finished("r", "{}", "k", "fixed", [_write("POST", "/3/v", 201)], first=2)])
    assert [(e.seq, e.path) for e in runs.audit("r")] == [(0, "/3/read"), (1, "/3/x"), (2, "/3/v")]


def claimed(database: Database, run_id: str = "r1") -> QueueStore:
    """A queue whose worker claimed ``run_id`` (connection ``c``)."""
    ConnectionStore(database, TokenCipher(Fernet.generate_key())).add(
        Connection(id="c", label="C", client_id="x")
    )
    queue = QueueStore(database)
    queue.accept(Intake(run_id, "e1", "c", "series_missing", "2026-03-01", "{}", None))
    assert queue.claim("c") is not None
    return queue


def test_a_pass_s_logged_requests_follow_what_it_kept_and_precede_its_end(
    database: Database,
) -> None:
    """A service pass plans (its trail kept with the pass), then applies: the apply's first
    answered write stores the plan's requests and its own at once, and the settle the rest.
    A pass after that one knows the changes the earlier ones made."""
    queue = claimed(database)
    assert queue.earlier("r1") == 0
    queue.write([Finished("r1", '{"mode": "plan"}', "k", "would_fix", [_record("/3/plan")])])
    assert queue.audit("r1") == []  # kept with the pass
    queue.write([Logged("r1", [_record("/3/apply"), _write("PUT", "/3/series/F", 200)])])
    assert [e.path for e in queue.audit("r1")] == ["/3/plan", "/3/apply", "/3/series/F"]
    queue.write(
        [Finished("r1", '{"mode": "apply"}', "k", "fixed", [_write("POST", "/3/v", 503)], first=2)]
    )
    queue.settle("r1", Settled(RunState.QUEUED, reason="Fortnox unavailable"))
    trail = [(e.seq, e.path) for e in queue.audit("r1")]
    assert trail == [(0, "/3/plan"), (1, "/3/apply"), (2, "/3/series/F"), (3, "/3/v")]
    assert queue.claim("c") is not None  # the next pass
    assert queue.earlier("r1") > 0
    assert (
        queue.changes("r1", before=queue.earlier("r1")) == 1
    )  # the PUT; the POST answered 503 made no change


def test_a_pass_s_log_that_fails_leaves_its_kept_requests_to_the_settle(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = claimed(database)
    queue.write([Finished("r1", '{"mode": "plan"}', "k", "would_fix", [_record("/3/plan")])])

    def refused(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("INSERT", {}, Exception("gone"))

    with monkeypatch.context() as patched:
        patched.setattr("remediator.storage.queue.write_transaction", refused)
        with pytest.raises(OperationalError):
            queue.write([Logged("r1", [_write("PUT", "/3/series/F", 200)])])
    # the log's own records stay with its writer (the engine's run: its end carries them)
    end = Finished("r1", "{}", "k", "fixed", [_write("PUT", "/3/series/F", 200)], mode="apply")
    queue.write([end])
    queue.settle("r1", Settled(RunState.DONE))
    assert [(e.seq, e.path) for e in queue.audit("r1")] == [(0, "/3/plan"), (1, "/3/series/F")]
