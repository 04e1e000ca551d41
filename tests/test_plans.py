"""Saved plans: written and read back, refused when damaged, and compared with Fortnox now."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from remediator.errors import UsageError
from remediator.failure import ExportFailure
from remediator.plans import SavedPlan, differences, observations
from remediator.report import Report, Step, StepStatus, Text
from tests.test_render import make_report


def observed(action: str, **seen: Any) -> Step:
    return Step(
        action=action,
        status=StepStatus.OK,
        summary=Text(sv="s", en="e"),
        observed=seen,
    )


PLANNED = [
    observed("financial_year", financial_year={"id": 2, "from": "2026-01-01", "to": "2026-12-31"}),
    observed("series_manual", **{"series:F": {"exists": True, "manual": False}}),
    observed("resend_voucher", booked=None),
]


def plan_of(steps: list[Step]) -> Report:
    return make_report(mode="plan", steps=steps)


FAILURE: dict[str, Any] = {
    "event_id": "evt-1",
    "restaurant": {"id": "r1", "name": "Bistro Ljus"},
    "connection_id": "rest-1",
    "export": {
        "kind": "z_report",
        "id": "z-812",
        "date": "2026-03-02",
        "voucher_series": "F",
        "voucher": {
            "Voucher": {
                "VoucherSeries": "F",
                "TransactionDate": "2026-03-02",
                "Description": "Z-rapport 812 Bistro Ljus",
                "VoucherRows": [
                    {"Account": 1910, "Debit": 1250.0},
                    {"Account": 3001, "Credit": 1000.0},
                    {"Account": 2611, "Credit": 250.0},
                ],
            }
        },
    },
    "error": {"message": "Verifikationsserien är inte manuell (F)"},
}


def saved() -> SavedPlan:
    failure = ExportFailure.model_validate(FAILURE)
    return SavedPlan(failure=failure, report=plan_of(PLANNED))


def test_write_and_read_round_trip(tmp_path: Path) -> None:
    plan = saved()
    path = tmp_path / "plan.json"
    plan.save(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["plan_version"] == 1
    assert data["failure"]["export"]["voucher"]["VoucherSeries"] == "F"  # Fortnox's own keys
    assert SavedPlan.read(path) == plan


def test_unchanged_fortnox_has_no_differences() -> None:
    assert differences(plan_of(PLANNED), plan_of(list(PLANNED))) == []
    assert observations(plan_of(PLANNED))[1] == (
        "series_manual",
        {"series:F": {"exists": True, "manual": False}},
    )


def test_a_changed_observation_is_named() -> None:
    now = [*PLANNED]
    now[1] = observed("series_manual", **{"series:F": {"exists": True, "manual": True}})
    assert differences(plan_of(PLANNED), plan_of(now)) == [
        (
            'series_manual series:F: {"exists": true, "manual": false} → '
            '{"exists": true, "manual": true}'
        )
    ]


def test_an_observation_that_appeared_or_vanished_counts() -> None:
    now = [*PLANNED]
    now[2] = observed("resend_voucher", booked=61)
    now[0] = observed("financial_year")
    assert differences(plan_of(PLANNED), plan_of(now)) == [
        'financial_year financial_year: {"from": "2026-01-01", "id": 2, "to": "2026-12-31"} → null',
        "resend_voucher booked: null → 61",
    ]


def test_different_steps_make_the_plan_stale() -> None:
    assert differences(plan_of(PLANNED), plan_of(PLANNED[:2])) == [
        "the plan's steps are no longer the same"
    ]
    swapped = [PLANNED[1], PLANNED[0], PLANNED[2]]
    assert differences(plan_of(PLANNED), plan_of(swapped)) == [
        "the plan's steps are no longer the same"
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "is not a saved plan (not JSON: EOF while parsing a value at line 1 column 0)"),
        ("[]", "is not a saved plan ((top level): Input should be an object)"),
        (
            '{"plan_version": 2}',
            "is not a saved plan (plan_version: Input should be 1; failure: Field required; report: Field required)",
        ),
    ],
)
def test_a_damaged_plan_is_refused_in_one_line(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "plan.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        SavedPlan.read(path)
    assert str(caught.value) == f"{path} {expected}"
    assert caught.value.exit_code == 2


def test_many_problems_are_cut_short(tmp_path: Path) -> None:
    data = json.loads(saved().model_dump_json(by_alias=True))
    data["report"] = {"run_id": 1}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(UsageError, match=r"; and \d+ more\)$"):
        SavedPlan.read(path)


def test_missing_and_unwritable(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"cannot read plan .*: No such file or directory"):
        SavedPlan.read(tmp_path / "nope.json")
    with pytest.raises(UsageError, match=r"cannot write plan .*: No such file or directory"):
        saved().save(tmp_path / "missing" / "plan.json")
