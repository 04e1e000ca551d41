"""The duplicate check on the sandbox: a voucher already in Fortnox is "the same export" only
when it is of the export's series and day and carries the export's key on a line of its own,
or carries its description and the same rows (docs/duplicates.md). Every case runs with
Fortnox honouring the voucher filters and with the sandbox ignoring them."""

from __future__ import annotations

import asyncio
import copy
from datetime import date, timedelta
from typing import Any

import pytest

from remediator.failure import ExportFailure
from remediator.report import Outcome, Report
from tests.e2e.conftest import OpenRig
from tests.e2e.support import NEXT_WINDOW, Rig, api_calls, healthy_state, writes

POST = ("POST", "/3/vouchers")
UNAVAILABLE = {"message": "Fel vid export: System exception", "code": 1000003}

FILTERS = pytest.mark.parametrize("ignored", [False, True], ids=["filtered", "filters-ignored"])


async def _rig(open_rig: OpenRig, *, ignored: bool) -> Rig:
    rig = await open_rig(healthy_state())
    rig.sandbox.set_faults(ignore_voucher_filters=ignored)
    return rig


def _export(rig: Rig, export_id: str, **voucher: Any) -> ExportFailure:
    body = rig.voucher_body(Description=f"Z-rapport {export_id}") | voucher
    return rig.failure(UNAVAILABLE, body, id=export_id)


def _booked_once(rig: Rig, failure: ExportFailure) -> None:
    assert len(rig.vouchers(failure.export_key)) == 1, failure.export_key


@FILTERS
async def test_a_key_that_is_the_prefix_of_another_is_not_that_export(
    open_rig: OpenRig, ignored: bool
) -> None:
    rig = await _rig(open_rig, ignored=ignored)
    z12, z1 = _export(rig, "z-12"), _export(rig, "z-1")
    assert z12.export_key.startswith(z1.export_key)
    first, _ = await rig.run(z12, "apply")
    assert (first.outcome, first.resent) == (Outcome.FIXED, True)
    report, requests = await rig.run(z1, "apply")
    assert (report.outcome, report.resent) == (Outcome.FIXED, True)
    assert writes(requests) == [POST]
    _booked_once(rig, z12)
    _booked_once(rig, z1)
    again, requests = await rig.run(z1, "apply")
    assert (again.outcome, writes(requests)) == (Outcome.NOTHING_TO_FIX, [])
    assert again.voucher is not None
    assert again.voucher.already_booked
    assert len(rig.company.vouchers[2]) == 2


@FILTERS
async def test_a_key_inside_a_longer_line_is_not_the_export(
    open_rig: OpenRig, ignored: bool
) -> None:
    rig = await _rig(open_rig, ignored=ignored)
    failure = _export(rig, "z-7")
    note = f"Rättelse av {failure.export_key} (se bilaga)"
    await rig.book(rig.voucher_body(Description="Rättelse", Comments=note))
    report, requests = await rig.run(failure, "apply")
    assert (report.outcome, writes(requests)) == (Outcome.FIXED, [POST])
    _booked_once(rig, failure)


@FILTERS
async def test_the_same_description_with_other_rows_is_not_the_export(
    open_rig: OpenRig, ignored: bool
) -> None:
    rig = await _rig(open_rig, ignored=ignored)
    failure = _export(rig, "z-8")
    other = copy.deepcopy(rig.voucher_body(Description="Z-rapport z-8"))
    other["VoucherRows"][0]["Debit"] += 100.0
    other["VoucherRows"][1]["Debit"] -= 100.0
    await rig.book(other)
    report, requests = await rig.run(failure, "apply")
    assert (report.outcome, report.resent) == (Outcome.FIXED, True)
    calls = api_calls(requests)
    assert ("GET", "/3/vouchers/F/61") in calls, "the description's voucher was read"
    assert writes(requests) == [POST]
    _booked_once(rig, failure)


@FILTERS
@pytest.mark.parametrize(
    "elsewhere",
    [{"TransactionDate": "2026-03-05"}, {"VoucherSeries": "A"}],
    ids=["another-day", "another-series"],
)
async def test_the_same_description_and_rows_elsewhere_is_not_the_export(
    open_rig: OpenRig, ignored: bool, elsewhere: dict[str, str]
) -> None:
    rig = await _rig(open_rig, ignored=ignored)
    failure = _export(rig, "z-9")
    await rig.book(rig.voucher_body(Description="Z-rapport z-9") | elsewhere)
    report, requests = await rig.run(failure, "apply")
    assert (report.outcome, writes(requests)) == (Outcome.FIXED, [POST])
    _booked_once(rig, failure)
    assert len(rig.company.vouchers[2]) == 2


@FILTERS
async def test_the_same_description_and_rows_that_day_is_the_export(
    open_rig: OpenRig, ignored: bool
) -> None:
    rig = await _rig(open_rig, ignored=ignored)
    failure = _export(rig, "z-10")
    await rig.book(rig.voucher_body(Description="Z-rapport z-10"))  # the Backoffice's own POST
    report, requests = await rig.run(failure, "apply")
    assert (report.outcome, writes(requests)) == (Outcome.NOTHING_TO_FIX, [])
    assert report.voucher is not None
    assert (report.voucher.number, report.voucher.already_booked) == (61, True)
    assert len(rig.company.vouchers[2]) == 1


