"""Workers: apply what policy allows, stop at review otherwise, join runs of a kind, date
order, a fix that does not hold, retries of an unavailable Fortnox."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from remediator.actions import ACTIONS, Context
from remediator.companies import KEY_PREFIXES
from remediator.report import Step
from remediator.service.worker import INSTANCE, LOOK_GAP_SECONDS, share
from remediator.storage.leases import Census, Taken, this_process
from remediator.storage.queue import Due, QueuedRun, QueueStore
from remediator.storage.runs import Finished, RunStore, RunWrite
from tests.service.conftest import (
    AUTH,
    Harness,
    TestClient,
    harness_for,
    post_failure,
    wait_for,
    wait_until,
)


def account_3001(harness: Harness) -> bool:
    company = next(iter(harness.sandbox.world.companies.values()))
    return company.accounts[2][3001].active


def writes(harness: Harness) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in harness.sandbox.writes()]


def test_a_safe_playbook_is_applied_and_the_voucher_resent(harness: Harness) -> None:
    with harness.client() as client:
        harness.connect(client)
        run_id = post_failure(client, harness.failure()).json()["run_id"]
        run = wait_for(client, run_id)
    assert (run["state"], run["outcome"], run["mode"]) == ("done", "fixed", "apply")
    assert run["report"]["resent"] is True
    assert account_3001(harness)
    assert writes(harness) == [("PUT", "/3/accounts/3001"), ("POST", "/3/vouchers")]
    assert [v["TransactionDate"] for v in harness.vouchers()] == ["2026-03-02"]


def test_a_new_connections_first_refresh_is_in_its_first_runs_audit_trail(
    harness: Harness,
) -> None:
    """The drain learns the company (a refresh) before any run starts: the run it was for
    records that token call all the same, so every request sent is in some run's trail."""
    example = harness.sandbox.example("z_report")
    grant = next(g for g in harness.sandbox.world.state.grants if g.name == example["grant"])
    app = harness.app()
    with harness.client(app) as client:
        seen = len(harness.sandbox.requests)
        registered = client.put(  # without its tenant: the first turn learns the company
            f"/v1/connections/{harness.connection_id}",
            headers=AUTH,
            json={"label": "Bistro", "refresh_token": grant.refresh_token},
        )
        assert registered.json()["tenant_id"] is None
        run_id = post_failure(client, harness.failure()).json()["run_id"]
        run = wait_for(client, run_id)
        audited = app.state.service.runtime.runs.audit(run_id)
        learnt = client.get(f"/v1/connections/{harness.connection_id}", headers=AUTH).json()
    assert run["outcome"] == "fixed"
    assert learnt["tenant_id"] == grant.tenant_id
    sent = [r["path"] for r in harness.sandbox.requests[seen:]]
    assert sent.count("/oauth-v1/token") == 1
    assert [e.path for e in audited] == sent


def test_a_run_planned_then_applied_reads_the_year_and_the_chart_once(harness: Harness) -> None:
    """The plan reads them under the company's turn and keeps them for its apply."""
    with harness.client() as client:
        harness.connect(client)
        seen = len(harness.sandbox.requests)
        run = wait_for(client, post_failure(client, harness.failure()).json()["run_id"])
    calls = [
        (r["method"], r["path"]) for r in harness.sandbox.requests[seen:] if r["path"][:3] == "/3/"
    ]
    assert (run["outcome"], run["mode"]) == ("fixed", "apply")
    assert calls == [
        ("GET", "/3/financialyears"),  # the plan: the year, the chart, the duplicate search
        ("GET", "/3/accounts"),
        ("GET", "/3/vouchers"),
        ("PUT", "/3/accounts/3001"),  # the apply: the fix, the search again, the voucher
        ("GET", "/3/vouchers"),
        ("POST", "/3/vouchers"),
    ]


def counted_looks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The connections of the drains' looks at their due runs, as they come."""
    looks: list[str] = []
    due_vouchers = QueueStore.due_vouchers

    def counted(queue: QueueStore, connection_id: str, limit: int = 500) -> Due:
        looks.append(connection_id)
        return due_vouchers(queue, connection_id, limit)

    monkeypatch.setattr(QueueStore, "due_vouchers", counted)
    return looks


