"""Causes that cleared: when the year was created, the period unlocked, the right, scope or
licence granted by the time the run looks, the run re-checks, re-sends the Z-report and ends
``fixed`` with the day booked once; while the cause is still there, it says what a person must
do and books nothing."""

from __future__ import annotations

import pytest

from remediator.kinds import ErrorKind, Kind
from remediator.report import Outcome, StepStatus
from tests.e2e.conftest import OpenRig, provoke
from tests.e2e.expectations import VOUCHER_POST, assert_honest
from tests.e2e.support import CLEARS, writes

KINDS = sorted(CLEARS)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_cause_that_cleared_is_rechecked_and_the_day_booked_once(
    open_rig: OpenRig, kind: Kind
) -> None:
    rig, failure = await provoke(open_rig, kind)
    await CLEARS[kind](rig)

    plan, during_plan = await rig.run(failure, "plan")
    assert (plan.kind, plan.outcome, writes(during_plan)) == (kind, Outcome.WOULD_FIX, [])
    assert_honest(plan)

    fix, during_fix = await rig.run(failure, "apply")
    assert (fix.outcome, writes(during_fix)) == (Outcome.FIXED, [VOUCHER_POST])
    assert fix.resent
    assert fix.voucher is not None
    assert not fix.voucher.already_booked
    assert_honest(fix)

    again, during_again = await rig.run(failure, "apply")
    assert (again.outcome, writes(during_again)) == (Outcome.NOTHING_TO_FIX, [])
    assert again.voucher is not None
    assert again.voucher.already_booked
    assert len(rig.vouchers(failure.export_key)) == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_a_cause_still_there_books_nothing_and_says_what_to_do(
    open_rig: OpenRig, kind: Kind
) -> None:
    rig, failure = await provoke(open_rig, kind)
    fix, _ = await rig.run(failure, "apply")
    assert fix.outcome is Outcome.MANUAL_ACTION_REQUIRED
    assert fix.manual_steps.sv
    assert len(fix.manual_steps.sv) == len(fix.manual_steps.en)
    assert not fix.resent
    assert rig.vouchers(failure.export_key) == []
    assert_honest(fix)
    blocking = [s for s in fix.steps if s.status is StepStatus.NEEDS_MANUAL]
    assert len(blocking) == 1
    assert "{" not in " ".join(fix.manual_steps.sv + fix.manual_steps.en)


async def test_access_still_denied_is_found_by_the_refused_resend(open_rig: OpenRig) -> None:
    """Fortnox has no API that tells whether a user may book: the re-send is the check. Its
    refusal is recognised as the same cause, and the report says who must grant what."""
    rig, failure = await provoke(open_rig, ErrorKind.ACCESS_DENIED)
    fix, during = await rig.run(failure, "apply")
    assert writes(during) == [VOUCHER_POST]
    refused = [r for r in during if r["method"] == "POST"]
    assert [(r["status"], r["code"]) for r in refused] == [(403, 2002455)]
    resend = fix.steps[-1]
    assert (resend.action, resend.status) == ("resend_voucher", StepStatus.NEEDS_MANUAL)
    assert resend.observed["refused"]["kind"] == ErrorKind.ACCESS_DENIED
    assert "Bokföring" in " ".join(fix.manual_steps.sv)
