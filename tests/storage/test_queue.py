"""The service's queue shared by several instances, on both dialects: each run is claimed once,
a connection's runs one at a time and oldest export date first, a callback is taken by one
instance, and a run whose process died goes back to the queue once its company's lease is gone
(never while it is held); two instances receiving one event at once store one run. Each "instance" here is a QueueStore on a Database of its own."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any, cast

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlalchemy.exc import IntegrityError

from remediator.companies import company_key, connection_key
from remediator.errors import UnknownConnectionError, UsageError
from remediator.fortnox import RequestRecord
from remediator.storage import Connection, ConnectionStore, Database, TokenCipher
from remediator.storage import queue as queue_module
from remediator.storage.db import is_sqlite, runs
from remediator.storage.leases import LeaseStore
from remediator.storage.queue import Accepted, Due, Intake, QueueStore, Scheduled, Settled
from remediator.storage.runs import Finished, RunState, Started
from tests.storage.conftest import wait_expired
from tests.storage.meeting import meeting_at_insert

HOLD = 1.0  # a hold or lease that lasts while a test checks it holds (then it waits it out)


@pytest.fixture
def instances(database: Database) -> Iterator[list[QueueStore]]:
    """Three queues on one database, as three service instances see it."""
    others = [Database(database.url) for _ in range(2)]
    yield [QueueStore(d) for d in (database, *others)]
    for other in others:
        other.dispose()


def fill(database: Database, connections: int, days: int) -> None:
    store = ConnectionStore(database, TokenCipher(Fernet.generate_key()))
    for c in range(connections):
        store.add(Connection(id=f"c{c}", label=f"C{c}", client_id="x"))
    queue = QueueStore(database)
    # Later days arrive first: the claims must still go by export date.
    intakes = [
        Intake(
            f"r{c}-{d}", f"e{c}-{d}", f"c{c}", "series_missing", f"2026-03-{d + 1:02d}", "{}", None
        )
        for d in reversed(range(days))
        for c in range(connections)
    ]
    assert all(not isinstance(result, Exception) for result in queue.accept_many(intakes))


def test_a_connection_s_runs_are_claimed_one_at_a_time_oldest_day_first(
    database: Database, instances: list[QueueStore]
) -> None:
    fill(database, connections=1, days=3)
    first, second, _ = instances
    claimed = first.claim("c0")
    assert claimed is not None
    assert claimed.export_date == "2026-03-01"
    assert second.claim("c0") is None  # its day 1 is being worked elsewhere
    assert second.due_connections(set(), 10) == []
    first.settle(claimed.id, Settled(RunState.DONE))
    assert second.due_connections(set(), 10) == ["c0"]
    following = second.claim("c0")
    assert following is not None
    assert following.export_date == "2026-03-02"


def test_due_connections_go_longest_waiting_first_without_busy_running_or_leased_ones(
    database: Database, instances: list[QueueStore]
) -> None:
    store = ConnectionStore(database, TokenCipher(Fernet.generate_key()))
    first, second, _ = instances
    for c in range(6):  # c0's runs came first, c5's last
        store.add(Connection(id=f"c{c}", label=f"C{c}", client_id="x"))
        intakes = [
            Intake(
                f"r{c}-{d}", f"e{c}-{d}", f"c{c}", "series_missing", f"2026-03-0{d + 1}", "{}", None
            )
            for d in range(2)
        ]
        assert all(not isinstance(r, Exception) for r in first.accept_many(intakes))
        time.sleep(0.002)
    store.set_tenant("c2", "777")
    assert second.due_connections(set(), 10) == [f"c{c}" for c in range(6)]
    assert second.due_connections(set(), 2) == ["c0", "c1"]
    assert first.claim("c1") is not None  # c1 has a run running
    leases = LeaseStore(database)
    assert leases.acquire(company_key("777"), "instance-a", ttl=60)  # c2's company is held
    assert leases.acquire(connection_key("c3"), "instance-a", ttl=60)  # so is c3 (no company)
    assert second.due_connections({"c4"}, 10) == ["c0", "c5"]  # c4 is this instance's own
    assert leases.acquire(connection_key("c5"), "instance-b", ttl=0.1)
    time.sleep(0.2)  # an expired lease holds nothing
    assert second.due_connections(set(), 1) == ["c0"]
    assert second.due_connections({"c0"}, 10) == ["c4", "c5"]


def test_instances_claiming_at_once_take_each_run_once_in_order(
    database: Database, instances: list[QueueStore]
) -> None:
    """Six claimers on three instances, each claiming a connection's runs under its lease, as
    the service's drains do (``remediator.service.worker``). The lease is what makes a
    connection's runs one at a time: a claim alone, racing another on PostgreSQL, may read
    from before the other committed (``QueueStore.claim``)."""
    fill(database, connections=6, days=5)
    worked: dict[str, list[str]] = defaultdict(list)
    running: dict[str, int] = defaultdict(int)
    overlaps: list[str] = []
    guard = threading.Lock()
    leases = LeaseStore(database)

    def drain(queue: QueueStore, connection_id: str) -> None:
        while row := queue.claim(connection_id):
            with guard:
                running[connection_id] += 1
                if running[connection_id] > 1:
                    overlaps.append(row.id)
                worked[connection_id].append(row.export_date or "")
            time.sleep(0.002)
            with guard:
                running[connection_id] -= 1
            queue.settle(row.id, Settled(RunState.DONE))

    def work(queue: QueueStore) -> None:
        me = f"claimer-{threading.get_ident()}"
        while due := queue.due_connections(set(), 3):
            for connection_id in due:
                if leases.acquire(connection_key(connection_id), me, ttl=60):
                    drain(queue, connection_id)
                    leases.release(connection_key(connection_id), me)

    threads = [threading.Thread(target=work, args=(q,)) for q in instances for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == []
    days = [f"2026-03-{d:02d}" for d in range(1, 6)]
    assert dict(worked) == {f"c{c}": days for c in range(6)}
    assert instances[0].depth() == 0


def test_a_callback_is_taken_by_one_instance_and_due_again_after_its_hold(
    database: Database, instances: list[QueueStore]
) -> None:
    fill(database, connections=1, days=1)
    first, second, third = instances
    row = first.claim("c0")
    assert row is not None
    first.settle(row.id, Settled(RunState.DONE, notify=True))
    assert first.queued(row.id).callback_state is None  # no callback_url
    with database.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE runs SET callback_state = 'pending', callback_next_at = 0")
    held_from = time.time()
    taken = [q.claim_callbacks(hold_seconds=HOLD) for q in instances]
    assert sorted(len(t) for t in taken) == [0, 0, 1]
    assert third.claim_callbacks(hold_seconds=HOLD) == []
    # the instance that took it died before storing a result: due again once its hold is over
    while not (again := second.claim_callbacks(hold_seconds=60)):
        time.sleep(0.02)
    assert time.time() - held_from >= HOLD
    assert [r.id for r in again] == [row.id]


def test_a_running_run_goes_back_to_the_queue_only_once_its_company_s_lease_is_gone(
    database: Database, instances: list[QueueStore]
) -> None:
    fill(database, connections=2, days=1)
    ConnectionStore(database, TokenCipher(Fernet.generate_key())).set_tenant("c0", "555")
    first, second, _ = instances
    working, dead = first.claim("c0"), first.claim("c1")
    assert working is not None
    assert dead is not None
    leases = LeaseStore(database)
    assert leases.acquire(company_key("555"), "instance-a", ttl=60)
    assert leases.acquire(connection_key("c1"), "instance-a", ttl=HOLD)
    assert second.due_connections(set(), 10) == []  # both are being worked
    assert second.recover() == []
    wait_expired(leases, connection_key("c1"))  # c1's holder died: its lease ran out
    assert second.recover() == [dead.id]
    assert second.recover() == []
    assert second.due_connections(set(), 10) == ["c1"]


def test_a_cli_run_whose_process_died_is_taken_once_only_when_old_and_its_lease_gone(
    database: Database, instances: list[QueueStore]
) -> None:
    fill(database, connections=2, days=1)
    ConnectionStore(database, TokenCipher(Fernet.generate_key())).set_tenant("c0", "555")
    first, second, _ = instances
    service_run = first.claim("c1")  # a service run, its process gone: not the CLI's
    assert service_run is not None
    first.write([Started(f"cli-{c}", f"ev-{c}", c, "apply", "{}") for c in ("c0", "c1")])
    leases = LeaseStore(database)
    assert leases.acquire(company_key("555"), "remediator-fix", ttl=HOLD)  # c0's fix holds it
    assert second.take_interrupted(older_than=60) == []  # both started a moment ago
    assert second.take_interrupted(older_than=0) == ["cli-c1"]
    assert second.take_interrupted(older_than=0) == []  # taken once, however many look
    wait_expired(leases, company_key("555"))  # the fix of c0 died: its lease ran out
    assert first.take_interrupted(older_than=0) == ["cli-c0"]
    states = {row.id: row.state for row in (second.queued(i) for i in ("cli-c0", "cli-c1"))}
    assert states == {"cli-c0": RunState.DONE, "cli-c1": RunState.DONE}
    assert second.queued(service_run.id).state is RunState.RUNNING  # left to ``recover``


def test_a_run_of_an_unknown_connection_is_put_back_after_the_grace(
    database: Database, instances: list[QueueStore]
) -> None:
    fill(database, connections=1, days=1)
    row = instances[0].claim("c0")
    assert row is not None
    ConnectionStore(database, TokenCipher(Fernet.generate_key())).remove("c0")
    assert instances[1].recover(grace_seconds=60) == []
    assert instances[1].recover(grace_seconds=0) == [row.id]


def test_instances_receiving_one_event_at_once_store_one_run_and_the_rest_of_their_batches(
    database: Database, instances: list[QueueStore]
) -> None:
    fill(database, connections=1, days=0)
    first, second, _ = instances

    def intake(run_id: str, event_id: str) -> Intake:
        return Intake(run_id, event_id, "c0", "series_missing", "2026-03-01", "{}", None)

    # Each batch holds both shared events, in opposite orders, one event of its own, and the
    # first shared event again (a repeat within the batch answers the run that is stored).
    batches = {
        first: [
            intake("a1", "shared-1"),
            intake("a2", "shared-2"),
            intake("a3", "only-a"),
            intake("a4", "shared-1"),
        ],
        second: [
            intake("b2", "shared-2"),
            intake("b1", "shared-1"),
            intake("b3", "only-b"),
            intake("b4", "shared-1"),
        ],
    }
    answers: dict[QueueStore, list[Accepted | UsageError]] = {}
    timeout = 1.0 if is_sqlite(database.engine) else 10.0
    engines = [first._engine, second._engine]
    with meeting_at_insert(engines, timeout) as met:
        threads = [
            threading.Thread(target=lambda q=q: answers.update({q: q.accept_many(batches[q])}))
            for q in batches
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if not is_sqlite(database.engine):
        assert met == [True, True]  # both had looked, found nothing, and inserted at once
    assert all(isinstance(a, Accepted) for found in answers.values() for a in found)
    a, b = ([cast("Accepted", x) for x in answers[q]] for q in (first, second))
    for ours, theirs in ((a[0], b[1]), (a[1], b[0])):  # shared-1, shared-2
        assert ours.run.id == theirs.run.id
        assert sorted([ours.created, theirs.created]) == [False, True]
        assert ours.run.event_id == theirs.run.event_id
    assert (a[2].created, b[2].created) == (True, True)
    for repeat in (a[3], b[3]):
        assert (repeat.run.id, repeat.created) == (a[0].run.id, False)
    with database.engine.connect() as conn:
        stored = sorted(conn.execute(sa.select(runs.c.event_id)).scalars())
    assert stored == ["only-a", "only-b", "shared-1", "shared-2"]
    again = second.accept(intake("c1", "shared-1"))
    assert (again.run.id, again.created) == (a[0].run.id, False)


def test_a_batch_stores_its_new_events_and_answers_the_rest_each_as_it_stands(
    database: Database,
) -> None:
    fill(database, connections=1, days=0)
    queue = QueueStore(database)

    def intake(run_id: str, event_id: str, connection_id: str = "c0") -> Intake:
        return Intake(run_id, event_id, connection_id, "series_missing", "2026-03-01", "{}", None)

    before = queue.accept(intake("old", "seen"))
    answers = queue.accept_many(
        [
            intake("n1", "new"),
            intake("s1", "seen"),
            intake("x1", "stranger", connection_id="nobody"),
            intake("n2", "new"),  # the same event again in the batch
            intake("m1", "more"),
        ]
    )
    kinds = [Accepted, Accepted, UnknownConnectionError, Accepted, Accepted]
    assert [type(answer) for answer in answers] == kinds
    assert cast("UnknownConnectionError", answers[2]).connection_id == "nobody"
    new, seen, _, repeat, more = (cast("Accepted", answer) for answer in answers)
    assert (new.run.id, new.created, new.run.state) == ("n1", True, RunState.QUEUED)
    assert (repeat.run.id, repeat.created) == ("n1", False)
    assert (seen.run.id, seen.created) == (before.run.id, False)
    assert (more.run.id, more.created) == ("m1", True)
    with database.engine.connect() as conn:
        stored = conn.execute(sa.select(runs.c.id, runs.c.event_id).order_by(runs.c.id)).all()
    assert [tuple(row) for row in stored] == [("m1", "more"), ("n1", "new"), ("old", "seen")]
    assert queue.queued("n1").model_dump() == new.run.model_dump()


def test_a_stored_intake_keeps_every_value_of_its_row_as_it_was(database: Database) -> None:
    fill(database, connections=2, days=0)
    odd = 'quotes " and \\ backslashes, \\u0041 as text, ÅÄÖ, \u2028 and 🧾'
    intakes = [
        Intake(
            "r1", f"e1 {odd}", "c0", "series_missing", "2026-03-01", json.dumps({"m": odd}), None
        ),
        Intake(
            "r2", "e2", "c1", "account_inactive", "2026-03-02", "{}", "https://bo.test/cb?a=1&b=ö"
        ),
    ]
    before = time.time()
    assert all(isinstance(a, Accepted) for a in QueueStore(database).accept_many(intakes))
    with database.engine.connect() as conn:
        stored = {row["id"]: row for row in conn.execute(sa.select(runs)).mappings()}
    for intake in intakes:
        row = stored[intake.run_id]
        now = row["created_at"]
        assert before <= now <= time.time()
        assert {key: row[key] for key in intake.row(now)} == intake.row(now)


def test_the_cli_s_and_the_check_ahead_s_runs_may_share_an_event_id(database: Database) -> None:
    fill(database, connections=1, days=0)
    queue = QueueStore(database)
    queue.create("cli-1", event_id="e", connection_id="c0", mode="plan", failure_json="{}")
    queue.create("cli-2", event_id="e", connection_id="c0", mode="plan", failure_json="{}")
    for run_id in ("s1", "s2"):
        queue.start_scheduled(
            Scheduled(run_id, "ahead:e", "c0", "series_missing", "2026-03-01", "{}")
        )
    accepted = queue.accept(Intake("svc", "e", "c0", "series_missing", "2026-03-01", "{}", None))
    assert (accepted.run.id, accepted.created) == ("svc", True)
    # An event the check ahead holds is answered with its (oldest) run, as a repeat is.
    ahead = queue.accept(
        Intake("svc2", "ahead:e", "c0", "series_missing", "2026-03-01", "{}", None)
    )
    assert (ahead.run.id, ahead.created) == ("s1", False)
    # The database itself holds the service's key.
    with pytest.raises(IntegrityError), database.engine.begin() as conn:
        conn.execute(
            runs.insert().values(
                Intake("dup", "e", "c0", "series_missing", "2026-03-01", "{}", None).row(0)
            )
        )


def test_a_drain_learns_the_vouchers_of_its_connection_s_due_runs(database: Database) -> None:
    store = ConnectionStore(database, TokenCipher(Fernet.generate_key()))
    store.add(Connection(id="c0", label="C0", client_id="x"))
    queue = QueueStore(database)

    def failure(day: str) -> str:
        voucher = {"VoucherSeries": "f", "TransactionDate": day}
        return json.dumps({"export": {"voucher": voucher}})

    queue.accept_many(
        [
            Intake("r2", "e2", "c0", "account_inactive", "2026-03-02", failure("2026-03-02"), None),
            Intake("r1", "e1", "c0", "account_inactive", "2026-03-01", failure("2026-03-01"), None),
            Intake("r3", "e3", "c0", "account_inactive", "2026-03-03", failure("2026-03-03"), None),
            Intake("rx", "ex", "c0", "preflight", "2026-03-04", "{}", None),  # no voucher
        ]
    )
    claimed = queue.claim("c0")
    assert claimed is not None  # being worked: not due any more
    queue.settle("r3", Settled(RunState.QUEUED, not_before=time.time() + 600))  # later
    due = queue.due_vouchers("c0")
    assert due.vouchers == [("f", date(2026, 3, 2))]
    assert due.runs == {"r2", "rx"}  # a run without a voucher is due all the same
    assert queue.due_vouchers("c1") == Due(frozenset(), [])


def test_a_drain_s_looks_parse_each_due_run_s_failure_once(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ConnectionStore(database, TokenCipher(Fernet.generate_key()))
    store.add(Connection(id="c0", label="C0", client_id="x"))
    queue = QueueStore(database)
    parsed: list[str] = []
    voucher_of = queue_module._voucher_of

    def counted(failure_json: str) -> tuple[str, date] | None:
        parsed.append(failure_json)
        return voucher_of(failure_json)

    monkeypatch.setattr(queue_module, "_voucher_of", counted)

    def intake(run: str, day: str) -> Intake:
        failure = json.dumps(
            {"export": {"voucher": {"VoucherSeries": "F", "TransactionDate": day}}}
        )
        return Intake(run, f"e-{run}", "c0", "account_inactive", day, failure, None)

    queue.accept_many([intake("r1", "2026-03-01"), intake("r2", "2026-03-02")])
    assert queue.due_vouchers("c0").vouchers == [("F", date(2026, 3, 1)), ("F", date(2026, 3, 2))]
    assert queue.due_vouchers("c0").vouchers == [("F", date(2026, 3, 1)), ("F", date(2026, 3, 2))]
    assert len(parsed) == 2  # the second look parsed nothing again
    queue.accept_many([intake("r3", "2026-03-03")])
    assert queue.due_vouchers("c0").vouchers[-1] == ("F", date(2026, 3, 3))
    assert len(parsed) == 3
    assert "2026-03-03" in parsed[-1]
    assert queue.claim("c0") is not None  # r1 is being worked: not due any more
    assert queue.due_vouchers("c0").vouchers == [("F", date(2026, 3, 2)), ("F", date(2026, 3, 3))]
    assert len(parsed) == 3


def plans_of(database: Database, call: Callable[[], object]) -> list[str]:
    """SQLite's plan of each step on ``runs`` of every read that ``call`` makes."""
    reads: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE")):
            reads.append((statement, parameters))

    sa.event.listen(database.engine, "before_cursor_execute", keep)
    try:
        call()
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", keep)
    with database.engine.connect() as conn:
        return [
            str(step[3])
            for statement, parameters in reads
            for step in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            if " runs " in f" {step[3]} "
        ]


