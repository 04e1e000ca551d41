"""Re-sending the voucher: look first, post once, never twice; the key stays within limits."""

from __future__ import annotations

from datetime import date

from remediator.actions.resend import COMMENTS_MAX, keyed
from remediator.fortnox import Voucher, VoucherRow
from remediator.kinds import ErrorKind
from remediator.report import StepStatus
from tests.actions.conftest import OpenBench

POST = ("POST", "/3/vouchers")
KEY = "zr:rest-1:z-2026-03-02"


def voucher(
    description: str | None = "Z-rapport 2026-03-02", comments: str | None = None
) -> Voucher:
    return Voucher(
        voucher_series="F",
        transaction_date=date(2026, 3, 2),
        description=description,
        comments=comments,
        voucher_rows=[VoucherRow(account=1910, debit=1.0), VoucherRow(account=3001, credit=1.0)],
    )


def test_the_key_is_added_once_and_comments_stay_within_fortnox_limit() -> None:
    sent = keyed(voucher(comments="x" * 995), KEY)
    assert sent.comments is not None
    assert sent.comments.endswith(KEY)
    assert len(sent.comments) == COMMENTS_MAX
    assert keyed(sent, KEY) == sent
    longer = keyed(voucher(comments=f"{KEY}2"), KEY)  # another export's key: added all the same
    assert longer.comments == f"{KEY}2\n{KEY}"


async def test_resend_twice_posts_once(open_bench: OpenBench) -> None:
    bench = open_bench()
    kind = ErrorKind.FORTNOX_UNAVAILABLE
    first, written = await bench.act(
        await bench.with_year(bench.context(kind=kind)), "resend_voucher"
    )
    assert (first[0].status, written) == (StepStatus.CHANGED, [POST])
    second, written = await bench.act(
        await bench.with_year(bench.context(kind=kind)), "resend_voucher"
    )
    assert (second[0].status, written) == (StepStatus.OK, [])
    assert len(bench.company.vouchers[2]) == 1


async def test_resend_in_plan_mode_only_looks(open_bench: OpenBench) -> None:
    bench = open_bench()
    steps, written = await bench.act(await bench.with_year(bench.context("plan")), "resend_voucher")
    assert (steps[0].status, written) == (StepStatus.WOULD_CHANGE, [])
    assert bench.company.vouchers[2] == []


async def test_without_a_voucher_nothing_is_sent_and_the_step_says_why(
    open_bench: OpenBench,
) -> None:
    bench = open_bench()
    ctx = await bench.with_year(bench.context(failure=bench.failure(voucher=False)))
    steps, written = await bench.act(ctx, "resend_voucher")
    assert (steps[0].status, steps[0].reason, written) == (
        StepStatus.NEEDS_MANUAL,
        "no voucher in the failure",
        [],
    )
    expected = (
        "Export the Z-report for 2026-03-02 again in the Backoffice: Rapporter → Z-rapporter → "
        "Exportera till Fortnox (Reports → Z-reports → Export to Fortnox)."
    )
    assert steps[0].manual.en == [expected]
