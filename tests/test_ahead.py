"""Checks ahead against the sandbox, near the end of 2026 with 2027 created ahead: what would
make the first export of the new year fail is fixed ahead under ``auto`` (and that export then
posts at once), waits for a person with its plan under ``review`` (and approving it fixes),
ends as a finding when nothing may fix it, and a company where all is well stores no run. The
requests of a check are bounded; the Backoffice hears of every run, signed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import httpx
from pydantic import SecretStr

from remediator import review, signing
from remediator.ahead import EVENT_FINDING, EVENT_FIXED_AHEAD, Ahead, Summary, preflight_all
from remediator.backoffice import BackofficeNotifier
from remediator.fortnox import Voucher
from remediator.policy import Policy, Rule
from remediator.report import Outcome, Report
from remediator.service.metrics import Metrics
from remediator.service.process import Processor, Session
from remediator.storage import Database
from remediator.storage.audit import Actor, Via
from remediator.storage.overview import OverviewStore
from remediator.storage.queue import SCHEDULED, Intake, QueuedRun, QueueStore
from remediator.storage.runs import RunState
from tests.e2e.conftest import OpenRig
from tests.e2e.support import NEXT_WINDOW, Rig, healthy_state

SECRET = "backoffice-secret"
URL = "http://backoffice.test/remediator/events"
TODAY = date(2026, 12, 10)
NEW_YEAR = date(2027, 1, 1)
TENANT = "100001"
# A check of one connection for two days (tomorrow and 1 January) reads at most: the year of
# today, of 1 January, the voucher list and 3 vouchers, per day the series and the chart (up to
# 3 pages), and the locked period (remediator/foreseen.py).
SURVEY_BUDGET = 16


class Backoffice:
    """The Backoffice's endpoint: records what it was sent, checks each signature."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        signing.verify(request.headers.get(signing.HEADER), request.content, SECRET)
        self.events.append(json.loads(request.content))
        return httpx.Response(204)


async def near_year_end(open_rig: OpenRig) -> Rig:
    """Bistro Ljus on 10 December 2026, with Z-reports booked in series F this month."""
    state = healthy_state()
    state.today = TODAY
    rig = await open_rig(state)
    client = rig.runtime.connector.client(rig.connection, read_only=False)
    for day in (date(2026, 12, 8), date(2026, 12, 9)):
        body = rig.voucher_body(TransactionDate=day.isoformat())
        await client.create_voucher(Voucher.model_validate(body), 2)
    return rig


@asynccontextmanager
async def in_fortnox(rig: Rig) -> AsyncIterator[httpx.AsyncClient]:
    """The restaurant's accountant at work in Fortnox (its API, as the company's user)."""
    token = await rig.runtime.connector.tokens(rig.connection.id).access_token()
    headers = {"Authorization": f"Bearer {token.get_secret_value()}"}
    async with httpx.AsyncClient(
        transport=rig.sandbox.transport(), base_url="http://sandbox", headers=headers
    ) as http:
        yield http


async def create_2027(rig: Rig) -> None:
    """2027 created ahead, as Fortnox allows: the chart and series of 2026 carried in."""
    async with in_fortnox(rig) as http:
        body = {"FinancialYear": {"FromDate": "2027-01-01", "ToDate": "2027-12-31"}}
        assert (await http.post("/3/financialyears", json=body)).status_code == 201


async def put(rig: Rig, path: str, body: dict[str, Any]) -> None:
    async with in_fortnox(rig) as http:
        answer = await http.put(path, params={"financialyear": 3}, json=body)
        assert answer.status_code == 200, answer.text


def without_series_f_in_2027(rig: Rig) -> None:
    """Series F was not carried into 2027 (Fortnox has no DELETE: set up in the state)."""
    rig.sandbox.world.companies[TENANT].series[3].pop("F")


def set_policy(rig: Rig, **rules: Rule) -> None:
    rig.runtime.store.set_policy(rig.connection.id, Policy(**rules))


async def check(rig: Rig, backoffice: Backoffice, today: date = TODAY) -> Summary:
    settings = rig.runtime.settings.model_copy(
        update={"backoffice_url": URL, "callback_secret": SecretStr(SECRET)}
    )
    notifier = BackofficeNotifier(
        settings, transport=httpx.MockTransport(backoffice.handle), wait_seconds=0
    )
    try:
        return await preflight_all(rig.runtime, today, notifier=notifier)
    finally:
        await notifier.aclose()


def queue(rig: Rig) -> QueueStore:
    runs = rig.runtime.runs
    assert isinstance(runs, QueueStore)
    return runs


def report_of(rig: Rig, run_id: str) -> Report:
    row = queue(rig).queued(run_id)
    assert row.report is not None
    return Report.model_validate_json(row.report)


