"""Never post a voucher twice: the re-sent Z-report exists exactly once in Fortnox, even when a
POST's answer is lost after Fortnox stored it, and a POST that never arrived is not retried blind.
"""

from __future__ import annotations

import httpx

from remediator.kinds import ErrorKind
from remediator.report import Outcome, StepStatus
from tests.e2e.conftest import OpenRig, provoke
from tests.e2e.support import api_calls, healthy_state, writes

SEARCH = ("GET", "/3/vouchers")
POST = ("POST", "/3/vouchers")


class LostPost(httpx.AsyncBaseTransport):
    """Loses the next voucher POST on the way to Fortnox: the client sees a timeout."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.armed = inner, False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.armed and request.method == "POST" and request.url.path == "/3/vouchers":
            self.armed = False
            raise httpx.ReadTimeout("lost on the way", request=request)
        return await self.inner.handle_async_request(request)


async def test_a_post_answered_never_is_looked_for_not_sent_again(open_rig: OpenRig) -> None:
    for kind in (ErrorKind.SERIES_NOT_MANUAL, ErrorKind.FORTNOX_UNAVAILABLE):
        rig, failure = await provoke(open_rig, kind)
        rig.sandbox.set_faults(timeout_after_write=1)  # stored, but the answer never comes
        report, requests = await rig.run(failure, "apply")
        assert report.outcome is Outcome.FIXED, kind
        booked = rig.vouchers(failure.export_key)
        assert len(booked) == 1, kind
        calls = api_calls(requests)
        assert calls.count(POST) == 1, kind
        assert calls[calls.index(POST) + 1 :] == [SEARCH], "after the timeout: one look, no POST"
        assert report.voucher is not None
        assert report.voucher.number == booked[0]["VoucherNumber"]
        again, requests = await rig.run(failure, "apply")
        assert (again.outcome, writes(requests)) == (Outcome.NOTHING_TO_FIX, [])
        assert len(rig.vouchers(failure.export_key)) == 1
        assert again.voucher is not None
        assert (again.voucher.already_booked, again.voucher.keyed) == (True, True)
        assert "(sent earlier by the remediator) as voucher" in again.summary.en
        assert "(skickad tidigare av remediatorn) som verifikation" in again.summary.sv


async def test_an_export_that_timed_out_but_was_stored_is_not_booked_again(
    open_rig: OpenRig,
) -> None:
    rig = await open_rig(healthy_state())
    rig.sandbox.set_faults(timeout_after_write=1)
    failure = await rig.export()  # the Backoffice's own POST: stored, never answered
    assert failure.error.message == "Fel vid export: Timeout (ReadTimeout)"
    report, requests = await rig.run(failure, "apply")
    assert report.kind == ErrorKind.FORTNOX_UNAVAILABLE
    assert (report.outcome, writes(requests)) == (Outcome.NOTHING_TO_FIX, [])
    assert report.voucher is not None
    assert (report.voucher.already_booked, report.voucher.keyed) == (True, False)  # its own
    assert "was already booked as voucher" in report.summary.en
    assert not report.resent
    assert len(rig.company.vouchers[2]) == 1


async def test_a_post_lost_on_the_way_fails_honestly_and_the_next_fix_books_it_once(
    open_rig: OpenRig,
) -> None:
    lost: list[LostPost] = []

    def wrap(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        lost.append(LostPost(inner))
        return lost[0]

    rig = await open_rig(healthy_state(), wrap)
    failure = rig.failure(
        {"message": "Fel vid export: System exception", "code": 1000003}, rig.voucher_body()
    )
    lost[0].armed = True
    report, requests = await rig.run(failure, "apply")
    assert report.outcome is Outcome.FAILED
    resend = report.steps[-1]
    assert resend.status is StepStatus.FAILED
    assert resend.reason is not None
    assert "not sent again" in resend.reason
    assert rig.vouchers(failure.export_key) == []
    assert api_calls(requests)[-1] == SEARCH, "after the lost POST: a look, never a second POST"
    assert "Reason:" in report.summary.en
    retried, requests = await rig.run(failure, "apply")
    assert retried.outcome is Outcome.FIXED
    assert writes(requests) == [POST]
    assert len(rig.vouchers(failure.export_key)) == 1


async def test_while_fortnox_is_still_down_nothing_is_sent(open_rig: OpenRig) -> None:
    rig, failure = await provoke(open_rig, ErrorKind.FORTNOX_UNAVAILABLE)
    rig.sandbox.set_faults(burst_503_seconds=3600)
    report, requests = await rig.run(failure, "apply")
    assert report.outcome is Outcome.FAILED
    assert writes(requests) == []
    assert [(s.action, s.status) for s in report.steps] == [
        ("fortnox_status", StepStatus.FAILED),
        ("financial_year", StepStatus.SKIPPED),
        ("resend_voucher", StepStatus.SKIPPED),
    ]
    assert report.steps[0].observed == {"available": False}
    assert rig.vouchers(failure.export_key) == []
