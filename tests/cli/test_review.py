"""``remediator runs approve|reject``: the review queue from a terminal, through the same code
as the API (``remediator.review``), on the service's database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest

from remediator.policy import Policy
from remediator.service.process import Session
from remediator.service.wiring import open_service
from remediator.settings import load_settings
from remediator.storage.queue import Intake
from tests.cli.conftest import Company

Make = Callable[[str], Company]


def _waiting(c: Company, policy: dict[str, str]) -> str:
    """The company's failure received by the service and planned by a worker's pass: with
    ``policy`` asking for review, the run waits for a person."""
    service = open_service(load_settings(), transport=c.sandbox.transport())
    service.runtime.store.set_policy(c.connection_id, Policy.model_validate(policy))
    run_id = "feedface" + "0" * 24
    service.queue.accept(
        Intake(
            run_id,
            c.failure.event_id,
            c.connection_id,
            "series_not_manual",
            c.failure.export.date.isoformat(),
            c.failure.model_dump_json(by_alias=True),
            None,
        )
    )
    claimed = service.queue.claim(c.connection_id)
    assert claimed is not None

    async def work() -> None:
        try:
            await service.workers.processor.process(claimed, Session(c.connection_id))
        finally:
            await service.runtime.aclose()

    asyncio.run(work())
    assert service.queue.queued(run_id).state.value == "awaiting_review"
    return run_id


@pytest.fixture
def waiting(company: Make) -> tuple[Company, str]:
    c = company("series_not_manual")
    return c, _waiting(c, {"set_manual": "review"})


def test_the_queue_lists_what_waits_for_review(waiting: tuple[Company, str]) -> None:
    c, run_id = waiting
    rows = c.json("runs", "list", "--state", "awaiting_review")
    assert [(r["id"], r["state"], r["outcome"]) for r in rows] == [
        (run_id, "awaiting_review", "would_fix")
    ]
    table = c.invoke("runs", "list", "--state", "awaiting_review").stdout
    assert "feedface" in table
    assert "awaiting_review" in table


def test_approve_by_prefix_queues_the_run_for_the_workers(waiting: tuple[Company, str]) -> None:
    c, run_id = waiting
    before = c.writes()
    result = c.invoke("runs", "approve", "feed", "--by", "Eva")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"approved run {run_id} (by Eva): queued;")
    shown = c.json("runs", "show", "feed")
    run = shown["run"]
    assert (run["state"], run["approved_by"]) == ("queued", "Eva")
    ((decision),) = shown["decisions"]
    assert (decision["actor"], decision["via"], decision["action"]) == ("Eva", "cli", "approve")
    assert decision["at"].endswith("+00:00")
    assert c.writes() == before  # the service's workers apply it, not the CLI
    again = c.invoke("runs", "approve", run_id, "--by", "Eva")
    assert (again.exit_code, again.stderr) == (
        2,
        f"error: run '{run_id}' is queued, not awaiting_review\n",
    )


def test_a_stale_plan_is_not_approved_and_planned_again(waiting: tuple[Company, str]) -> None:
    c, run_id = waiting
    company = next(iter(c.sandbox.world.companies.values()))
    company.series[2]["F"].manual = True  # fixed by hand meanwhile
    before = c.writes()
    result = c.invoke("runs", "approve", run_id, "--by", "Eva")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"error: run '{run_id}': Fortnox changed since the plan was made, so it is not applied"
    )
    assert "series_manual" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    run = c.json("runs", "show", run_id)["run"]
    assert (run["state"], run["approved_by"]) == ("queued", None)
    assert c.writes() == before


def test_reject_ends_the_run_with_the_person_and_the_reason(waiting: tuple[Company, str]) -> None:
    c, run_id = waiting
    before = c.writes()
    result = c.invoke(
        "runs", "reject", run_id[:10], "--by", "Eva", "--reason", "the owner  fixes it", "--json"
    )
    assert result.exit_code == 0, result.stderr
    run = json.loads(result.stdout)
    assert (run["state"], run["state_reason"]) == (
        "rejected",
        "rejected by Eva: the owner fixes it",
    )
    assert run["finished_at"] is not None
    assert c.writes() == before
    shown = c.invoke("runs", "show", run_id, "--lang", "en").stdout
    assert "rejected by Eva: the owner fixes it" in shown.splitlines()
    assert shown.splitlines()[-1].endswith("reject by Eva (cli): the owner fixes it")
    again = c.invoke("runs", "reject", run_id, "--by", "Eva", "--reason", "x")
    assert again.exit_code == 2


def test_reject_needs_a_reason_and_a_name(waiting: tuple[Company, str]) -> None:
    c, run_id = waiting
    blank = c.invoke("runs", "reject", run_id, "--by", "Eva", "--reason", "  ")
    assert (blank.exit_code, blank.stderr) == (
        2,
        "error: a rejection needs a reason\n",
    )
    missing = c.invoke("runs", "reject", run_id, "--reason", "no")
    assert missing.exit_code == 2
    assert "--by" in missing.stderr
    assert c.json("runs", "show", run_id)["run"]["state"] == "awaiting_review"