def writes(rig: Rig, since: int) -> list[tuple[str, str]]:
    return [
        (r["method"], r["path"])
        for r in rig.sandbox.requests[since:]
        if r["method"] in {"POST", "PUT"} and r["path"].startswith("/3/")
    ]


async def work_the_queue(rig: Rig) -> QueuedRun:
    """What a service worker does with the connection's due run (claim, work, settle)."""
    claimed = queue(rig).claim(rig.connection.id)
    assert claimed is not None
    processor = Processor(rig.runtime, queue(rig), rig.runtime.settings, Metrics(lambda: 0))
    return await processor.process(claimed, Session(rig.connection.id))


async def first_export_of_2027(rig: Rig) -> Voucher:
    """Move the sandbox into the new year and post 1 January's Z-report as the Backoffice
    does (no remediator in between): it must be booked at once."""
    rig.sandbox.advance((NEW_YEAR - TODAY).days * 86_400 + NEXT_WINDOW)
    assert rig.sandbox.world.today() == NEW_YEAR
    body = rig.voucher_body(TransactionDate=NEW_YEAR.isoformat())
    client = rig.runtime.connector.client(rig.connection, read_only=False)
    year = await client.financial_year_for(NEW_YEAR)
    assert year is not None
    return await client.create_voucher(Voucher.model_validate(body), year.id)


async def test_series_f_missing_in_the_next_year_is_created_ahead_under_auto(
    open_rig: OpenRig,
) -> None:
    rig = await near_year_end(open_rig)
    await create_2027(rig)
    without_series_f_in_2027(rig)
    backoffice = Backoffice()
    seen = len(rig.sandbox.requests)
    summary = await check(rig, backoffice)

    [checked] = summary.connections
    assert checked.days == [date(2026, 12, 11), NEW_YEAR]
    [run] = checked.runs
    assert (run.kind, run.day, run.status) == ("series_missing", NEW_YEAR, Ahead.FIXED)
    assert writes(rig, seen) == [("POST", "/3/voucherseries")]
    stored = queue(rig).queued(run.run_id)
    assert (stored.origin, stored.state, stored.export_date) == (
        SCHEDULED,
        RunState.DONE,
        "2027-01-01",
    )
    report = report_of(rig, run.run_id)
    assert report.outcome is Outcome.FIXED
    assert report.resent is False
    assert report.voucher is None
    assert report.export.kind == "preflight"
    assert "resend_voucher" not in [step.action for step in report.steps]
    assert report.summary.en.startswith("Fixed ahead of the export")
    assert "booked" not in report.summary.en
    assert "export" not in report.manual_steps.model_dump_json()
    [event] = backoffice.events
    assert (event["event"], event["run_id"], event["kind"]) == (
        EVENT_FIXED_AHEAD,
        run.run_id,
        "series_missing",
    )
    assert event["text"]["sv"]
    assert event["text"]["en"]

    # A failure of series_missing later (for 2026, say) is not taken for this fix not holding.
    assert queue(rig).last_fix(rig.connection.id, "series_missing") is None

    booked = await first_export_of_2027(rig)
    assert (booked.voucher_series, booked.voucher_number, booked.year) == ("F", 1, 3)


async def test_an_inactive_account_the_vouchers_use_is_activated_ahead(open_rig: OpenRig) -> None:
    rig = await near_year_end(open_rig)
    await create_2027(rig)
    await put(rig, "/3/accounts/3002", {"Account": {"Active": False}})
    await put(rig, "/3/voucherseries/F", {"VoucherSeries": {"Manual": False}})
    backoffice = Backoffice()
    summary = await check(rig, backoffice)

    runs = {run.kind: run for run in summary.connections[0].runs}
    assert set(runs) == {"series_not_manual", "account_inactive"}
    assert {run.status for run in runs.values()} == {Ahead.FIXED}
    scheduled = OverviewStore(Database(rig.runtime.settings.database_url)).read().scheduled
    assert scheduled == {("series_not_manual", "fixed"): 1, ("account_inactive", "fixed"): 1}
    company = rig.sandbox.world.companies[TENANT]
    assert company.accounts[3][3002].active
    assert company.series[3]["F"].manual
    assert [e["event"] for e in backoffice.events] == [EVENT_FIXED_AHEAD] * 2
    booked = await first_export_of_2027(rig)
    assert booked.year == 3


