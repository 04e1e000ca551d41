"""A company's session memory on the sandbox: a burst of failures at one company reads the
financial year and the series once (the sandbox's own request log is the oracle); the duplicate
search before each POST is never skipped; a plan still reads what it reports; a refusal that
contradicts what is remembered makes the run read again and fix."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from remediator import engine
from remediator.failure import ExportFailure
from remediator.kinds import ErrorKind
from remediator.report import Outcome
from tests.e2e.support import OpenRig, Rig, api_calls, state_for

BURST = 5
FIRST = date(2026, 3, 2)
YEARS = ("GET", "/3/financialyears")
SERIES = ("GET", "/3/voucherseries/F")
SEARCH = ("GET", "/3/vouchers")
POST = ("POST", "/3/vouchers")
MANUAL = ("PUT", "/3/voucherseries/F")
STATUS = ("GET", "/3/companyinformation")


def _burst(rig: Rig, error: dict[str, Any], days: int) -> list[ExportFailure]:
    failures = []
    for offset in range(days):
        day = FIRST + timedelta(days=offset)
        body = rig.voucher_body(TransactionDate=day.isoformat(), Description=f"Z-rapport {day}")
        failure = rig.failure(error, body, id=f"z-{day}", date=day.isoformat())
        failures.append(failure.model_copy(update={"event_id": f"burst-{day}"}))
    return failures


async def _series_not_manual(open_rig: OpenRig) -> tuple[Rig, list[ExportFailure]]:
    rig = await open_rig(state_for(ErrorKind.SERIES_NOT_MANUAL))
    first = await rig.export()
    return rig, _burst(rig, first.error.model_dump(mode="json", exclude_none=True), BURST)


def _booked(rig: Rig, failure: ExportFailure) -> int:
    """How many vouchers in the books carry this failure's Z-report."""
    description = f"Z-rapport {failure.export.date}"
    return sum(1 for v in rig.company.vouchers.get(2, []) if v["Description"] == description)


def _set_manual(rig: Rig, manual: bool) -> None:
    for series in rig.company.series.values():
        if "F" in series:
            series["F"].manual = manual


async def test_a_burst_reads_the_year_and_the_series_once(open_rig: OpenRig) -> None:
    rig, failures = await _series_not_manual(open_rig)
    seen = len(rig.sandbox.requests)
    for failure in failures:
        report, _ = await rig.run(failure, "apply")
        assert report.outcome is Outcome.FIXED
    calls = api_calls(list(rig.sandbox.requests)[seen:])
    # year once, series read and made manual once; then a search and a POST per failure
    assert calls.count(YEARS) == 1
    assert calls.count(SERIES) == 1
    assert calls.count(MANUAL) == 1
    assert calls.count(SEARCH) == calls.count(POST) == BURST
    assert len(calls) == 3 + 2 * BURST  # without the memory: 5 + 4 * (BURST - 1)
    assert [_booked(rig, failure) for failure in failures] == [1] * BURST


async def test_the_duplicate_search_is_made_from_memory_never(open_rig: OpenRig) -> None:
    rig, failures = await _series_not_manual(open_rig)
    await rig.run(failures[0], "apply")
    again, during = await rig.run(failures[0], "apply")  # the same failure: already booked
    assert again.voucher is not None
    assert again.voucher.already_booked
    assert api_calls(during) == [SEARCH]


async def test_a_plan_reads_what_it_reports(open_rig: OpenRig) -> None:
    rig, failures = await _series_not_manual(open_rig)
    await rig.run(failures[0], "apply")
    plan, during = await rig.run(failures[1], "plan")
    assert plan.outcome is Outcome.WOULD_FIX
    assert api_calls(during) == [YEARS, SERIES, SEARCH]


async def test_a_refusal_against_the_memory_reads_again_and_fixes(
    open_rig: OpenRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "FRESH_SECONDS", -1.0)  # what is remembered counts as old
    rig, failures = await _series_not_manual(open_rig)
    await rig.run(failures[0], "apply")
    _set_manual(rig, manual=False)  # a person makes series F automatic again meanwhile
    report, during = await rig.run(failures[1], "apply")
    assert report.outcome is Outcome.FIXED
    calls = api_calls(during)
    refused = calls.index(POST)
    assert during[refused]["status"] >= 400
    # the refused POST went out on remembered answers; then everything is read again
    assert calls[:refused] == [SEARCH]
    assert calls[refused + 1 :] == [YEARS, SERIES, MANUAL, SEARCH, POST]
    assert _booked(rig, failures[1]) == 1