@FILTERS
async def test_a_lost_answer_is_looked_for_whatever_the_filters(
    open_rig: OpenRig, ignored: bool
) -> None:
    rig = await _rig(open_rig, ignored=ignored)
    await rig.book(rig.voucher_body(Description="Z-rapport z-1", TransactionDate="2026-03-04"))
    failure = _export(rig, "z-11")
    rig.sandbox.set_faults(ignore_voucher_filters=ignored, timeout_after_write=1)
    report, requests = await rig.run(failure, "apply")
    assert report.outcome is Outcome.FIXED
    assert api_calls(requests).count(POST) == 1
    _booked_once(rig, failure)
    assert len(rig.company.vouchers[2]) == 2


async def test_the_search_pages_through_every_voucher_the_year_lists(open_rig: OpenRig) -> None:
    """With the filters ignored the whole year is listed, 500 a page: the export on the second
    page is still found."""
    rig = await _rig(open_rig, ignored=True)
    failure = _export(rig, "z-20")
    first, _ = await rig.run(failure, "apply")
    assert first.outcome is Outcome.FIXED
    others = [
        {
            "VoucherSeries": "A",
            "VoucherNumber": number,
            "Year": 2,
            "TransactionDate": "2026-02-01",
            "Description": "Hyra",
            "Comments": "",
            "ReferenceType": "MANUAL",
            "ApprovalState": 0,
            "VoucherRows": [],
        }
        for number in range(1, 601)
    ]
    rig.company.vouchers[2][:0] = others  # the export is now voucher 601 of the year's list
    again, requests = await rig.run(failure, "apply")
    assert (again.outcome, writes(requests)) == (Outcome.NOTHING_TO_FIX, [])
    assert [r["query"] for r in requests if r["path"] == "/3/vouchers"][-1].endswith("page=2")
    _booked_once(rig, failure)


# -- one search per burst ----------------------------------------------------------------------

BURST_DAYS = 5
SEARCH = ("GET", "/3/vouchers")


def _burst(rig: Rig) -> list[ExportFailure]:
    failures = []
    for offset in range(BURST_DAYS):
        day = (date(2026, 3, 2) + timedelta(days=offset)).isoformat()
        body = rig.voucher_body(TransactionDate=day, Description=f"Z-rapport {day}")
        failure = rig.failure(UNAVAILABLE, body, id=f"z-{day}", date=day)
        failures.append(failure.model_copy(update={"event_id": f"burst-{day}"}))
    return failures


async def _all_at_once(rig: Rig, failures: list[ExportFailure]) -> list[Report]:
    """The failures handed to the engine together, as a burst arrives."""
    rig.sandbox.advance(NEXT_WINDOW)
    engine = rig.runtime.engine
    return list(await asyncio.gather(*(engine.run(f, mode="apply") for f in failures)))


@FILTERS
async def test_a_burst_is_searched_once_over_its_days_and_each_day_booked_once(
    open_rig: OpenRig, ignored: bool
) -> None:
    rig = await _rig(open_rig, ignored=ignored)
    failures = _burst(rig)
    # one day is in Fortnox already: the Backoffice's POST was stored after all
    stored = failures[2].export.voucher
    assert stored is not None
    await rig.book(stored.model_dump(mode="json", by_alias=True, exclude_none=True))
    seen = len(rig.sandbox.requests)
    reports = await _all_at_once(rig, failures)
    requests = list(rig.sandbox.requests)[seen:]
    assert [r.outcome for r in reports] == [Outcome.FIXED] * 2 + [Outcome.NOTHING_TO_FIX] + [
        Outcome.FIXED
    ] * 2
    searches = [r["query"] for r in requests if (r["method"], r["path"]) == SEARCH]
    assert len(searches) == 1
    assert "fromdate=2026-03-02" in searches[0]
    assert "todate=2026-03-06" in searches[0]
    assert api_calls(requests).count(POST) == BURST_DAYS - 1
    for failure in failures[:2] + failures[3:]:
        _booked_once(rig, failure)
    assert len(rig.company.vouchers[2]) == BURST_DAYS


@FILTERS
async def test_a_lost_answer_in_a_burst_makes_the_next_look_ask_fortnox(
    open_rig: OpenRig, ignored: bool
) -> None:
    rig = await _rig(open_rig, ignored=ignored)
    failures = _burst(rig)
    rig.sandbox.set_faults(ignore_voucher_filters=ignored, timeout_after_write=1)
    seen = len(rig.sandbox.requests)
    reports = await _all_at_once(rig, failures)
    requests = list(rig.sandbox.requests)[seen:]
    assert {r.outcome for r in reports} == {Outcome.FIXED}
    # the burst's search; after the lost answer one that asks Fortnox again; then one more
    # search for the rest of the burst (the lost answer's doubt is not carried on)
    assert api_calls(requests).count(SEARCH) == 3
    assert api_calls(requests).count(POST) == BURST_DAYS
    for failure in failures:
        _booked_once(rig, failure)
    assert len(rig.company.vouchers[2]) == BURST_DAYS