def intakes(count: int) -> list[Intake]:
    return [
        Intake(f"r{n}", f"e{n}", "c0", "series_missing", "2026-03-01", "{}", None)
        for n in range(count)
    ]


@pytest.mark.parametrize(
    ("call", "index"),
    [
        (lambda q: q.accept_many(intakes(6)), "event_id"),  # a batch: SQLite plans by its size
        (lambda q: q.last_fix("c0", "series_missing"), "connection_id"),
    ],
    ids=["intake", "last_fix"],
)
def test_reads_of_one_event_or_connection_go_by_its_index_on_sqlite(
    tmp_path: Path, call: Callable[[QueueStore], object], index: str
) -> None:
    """Not by the origin's, which holds every run of the queue: intake's look took it, and its
    cost grew with every failure ever stored (0.95 ms a batch at 6,000 runs, 4.06 ms at
    30,000); a worker's last_fix, once for each run it works, read every connection's runs of
    the kind."""
    database = Database(f"sqlite:///{tmp_path / 'plans.db'}")
    fill(database, connections=1, days=0)
    plans = plans_of(database, lambda: call(QueueStore(database)))
    database.dispose()
    assert plans
    assert all(index in step for step in plans), plans


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_settle_with_its_request_log_is_one_statement_in_autocommit_on_postgresql(
    database: Database,
) -> None:
    """The run's report, its request log and its new state in one statement, its own
    transaction: one round trip, where ``BEGIN``, the log's insert, the update and ``COMMIT``
    made four. (SQLite, which has no insert inside a ``WITH``, writes the two statements in
    one write transaction.)"""
    fill(database, connections=1, days=1)
    queue = QueueStore(database)
    claimed = queue.claim("c0")
    assert claimed is not None
    records = [
        RequestRecord(kind="api", method=method, path=path, status=status, duration=0.05)
        for method, path, status in (("GET", "/3/vouchers", 200), ("POST", "/3/vouchers", 201))
    ]
    assert queue.keep(
        Finished(claimed.id, '{"mode": "apply"}', "k", "fixed", records, mode="apply")
    )
    sent: list[tuple[str, bool]] = []

    def note(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append((statement.lstrip().split()[0], conn.connection.driver_connection.autocommit))

    sa.event.listen(database.engine, "before_cursor_execute", note)
    try:
        settled = queue.settle(claimed.id, Settled(RunState.DONE))
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", note)
    assert sent == [("WITH", True)]
    assert (settled.state, settled.outcome) == (RunState.DONE, "fixed")
    assert [(e.method, e.path, e.status) for e in queue.audit(claimed.id)] == [
        ("GET", "/3/vouchers", 200),
        ("POST", "/3/vouchers", 201),
    ]
