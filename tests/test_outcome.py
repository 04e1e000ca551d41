"""Outcomes add up honestly from step statuses."""

from __future__ import annotations

import pytest

from remediator.kinds import ErrorKind
from remediator.outcome import decide
from remediator.report import Mode, Outcome, Step, StepStatus, Text

S = StepStatus


def steps(*statuses: StepStatus) -> list[Step]:
    return [Step(action="a", status=s, summary=Text(sv="x", en="x")) for s in statuses]


@pytest.mark.parametrize(
    ("mode", "statuses", "outcome"),
    [
        ("apply", (S.OK, S.CHANGED, S.CHANGED), Outcome.FIXED),
        ("apply", (S.OK, S.OK), Outcome.NOTHING_TO_FIX),
        ("apply", (S.OK, S.CHANGED, S.FAILED), Outcome.FAILED),
        ("apply", (S.OK, S.NEEDS_MANUAL, S.SKIPPED), Outcome.MANUAL_ACTION_REQUIRED),
        ("apply", (S.FAILED, S.NEEDS_MANUAL), Outcome.FAILED),
        ("plan", (S.OK, S.WOULD_CHANGE), Outcome.WOULD_FIX),
        ("plan", (S.OK, S.OK), Outcome.NOTHING_TO_FIX),
        ("plan", (S.WOULD_CHANGE, S.NEEDS_MANUAL), Outcome.MANUAL_ACTION_REQUIRED),
        ("apply", (S.SKIPPED,), Outcome.NOTHING_TO_FIX),
        ("apply", (), Outcome.NOTHING_TO_FIX),
    ],
)
def test_decide(mode: Mode, statuses: tuple[StepStatus, ...], outcome: Outcome) -> None:
    assert decide(mode, ErrorKind.SERIES_NOT_MANUAL, steps(*statuses)) is outcome


def test_unrecognized_wins() -> None:
    assert decide("apply", ErrorKind.UNRECOGNIZED, steps(S.CHANGED)) is Outcome.UNRECOGNIZED


def test_a_skipped_step_is_never_counted_as_a_fix() -> None:
    assert decide("apply", ErrorKind.ACCOUNT_INACTIVE, steps(S.SKIPPED, S.SKIPPED)) is not (
        Outcome.FIXED
    )
