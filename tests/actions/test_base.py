"""``make_change``: plan, refuse by policy, or write and verify; never writes in plan mode."""

from __future__ import annotations

import dataclasses
from typing import Any

from remediator.actions.base import Planned, UnconfirmedWrite, call, make_change, manual, text
from remediator.fortnox import FortnoxTransportError, WriteOutcomeUnknown
from remediator.policy import Change, Policy, Rule
from remediator.report import StepStatus
from tests.actions.conftest import OpenBench

PLANNED = Planned(
    action="series_manual",
    change=Change.SET_MANUAL,
    call=call("PUT", "/3/voucherseries/F?financialyear=2", {"VoucherSeries": {"Manual": True}}),
    before={"exists": True, "manual": False},
    after={"exists": True, "manual": True},
    planned=text("planerat", "planned"),
    done=text("gjort", "done"),
    by_hand=manual(["för hand"], ["by hand"]),
    observed={"series:F": {"exists": True, "manual": False}},
)


class Writer:
    def __init__(self, answer: dict[str, Any] | Exception) -> None:
        self.answer, self.calls = answer, 0

    async def __call__(self) -> dict[str, Any]:
        self.calls += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


async def test_a_write_fortnox_does_not_confirm_is_failed(open_bench: OpenBench) -> None:
    bench = open_bench()
    write = Writer({"exists": True, "manual": False})
    step = await make_change(bench.context(), PLANNED, write)
    assert (step.status, step.reason) == (
        StepStatus.FAILED,
        "Fortnox accepted the change but did not confirm it",
    )
    assert write.calls == 1


async def test_an_unconfirmed_write_is_failed_with_what_is_known(open_bench: OpenBench) -> None:
    bench = open_bench()
    step = await make_change(bench.context(), PLANNED, Writer(UnconfirmedWrite("lost answer")))
    assert (step.status, step.reason) == (StepStatus.FAILED, "lost answer")


LOST = WriteOutcomeUnknown("POST", "/3/voucherseries", "HTTP 500")


async def test_a_write_of_unknown_outcome_without_a_look_is_unconfirmed(
    open_bench: OpenBench,
) -> None:
    bench = open_bench()
    write = Writer(LOST)
    step = await make_change(bench.context(), PLANNED, write)
    assert (step.status, step.unconfirmed, step.reason) == (StepStatus.FAILED, True, str(LOST))
    assert write.calls == 1


async def test_a_write_of_unknown_outcome_found_applied_by_the_look_is_changed(
    open_bench: OpenBench,
) -> None:
    bench = open_bench()
    look = Writer({"exists": True, "manual": True, "description": "Kassa"})
    write = Writer(LOST)
    step = await make_change(bench.context(), dataclasses.replace(PLANNED, look=look), write)
    assert (step.status, step.unconfirmed, step.after) == (
        StepStatus.CHANGED,
        False,
        {"exists": True, "manual": True, "description": "Kassa"},
    )
    assert (write.calls, look.calls) == (1, 1)  # looked, never written again


async def test_a_write_of_unknown_outcome_the_look_does_not_find_is_not_sent_again(
    open_bench: OpenBench,
) -> None:
    bench = open_bench()
    write, look = Writer(LOST), Writer({"exists": False})
    step = await make_change(bench.context(), dataclasses.replace(PLANNED, look=look), write)
    assert (step.status, step.unconfirmed) == (StepStatus.FAILED, True)
    assert step.reason == (
        "HTTP 500 on POST /3/voucherseries, and a look found it not applied: it was not sent "
        "again (trying again later, looking first, is safe)"
    )
    assert (write.calls, look.calls) == (1, 1)


async def test_a_look_that_fails_too_leaves_the_write_unconfirmed(open_bench: OpenBench) -> None:
    bench = open_bench()
    down = FortnoxTransportError(
        "no answer", method="GET", path="/3/voucherseries/F", timed_out=True
    )
    look = Writer(down)
    step = await make_change(bench.context(), dataclasses.replace(PLANNED, look=look), Writer(LOST))
    assert (step.status, step.unconfirmed) == (StepStatus.FAILED, True)
    assert step.reason is not None
    assert step.reason.startswith(
        "HTTP 500 on POST /3/voucherseries, and the look that followed failed too (no answer"
    )


async def test_a_verified_write_is_changed(open_bench: OpenBench) -> None:
    bench = open_bench()
    step = await make_change(bench.context(), PLANNED, Writer({"exists": True, "manual": True}))
    assert (step.status, step.policy) == (StepStatus.CHANGED, "policy set_manual=auto: allowed")
    assert step.summary.en == "done"


async def test_plan_and_refusals_never_call_the_write(open_bench: OpenBench) -> None:
    bench = open_bench()
    write = Writer({"exists": True, "manual": True})
    planned = await make_change(bench.context("plan"), PLANNED, write)
    never = await make_change(
        bench.context(policy=Policy(set_manual=Rule.NEVER), reviewed=True), PLANNED, write
    )
    review = await make_change(bench.context(policy=Policy(set_manual=Rule.REVIEW)), PLANNED, write)
    assert write.calls == 0
    assert planned.status is StepStatus.WOULD_CHANGE
    assert (never.status, never.reason) == (
        StepStatus.NEEDS_MANUAL,
        "policy set_manual=never: never allowed",
    )
    assert (review.status, review.reason) == (
        StepStatus.NEEDS_MANUAL,
        "policy set_manual=review: waits for a person's review",
    )
    assert never.manual.en == ["by hand"]
