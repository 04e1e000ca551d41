"""Outcomes add up honestly from step statuses."""

from __future__ import annotations

import pytest

from remediator.failure import ExportFailure
from remediator.kinds import ErrorKind
from remediator.outcome import could_not_complete, decide
from remediator.report import Mode, Outcome, Recognition, Requests, Step, StepStatus, Text

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


def _unfinished_failure() -> ExportFailure:
    return ExportFailure.model_validate(
        {
            "event_id": "ev-1",
            "restaurant": {"id": "r1", "name": "Krogen"},
            "connection_id": "c1",
            "export": {"kind": "z_report", "id": "z-1", "date": "2026-03-02"},
            "error": {"message": "Fel vid export"},
        }
    )


@pytest.mark.parametrize(
    ("requests", "said"),
    [
        (None, "What it did in Fortnox before it stopped is not known here"),
        (Requests(), "nothing was changed in Fortnox"),
        (Requests(by_method={"GET": 2, "PUT": 1}, total=3), "after writing to Fortnox"),
    ],
)
def test_an_unfinished_run_says_what_is_known_of_what_it_did(
    requests: Requests | None, said: str
) -> None:
    """A report written for a run whose pass died (``requests`` not known) never says that
    nothing was changed: the pass may have written before it died."""
    report = could_not_complete(
        _unfinished_failure(),
        run_id="r",
        mode="apply",
        recognition=Recognition(kind=ErrorKind.UNRECOGNIZED, matched_by="none"),
        reason="a reason",
        requests=requests,
    )
    assert said in report.explanation.en
    assert report.requests == (requests or Requests())