def test_ten_failures_of_one_kind_are_one_fix_and_ten_vouchers_in_date_order(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    looks = counted_looks(monkeypatch)
    # The burst makes ~45 requests; the rate limit itself is the connector's, tested there.
    monkeypatch.setattr(harness.sandbox.world, "admit", lambda *_: True)
    days = [f"2026-02-{day:02d}" for day in range(18, 28)]
    shuffled = random.Random(5).sample(days, len(days))
    app = harness.app(rate_limit_requests=1000)
    queued = TestClient(app)  # no workers yet: the burst is stored first
    harness.connect(queued)
    ids = {
        day: post_failure(queued, harness.failure(f"evt-{day}", day=day)).json()["run_id"]
        for day in shuffled
    }
    with harness.client(app) as client:
        runs = {day: wait_for(client, run_id) for day, run_id in ids.items()}
    leader = ids[days[0]]
    assert {r["outcome"] for r in runs.values()} == {"fixed"}
    assert runs[days[0]]["joined_to"] is None
    assert {runs[day]["joined_to"] for day in days[1:]} == {leader}
    assert writes(harness) == [("PUT", "/3/accounts/3001")] + [("POST", "/3/vouchers")] * 10
    assert [v["TransactionDate"] for v in harness.vouchers()] == days
    # the drain named its queued runs' vouchers: after the first run's plan (its own day), one
    # duplicate search covered the days of all ten
    searches = [
        r["query"].split("&")[2:4]
        for r in harness.sandbox.requests
        if (r["method"], r["path"]) == ("GET", "/3/vouchers")
    ]
    assert searches == [
        ["fromdate=2026-02-18", "todate=2026-02-18"],
        ["fromdate=2026-02-18", "todate=2026-02-27"],
    ]
    # nothing came after the drain's first look: it looked once
    assert looks == [harness.connection_id]


def test_a_failure_arriving_during_a_run_joins_it(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    looks = counted_looks(monkeypatch)
    harness.sandbox.set_faults(latency=0.05)
    with harness.client() as client:
        harness.connect(client)
        first = post_failure(client, harness.failure("evt-1", day="2026-03-01")).json()["run_id"]
        wait_for(client, first, ("running",))
        second = post_failure(client, harness.failure("evt-2", day="2026-03-02")).json()
        runs = [wait_for(client, first), wait_for(client, second["run_id"])]
    assert [r["outcome"] for r in runs] == ["fixed", "fixed"]
    assert runs[1]["joined_to"] == first
    assert writes(harness).count(("PUT", "/3/accounts/3001")) == 1
    # the drain looked at its due runs when it began, and again when it claimed the second,
    # which came after that look
    assert looks == [harness.connection_id] * 2


def test_a_fix_that_does_not_hold_is_not_repeated(harness: Harness) -> None:
    with harness.client(harness.app(join_seconds=0)) as client:
        harness.connect(client)
        first = post_failure(client, harness.failure("evt-1")).json()["run_id"]
        assert wait_for(client, first)["outcome"] == "fixed"
        company = next(iter(harness.sandbox.world.companies.values()))
        company.accounts[2][3001].active = False  # someone deactivates it again
        before = len(harness.sandbox.writes())
        second = post_failure(client, harness.failure("evt-2", day="2026-03-03")).json()
        run = wait_for(client, second["run_id"])
    assert (run["state"], run["outcome"], run["state_reason"]) == (
        "done",
        "manual_action_required",
        "fix_did_not_hold",
    )
    assert run["report"]["summary"]["en"].startswith("The fix did not hold")
    assert "Find out who or what changes the setting back" in run["report"]["manual_steps"]["en"][0]
    assert len(harness.sandbox.writes()) == before
    assert not account_3001(harness)


def test_a_plan_policy_wants_reviewed_waits_then_is_applied_with_the_approver(
    tmp_path: object,
) -> None:
    harness = harness_for("series_not_manual", tmp_path)  # type: ignore[arg-type]
    with harness.client() as client:
        harness.connect(client)
        client.put(
            f"/v1/connections/{harness.connection_id}",
            headers=AUTH,
            json={"policy": {"set_manual": "review"}},
        ).raise_for_status()
        run_id = post_failure(client, harness.failure()).json()["run_id"]
        waiting = wait_for(client, run_id)
        assert (waiting["state"], waiting["outcome"], waiting["mode"]) == (
            "awaiting_review",
            "would_fix",
            "plan",
        )
        assert harness.sandbox.writes() == []
        refused = client.post(f"/v1/runs/{run_id}/apply", headers=AUTH, json={})
        assert refused.status_code == 422
        answer = client.post(f"/v1/runs/{run_id}/apply", headers=AUTH, json={"approved_by": "Eva"})
        assert answer.status_code == 202, answer.text
        done = wait_for(client, run_id, ("done",))
        again = client.post(f"/v1/runs/{run_id}/apply", headers=AUTH, json={"approved_by": "Eva"})
    assert (done["outcome"], done["approved_by"]) == ("fixed", "Eva")
    assert done["approved_at"] is not None
    assert writes(harness) == [("PUT", "/3/voucherseries/F"), ("POST", "/3/vouchers")]
    assert again.status_code == 409


def test_a_stale_plan_is_refused_and_planned_again(tmp_path: object) -> None:
    harness = harness_for("series_not_manual", tmp_path)  # type: ignore[arg-type]
    with harness.client() as client:
        harness.connect(client)
        client.put(
            f"/v1/connections/{harness.connection_id}",
            headers=AUTH,
            json={"policy": {"set_manual": "review", "resend_voucher": "review"}},
        ).raise_for_status()
        run_id = post_failure(client, harness.failure()).json()["run_id"]
        assert wait_for(client, run_id)["state"] == "awaiting_review"
        company = next(iter(harness.sandbox.world.companies.values()))
        company.series[2]["F"].manual = True  # fixed by hand meanwhile
        answer = client.post(f"/v1/runs/{run_id}/apply", headers=AUTH, json={"approved_by": "Eva"})
        assert answer.status_code == 409
        assert any("series_manual" in line for line in answer.json()["differences"])
        replanned = wait_for(client, run_id, ("awaiting_review",), timeout=5)
        run = client.get(f"/v1/runs/{run_id}", headers=AUTH).json()
    assert replanned["report"]["steps"][1]["status"] == "ok"
    assert run["approved_by"] is None
    assert harness.sandbox.writes() == []


def test_access_still_denied_ends_with_who_must_grant_what_and_books_nothing(
    tmp_path: object,
) -> None:
    """The re-send is the only check of the user's right: Fortnox refuses it (nothing booked)
    and the run ends with the instructions."""
    harness = harness_for("access_denied", tmp_path)  # type: ignore[arg-type]
    with harness.client() as client:
        harness.connect(client)
        run = wait_for(client, post_failure(client, harness.failure()).json()["run_id"])
    assert (run["state"], run["outcome"]) == ("done", "manual_action_required")
    assert any("Bokföring" in line for line in run["report"]["manual_steps"]["sv"])
    assert [(w["method"], w["path"], w["status"]) for w in harness.sandbox.writes()] == [
        ("POST", "/3/vouchers", 403)
    ]
    assert harness.vouchers() == []


def test_fortnox_unavailable_is_retried_with_a_cap(tmp_path: object) -> None:
    harness = harness_for("healthy", tmp_path)  # type: ignore[arg-type]
    harness.sandbox.set_faults(error_rate={"/3/companyinformation": 1.0})
    with harness.client() as client:
        harness.connect(client)
        run = wait_for(client, post_failure(client, harness.failure()).json()["run_id"])
    assert (run["state"], run["outcome"], run["attempts"]) == ("done", "failed", 2)
    calls = [r for r in harness.sandbox.requests if r["path"] == "/3/companyinformation"]
    assert len(calls) == 3  # the first pass and two retries
    assert harness.vouchers() == []


def test_fortnox_unavailable_then_back_resends_once(tmp_path: object) -> None:
    harness = harness_for("healthy", tmp_path)  # type: ignore[arg-type]
    harness.sandbox.set_faults(error_rate={"/3/companyinformation": 1.0})
    with harness.client(harness.app(unavailable_retry_seconds=0.3)) as client:
        harness.connect(client)
        run_id = post_failure(client, harness.failure()).json()["run_id"]
        queued = wait_for(client, run_id, ("queued",))
        while queued["attempts"] == 0:
            queued = client.get(f"/v1/runs/{run_id}", headers=AUTH).json()
        harness.sandbox.set_faults()
        run = wait_for(client, run_id, ("done",))
    assert queued["state_reason"].startswith("Fortnox unavailable")
    assert (run["outcome"], run["attempts"]) == ("fixed", 1)
    assert len(harness.vouchers()) == 1


def test_a_run_the_engine_cannot_complete_still_ends_with_a_report(harness: Harness) -> None:
    app = harness.app()
    queued = TestClient(app)
    harness.connect(queued)
    run_id = post_failure(queued, harness.failure()).json()["run_id"]
    app.state.service.runtime.store.remove(harness.connection_id)  # gone before the run
    with harness.client(app) as client:
        run = wait_for(client, run_id)
    assert (run["state"], run["outcome"]) == ("done", "failed")
    assert run["state_reason"].startswith("the run could not be completed: unknown connection")
    assert run["report"]["summary"]["en"].startswith("Failed: the run could not be completed")
    assert harness.sandbox.writes() == []


def test_a_late_failure_after_a_fix_that_holds_is_just_resent(harness: Harness) -> None:
    with harness.client(harness.app(join_seconds=0)) as client:
        harness.connect(client)
        first = post_failure(client, harness.failure("evt-1")).json()["run_id"]
        assert wait_for(client, first)["outcome"] == "fixed"
        second = post_failure(client, harness.failure("evt-2", day="2026-03-03")).json()
        run = wait_for(client, second["run_id"])
    assert (run["outcome"], run["state_reason"]) == ("fixed", None)
    assert writes(harness) == [
        ("PUT", "/3/accounts/3001"),
        ("POST", "/3/vouchers"),
        ("POST", "/3/vouchers"),
    ]


def test_a_failure_soon_after_a_run_of_its_kind_joins_it_without_planning(
    harness: Harness,
) -> None:
    with harness.client() as client:
        harness.connect(client)
        first = post_failure(client, harness.failure("evt-1")).json()["run_id"]
        assert wait_for(client, first)["outcome"] == "fixed"
        reads = len(harness.sandbox.requests)
        second = post_failure(client, harness.failure("evt-2", day="2026-03-03")).json()
        run = wait_for(client, second["run_id"])
    assert (run["outcome"], run["joined_to"], run["mode"]) == ("fixed", first, "apply")
    paths = [r["path"] for r in harness.sandbox.requests[reads:]]
    # One run (apply), no plan before it (a plan recalls nothing: it would read the year and
    # the chart); the company's memory answers the year and the chart, so the joined run
    # makes the duplicate search and the POST only.
    assert paths == ["/3/vouchers", "/3/vouchers"]
    assert writes(harness) == [
        ("PUT", "/3/accounts/3001"),
        ("POST", "/3/vouchers"),
        ("POST", "/3/vouchers"),
    ]


def test_runs_joining_a_fix_still_stop_for_review_when_the_policy_says_so(
    harness: Harness,
) -> None:
    """A fix applied, then the restaurant's policy asks for review of re-sends: failures that
    would join the fix wait for a person instead of ending manual_action_required."""
    with harness.client() as client:
        harness.connect(client)
        first = post_failure(client, harness.failure("evt-1")).json()["run_id"]
        assert wait_for(client, first)["outcome"] == "fixed"
        answer = client.put(
            f"/v1/connections/{harness.connection_id}",
            headers=AUTH,
            json={"policy": {"resend_voucher": "review"}},
        )
        assert answer.status_code == 200, answer.text
        later = [
            post_failure(client, harness.failure(f"evt-{n}", day=f"2026-03-0{n}")).json()
            for n in (3, 4, 5)
        ]
        runs = [wait_for(client, run["run_id"]) for run in later]
    assert [(r["state"], r["joined_to"]) for r in runs] == [("awaiting_review", None)] * 3
    assert writes(harness) == [("PUT", "/3/accounts/3001"), ("POST", "/3/vouchers")]
    assert [v["TransactionDate"] for v in harness.vouchers()] == ["2026-03-02"]


def test_a_drain_whose_company_another_process_holds_leaves_at_once_and_comes_back(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dispatcher saw the company free, but another process took its lease first: the
    drain leaves instead of polling the lease, and a later look works the run, once."""
    app = harness.app(worker_poll_seconds=0.1)
    store = app.state.service.runtime.engine.companies.leases.store
    take, refused = store.take, threading.Event()
    refused.set()
    tries: list[str] = []

    def elsewhere(key: str, owner: str, ttl: float) -> Taken | None:
        tries.append(key)
        return None if refused.is_set() else take(key, owner, ttl)

    monkeypatch.setattr(store, "take", elsewhere)
    with harness.client(app) as client:
        harness.connect(client)
        run_id = post_failure(client, harness.failure()).json()["run_id"]
        workers = app.state.service.workers
        wait_until(lambda: len(tries) >= 3 and workers.busy() == 0)  # no drain stays waiting
        assert wait_for(client, run_id, ("queued",))["state"] == "queued"
        refused.clear()
        run = wait_for(client, run_id)
    assert run["outcome"] == "fixed"
    assert writes(harness).count(("POST", "/3/vouchers")) == 1


@pytest.mark.parametrize(
    ("census", "mine", "due", "expected"),
    [
        (Census(instances=1, companies_elsewhere=40), 0, 500, 32),  # alone: all it can
        (Census(instances=0, companies_elsewhere=0), 3, 9, 32),  # its presence not yet seen
        (Census(instances=2, companies_elsewhere=0), 0, 500, 32),  # half is more than it can
        (Census(instances=2, companies_elsewhere=0), 0, 40, 20),  # the first look at a burst
        (Census(instances=2, companies_elsewhere=20), 0, 21, 21),  # the other took its share
        (Census(instances=3, companies_elsewhere=10), 12, 0, 8),  # over: hands 4 back
        (Census(instances=2, companies_elsewhere=1), 0, 0, 1),  # never less than one
    ],
)
def test_an_instance_takes_its_share_of_the_companies_in_play(
    census: Census, mine: int, due: int, expected: int
) -> None:
    assert share(census, mine, due, concurrency=32) == expected


def test_an_instance_with_workers_is_present_while_it_runs(harness: Harness) -> None:
    app = harness.app()
    store = app.state.service.runtime.engine.companies.leases.store
    key = f"{INSTANCE}{this_process()}"
    with harness.client(app):
        assert store.census(INSTANCE, KEY_PREFIXES, "elsewhere:1").instances == 1
        held = store.holder(key)
        assert held is not None
        assert held.expires_at > store.now()
    assert store.holder(key) is None  # deleted when it stopped
    with harness.client(harness.app(worker_concurrency=0)):  # intake only: not at work
        assert store.census(INSTANCE, KEY_PREFIXES, "elsewhere:1").instances == 0


def test_the_database_calls_are_made_by_database_threads_threads(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = harness.app(database_threads=2)
    queue = app.state.service.workers.queue
    claim, settle, names = queue.claim, queue.settle, set()

    def claimed(connection_id: str) -> QueuedRun | None:
        names.add(threading.current_thread().name)
        run: QueuedRun | None = claim(connection_id)
        return run

    def settled(run_id: str, how: Any) -> QueuedRun:
        names.add(threading.current_thread().name)
        run: QueuedRun = settle(run_id, how)
        return run

    monkeypatch.setattr(queue, "claim", claimed)
    monkeypatch.setattr(queue, "settle", settled)
    with harness.client(app) as client:
        harness.connect(client)
        run_ids = [
            post_failure(client, harness.failure(f"evt-{d}", day=f"2026-03-0{d}")).json()["run_id"]
            for d in range(1, 6)
        ]
        assert {wait_for(client, run_id)["outcome"] for run_id in run_ids} == {"fixed"}
    assert names
    assert {name.rsplit("_", 1)[0] for name in names} == {"remediator-db"}
    assert len(names) <= 2


def test_wake_ups_close_together_share_one_look_at_the_queue(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every accepted failure wakes the dispatcher, and its look groups every queued run: a
    stream of intake is looked at once per ``LOOK_GAP_SECONDS``, not once per failure."""
    app = harness.app()
    queue = app.state.service.workers.queue
    due_connections, looks = queue.due_connections, []

    def counted(busy: set[str], limit: int) -> list[str]:
        looks.append(time.monotonic())
        found: list[str] = due_connections(busy, limit)
        return found

    monkeypatch.setattr(queue, "due_connections", counted)
    days = [f"2026-02-{day:02d}" for day in range(1, 29)]
    with harness.client(app) as client:
        harness.connect(client)
        run_ids = [
            post_failure(client, harness.failure(f"evt-{day}", day=day)).json()["run_id"]
            for day in days
        ]
        assert {wait_for(client, run_id)["outcome"] for run_id in run_ids} == {"fixed"}
    # at most one look per gap (a look may start late in its gap, after the look back)
    assert len(looks) <= (looks[-1] - looks[0]) / LOOK_GAP_SECONDS + 2
    assert len(harness.vouchers()) == len(days)


def test_a_pass_the_database_fails_is_tried_again_and_books_the_day_once(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database fails in the middle of a pass (a restart, a lost connection): the run goes
    back to the queue after a backoff, as for an unavailable Fortnox, and the next pass fixes
    it; it is not ended as failed."""
    app = harness.app(unavailable_retry_seconds=0.1)
    queue = app.state.service.queue
    last_fix, failed = queue.last_fix, threading.Event()

    def failing_once(connection_id: str, kind: str) -> float | None:
        if not failed.is_set():
            failed.set()
            raise OperationalError("SELECT max(runs.fix_verified_at)", {}, Exception("gone"))
        fixed_at: float | None = last_fix(connection_id, kind)
        return fixed_at

    monkeypatch.setattr(queue, "last_fix", failing_once)
    with harness.client(app) as client:
        harness.connect(client)
        run_id = post_failure(client, harness.failure()).json()["run_id"]
        run = wait_for(client, run_id)
    assert failed.is_set()
    assert (run["state"], run["outcome"], run["attempts"]) == ("done", "fixed", 1)
    assert len(harness.vouchers()) == 1


def test_a_database_error_inside_an_action_is_a_pass_tried_again_not_a_failed_step(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found from outside (a PostgreSQL restart under load): a database error raised inside an
    action (the token's store, a lease check) ended the run failed for good, as the step's
    "unexpected error". It is the database's failure, not the step's: the pass is tried again."""
    app = harness.app(unavailable_retry_seconds=0.1)
    real, failed = ACTIONS["financial_year"], threading.Event()

    async def failing_once(ctx: Context, args: dict[str, str]) -> Step | list[Step]:
        if not failed.is_set():
            failed.set()
            raise gone()
        return await real(ctx, args)

    monkeypatch.setitem(ACTIONS, "financial_year", failing_once)
    with harness.client(app) as client:
        harness.connect(client)
        run_id = post_failure(client, harness.failure()).json()["run_id"]
        queued = wait_for(client, run_id, ("queued",))
        while queued["attempts"] == 0:
            queued = client.get(f"/v1/runs/{run_id}", headers=AUTH).json()
        run = wait_for(client, run_id)
    assert queued["state_reason"].startswith("the database failed (OperationalError); attempt 1")
    assert (run["state"], run["outcome"], run["attempts"]) == ("done", "fixed", 1)
    assert len(harness.vouchers()) == 1


def failing_settles(
    monkeypatch: pytest.MonkeyPatch, queue: QueueStore, error: Callable[[], Exception], times: int
) -> list[str]:
    """The queue's settles fail with ``error()`` the first ``times`` times (each counted)."""
    write = queue._settle  # the one write of a settle
    failed: list[str] = []

    def failing(run_id: str, *args: Any) -> QueuedRun:
        if len(failed) < times:
            failed.append(run_id)
            raise error()
        return write(run_id, *args)

    monkeypatch.setattr(queue, "_settle", failing)
    monkeypatch.setattr("remediator.storage.queue.SETTLE_WAITS", (0.01, 0.01))
    return failed


def gone() -> OperationalError:
    return OperationalError("UPDATE runs", {}, Exception("server closed the connection"))


def worked_while_settles_fail(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, error: Callable[[], Exception], times: int
) -> tuple[dict[str, Any], list[str], QueueStore]:
    """One failure worked while the queue's first ``times`` settles fail with ``error()``: the
    run as it ended, the runs whose settle failed, and the queue."""
    app = harness.app()
    queue = app.state.service.queue
    failed = failing_settles(monkeypatch, queue, error, times)
    with harness.client(app) as client:
        harness.connect(client)
        run = wait_for(client, post_failure(client, harness.failure()).json()["run_id"])
    return run, failed, queue


def test_a_run_s_end_the_database_did_not_store_is_stored_again_whole(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, failed, queue = worked_while_settles_fail(harness, monkeypatch, gone, times=2)
    assert failed == [run["id"]] * 2
    assert (run["state"], run["outcome"], run["report"]["resent"]) == ("done", "fixed", True)
    assert len(harness.vouchers()) == 1
    log = [(entry.seq, entry.method, entry.path) for entry in queue.audit(run["id"])]
    assert log[-1] == (len(log) - 1, "POST", "/3/vouchers")  # the pass's request log, kept


def test_a_run_s_end_the_database_keeps_refusing_is_worked_again_and_books_once(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past its waits, the run stays running; once its company's lease is gone it is queued
    again, and the next pass finds the voucher the first one sent. The first pass's writes
    are in the run's trail (stored as they were answered, not with the end that was lost),
    and the run ends ``fixed``: it made the changes, in the pass before."""
    run, failed, queue = worked_while_settles_fail(harness, monkeypatch, gone, times=3)
    assert len(failed) == 3
    assert (run["state"], run["outcome"], run["attempts"]) == ("done", "fixed", 1)
    summary = run["report"]["summary"]["en"]
    assert "already booked (sent earlier by the remediator)" in summary
    assert "2 change(s) made in Fortnox by an earlier attempt that did not finish" in summary
    assert len(harness.vouchers()) == 1
    assert writes(harness) == [("PUT", "/3/accounts/3001"), ("POST", "/3/vouchers")]
    audit = queue.audit(run["id"])
    assert [entry.seq for entry in audit] == list(range(len(audit)))
    trail = [(e.seq, e.method, e.path, e.status) for e in audit if e.kind == "api"]
    first_pass_writes = [t[1:] for t in trail if t[1] != "GET"]
    assert first_pass_writes == [("PUT", "/3/accounts/3001", 200), ("POST", "/3/vouchers", 201)]
    posted = [t[1] for t in trail].index("POST")
    assert ("GET", "/3/vouchers") in [t[1:3] for t in trail[posted + 1 :]]  # the second pass


def test_a_run_s_end_that_cannot_be_stored_ends_it_failed_saying_why(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    too_large = lambda: ValueError("too large")  # noqa: E731 - one error, made for each settle
    apart: list[str] = []  # runs whose report was written apart from their settle
    written = RunStore.write

    def write(store: RunStore, writes: list[RunWrite]) -> None:
        apart.extend(w.run_id for w in writes if isinstance(w, Finished))
        written(store, writes)

    monkeypatch.setattr(RunStore, "write", write)
    run, _, _ = worked_while_settles_fail(harness, monkeypatch, too_large, times=1)
    # The report saying why and the run's end went in together: nobody saw it done, without
    # its reason and its callback, in between.
    assert run["id"] not in apart
    assert (run["state"], run["outcome"]) == ("done", "failed")
    assert run["state_reason"] == (
        "the run could not be completed: its result could not be stored: too large"
    )
    assert run["report"]["outcome"] == "failed"