async def test_under_review_the_run_waits_with_its_plan_and_approving_it_fixes(
    open_rig: OpenRig,
) -> None:
    rig = await near_year_end(open_rig)
    await create_2027(rig)
    await put(rig, "/3/voucherseries/F", {"VoucherSeries": {"Manual": False}})
    set_policy(rig, set_manual=Rule.REVIEW)
    backoffice = Backoffice()
    seen = len(rig.sandbox.requests)
    [run] = (await check(rig, backoffice)).connections[0].runs
    assert run.status is Ahead.AWAITING_REVIEW
    assert writes(rig, seen) == []
    waiting = queue(rig).queued(run.run_id)
    assert waiting.state is RunState.AWAITING_REVIEW
    plan = report_of(rig, run.run_id)
    assert plan.outcome is Outcome.WOULD_FIX
    assert [step.action for step in plan.steps if step.status == "would_change"] == [
        "series_manual"
    ]
    [event] = backoffice.events
    assert (event["event"], event["status"]) == (EVENT_FINDING, "awaiting_review")

    # The next day's check does not report it again while it waits.
    again = await check(rig, backoffice, date(2026, 12, 11))
    assert again.connections[0].runs == []
    assert [known.run_id for known in again.connections[0].known] == [run.run_id]
    assert len(backoffice.events) == 1

    # A person approves (the review path of every door); the service's worker applies it.
    await review.approve(queue(rig), rig.runtime.engine, run.run_id, Actor("Eva", Via.CLI))
    seen = len(rig.sandbox.requests)
    done = await work_the_queue(rig)
    assert (done.id, done.state, done.outcome) == (run.run_id, RunState.DONE, "fixed")
    assert done.approved_by == "Eva"
    assert writes(rig, seen) == [("PUT", "/3/voucherseries/F")]
    applied = report_of(rig, run.run_id)
    assert (applied.mode, applied.resent) == ("apply", False)
    assert "resend_voucher" not in [step.action for step in applied.steps]
    assert rig.sandbox.world.companies[TENANT].series[3]["F"].manual
    assert (await first_export_of_2027(rig)).year == 3


async def test_a_company_where_all_is_well_stores_no_run(open_rig: OpenRig) -> None:
    rig = await near_year_end(open_rig)
    await create_2027(rig)
    backoffice = Backoffice()
    seen = len(rig.sandbox.requests)
    summary = await check(rig, backoffice)
    [checked] = summary.connections
    assert checked.clear
    assert checked.runs == []
    assert checked.error is None
    assert queue(rig).find(connection_id=rig.connection.id) == []
    assert backoffice.events == []
    api = [r for r in rig.sandbox.requests[seen:] if r["path"].startswith("/3/")]
    assert all(r["method"] == "GET" for r in api)
    assert len(api) == checked.requests
    assert len(api) <= SURVEY_BUDGET
    paths = [r["path"] for r in api]
    assert paths.count("/3/vouchers") == 1
    assert sum(p.startswith("/3/vouchers/F/") for p in paths) == 2  # both of December's


async def test_a_next_year_not_created_is_a_finding_for_a_person_told_once(
    open_rig: OpenRig,
) -> None:
    rig = await near_year_end(open_rig)
    backoffice = Backoffice()
    seen = len(rig.sandbox.requests)
    [run] = (await check(rig, backoffice)).connections[0].runs
    assert (run.kind, run.day, run.status) == (
        "financial_year_missing",
        NEW_YEAR,
        Ahead.MANUAL_ACTION_REQUIRED,
    )
    assert writes(rig, seen) == []
    report = report_of(rig, run.run_id)
    assert report.outcome is Outcome.MANUAL_ACTION_REQUIRED
    assert report.manual_steps.sv
    assert report.manual_steps.en
    assert not any("Backoffice" in line for line in report.manual_steps.en)  # nothing to re-export
    [event] = backoffice.events
    assert (event["event"], event["status"], event["date"]) == (
        EVENT_FINDING,
        "manual_action_required",
        "2027-01-01",
    )
    assert event["manual_steps"] == report.manual_steps.model_dump()
    assert "2027-01-01" in event["text"]["sv"]

    later = await check(rig, backoffice, date(2026, 12, 12))
    assert [k.kind for k in later.connections[0].known] == ["financial_year_missing"]
    assert later.connections[0].runs == []
    assert len(backoffice.events) == 1


async def test_the_accounts_of_received_failures_are_checked_too(open_rig: OpenRig) -> None:
    """3740 (öresutjämning) is in no voucher in Fortnox, only in a failure received earlier."""
    rig = await near_year_end(open_rig)
    await create_2027(rig)
    await put(rig, "/3/accounts/3740", {"Account": {"Active": False}})
    rows = [*rig.voucher_body()["VoucherRows"], {"Account": 3740, "Debit": 0, "Credit": 0.4}]
    failure = await rig.export(rig.voucher_body(VoucherRows=rows, TransactionDate="2026-12-09"))
    queue(rig).accept(
        Intake(
            run_id="received-1",
            event_id=failure.event_id,
            connection_id=rig.connection.id,
            kind="voucher_invalid",
            export_date=failure.export.date.isoformat(),
            failure_json=failure.model_dump_json(by_alias=True),
            callback_url=None,
        )
    )
    [run] = (await check(rig, Backoffice())).connections[0].runs
    assert (run.kind, run.status) == ("account_inactive", Ahead.FIXED)
    assert rig.sandbox.world.companies[TENANT].accounts[3][3740].active