async def test_a_refusal_against_answers_of_a_moment_ago_is_not_run_again(
    open_rig: OpenRig,
) -> None:
    """Answers younger than ``FRESH_SECONDS`` count as reads made now (a run's own reads are as
    old by its POST when the rate limit makes it wait): the run ends on the refusal, its POST
    made once, as it would had the person's change come between its own read and its POST."""
    rig, failures = await _series_not_manual(open_rig)
    await rig.run(failures[0], "apply")
    _set_manual(rig, manual=False)
    report, during = await rig.run(failures[1], "apply")
    assert report.outcome is Outcome.MANUAL_ACTION_REQUIRED
    assert api_calls(during) == [SEARCH, POST]
    assert during[-1]["status"] >= 400
    assert _booked(rig, failures[1]) == 0


async def test_a_burst_after_an_outage_asks_whether_fortnox_answers_once(
    open_rig: OpenRig,
) -> None:
    rig = await open_rig(state_for(ErrorKind.FORTNOX_UNAVAILABLE))
    first = await rig.export(outage=True)
    failures = _burst(rig, first.error.model_dump(mode="json", exclude_none=True), BURST)
    seen = len(rig.sandbox.requests)
    reports = [(await rig.run(failure, "apply"))[0] for failure in failures]
    assert {report.outcome for report in reports} == {Outcome.FIXED}
    calls = api_calls(list(rig.sandbox.requests)[seen:])
    # the first run asks; the next ones have Fortnox's answers of a moment ago
    assert calls.count(STATUS) == 1
    assert calls.count(SEARCH) == calls.count(POST) == BURST
    assert reports[1].steps[0].observed["answered_seconds_ago"] < 10


async def test_while_fortnox_is_down_again_the_next_run_finds_out(open_rig: OpenRig) -> None:
    rig = await open_rig(state_for(ErrorKind.FORTNOX_UNAVAILABLE))
    first = await rig.export(outage=True)
    failures = _burst(rig, first.error.model_dump(mode="json", exclude_none=True), 2)
    fixed, _ = await rig.run(failures[0], "apply")
    assert fixed.outcome is Outcome.FIXED
    rig.sandbox.set_faults(burst_503_seconds=3600)  # down again: the remembered answer is old news
    report, requests = await rig.run(failures[1], "apply")
    assert report.outcome is Outcome.FAILED
    assert ("POST", "/3/vouchers") not in api_calls(requests)
    assert _booked(rig, failures[1]) == 0


async def test_a_plan_under_the_companys_turn_keeps_its_reads_for_the_apply(
    open_rig: OpenRig,
) -> None:
    """As the service works a run: planned, then applied, under the company's turn."""
    rig, failures = await _series_not_manual(open_rig)
    async with rig.runtime.engine.turn(rig.connection.id):
        plan, planned = await rig.run(failures[0], "plan")
        report, applied = await rig.run(failures[0], "apply")
    assert plan.outcome is Outcome.WOULD_FIX
    assert api_calls(planned) == [YEARS, SERIES, SEARCH]
    assert report.outcome is Outcome.FIXED
    assert api_calls(applied) == [MANUAL, SEARCH, POST]
    assert _booked(rig, failures[0]) == 1


async def test_a_plan_outside_the_companys_turn_keeps_nothing(open_rig: OpenRig) -> None:
    """A plan made beside whoever holds the company (a person's ``plan``) may read what that
    holder is about to change: the apply after it reads for itself."""
    rig, failures = await _series_not_manual(open_rig)
    await rig.run(failures[0], "plan")
    report, applied = await rig.run(failures[0], "apply")
    assert report.outcome is Outcome.FIXED
    assert api_calls(applied) == [YEARS, SERIES, MANUAL, SEARCH, POST]
