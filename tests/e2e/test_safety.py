"""The books belong to the restaurant: policies stop changes, stale plans are refused, accounts
are touched only when the export uses them or the error names them, and a missing account is
created only after review."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from remediator.failure import ExportFailure
from remediator.kinds import ErrorKind, Kind
from remediator.plans import SavedPlan, StalePlanError
from remediator.policy import Change, Policy, Rule
from remediator.report import Outcome, Report, StepStatus
from tests.e2e.conftest import OpenRig, provoke
from tests.e2e.expectations import assert_honest
from tests.e2e.support import Rig, api_calls, state_for, writes


def step_of(report: Report, action: str) -> tuple[StepStatus, str | None]:
    """The status and policy of ``action`` (of its one step that was not already right)."""
    found = [s for s in report.steps if s.action == action]
    assert found, f"no {action} step"
    acted = [s for s in found if s.status is not StepStatus.OK] or found
    assert len(acted) == 1, acted
    return acted[0].status, acted[0].policy


@dataclass(frozen=True)
class Stop:
    """A change a policy can stop: in which error, by which action, after which writes."""

    kind: Kind
    change: Change
    action: str
    before_stop: tuple[tuple[str, str], ...] = ()


STOPPABLE = [
    Stop(ErrorKind.SERIES_NOT_MANUAL, Change.SET_MANUAL, "series_manual"),
    Stop(ErrorKind.SERIES_MISSING, Change.CREATE_SERIES, "series_exists"),
    Stop(ErrorKind.ACCOUNT_INACTIVE, Change.ACTIVATE_ACCOUNT, "account_active"),
    Stop(ErrorKind.ACCOUNT_MISSING, Change.CREATE_ACCOUNT, "account_exists"),
    Stop(
        ErrorKind.SERIES_NOT_MANUAL,
        Change.RESEND_VOUCHER,
        "resend_voucher",
        (("PUT", "/3/voucherseries/F"),),
    ),
]


@pytest.mark.parametrize("rule", [Rule.NEVER, Rule.REVIEW])
@pytest.mark.parametrize("stop", STOPPABLE, ids=[f"{s.kind}-{s.change.value}" for s in STOPPABLE])
async def test_a_policy_stops_the_change_and_the_report_says_which(
    open_rig: OpenRig, stop: Stop, rule: Rule
) -> None:
    rig, failure = await provoke(open_rig, stop.kind)
    policy = Policy.model_validate({stop.change.value: rule})
    rig.runtime.store.set_policy(rig.connection.id, policy)
    report, requests = await rig.run(failure, "apply", reviewed=False)
    assert writes(requests) == list(stop.before_stop)
    assert report.outcome is Outcome.MANUAL_ACTION_REQUIRED
    verdict = "never allowed" if rule is Rule.NEVER else "waits for a person's review"
    assert step_of(report, stop.action) == (
        StepStatus.NEEDS_MANUAL,
        f"policy {stop.change.value}={rule.value}: {verdict}",
    )
    assert report.manual_steps.sv
    assert report.manual_steps.en
    assert_honest(report)


async def test_review_applies_once_a_person_approved(open_rig: OpenRig) -> None:
    rig, failure = await provoke(open_rig, ErrorKind.SERIES_NOT_MANUAL)
    rig.runtime.store.set_policy(rig.connection.id, Policy(set_manual=Rule.REVIEW))
    report, requests = await rig.run(failure, "apply", reviewed=True)
    assert report.outcome is Outcome.FIXED
    assert writes(requests) == [("PUT", "/3/voucherseries/F"), ("POST", "/3/vouchers")]
    assert step_of(report, "series_manual") == (
        StepStatus.CHANGED,
        "policy set_manual=review: allowed",
    )


async def test_never_shows_in_the_plan_too(open_rig: OpenRig) -> None:
    rig, failure = await provoke(open_rig, ErrorKind.SERIES_NOT_MANUAL)
    rig.runtime.store.set_policy(rig.connection.id, Policy(set_manual=Rule.NEVER))
    plan, requests = await rig.run(failure, "plan")
    assert writes(requests) == []
    assert plan.outcome is Outcome.MANUAL_ACTION_REQUIRED
    assert step_of(plan, "resend_voucher")[0] is StepStatus.SKIPPED
    assert rig.company.series[2]["F"].manual is False


async def test_a_missing_account_is_created_only_after_review(open_rig: OpenRig) -> None:
    rig, failure = await provoke(open_rig, ErrorKind.ACCOUNT_MISSING)
    rig.runtime.store.set_policy(rig.connection.id, Policy(create_account=Rule.AUTO))
    unreviewed, requests = await rig.run(failure, "apply", reviewed=False)
    assert writes(requests) == []
    assert unreviewed.outcome is Outcome.MANUAL_ACTION_REQUIRED
    assert step_of(unreviewed, "account_exists") == (
        StepStatus.NEEDS_MANUAL,
        "policy create_account=auto, applied as review: waits for a person's review",
    )
    assert 3001 not in rig.company.accounts[2]
    reviewed, requests = await rig.run(failure, "apply", reviewed=True)
    assert reviewed.outcome is Outcome.FIXED
    assert writes(requests) == [("POST", "/3/accounts"), ("POST", "/3/vouchers")]
    created = rig.company.accounts[2][3001]
    assert (created.description, created.active) == ("Försäljning inom Sverige, 25 % moms", True)
    assert len(rig.vouchers(failure.export_key)) == 1


async def test_only_the_named_account_is_activated(open_rig: OpenRig) -> None:
    state = state_for(ErrorKind.ACCOUNT_INACTIVE)
    state.tenants[0].charts["2"].inactive = [3001, 3740]  # 3740 is not on the Z-report
    rig = await open_rig(state)
    failure = await rig.export()
    assert failure.error.message == 'Fel vid export: Konto "3001" är inte aktivt'
    report, requests = await rig.run(failure, "apply")
    assert report.outcome is Outcome.FIXED
    assert writes(requests) == [("PUT", "/3/accounts/3001"), ("POST", "/3/vouchers")]
    assert rig.company.accounts[2][3740].active is False


async def test_without_a_named_account_only_the_exports_accounts_are_checked(
    open_rig: OpenRig,
) -> None:
    state = state_for(ErrorKind.ACCOUNT_INACTIVE)
    state.tenants[0].charts["2"].inactive = [3001, 3740]
    rig = await open_rig(state)
    body = rig.voucher_body()
    failure = rig.failure({"message": "Kontot är inaktivt", "code": 2000550}, body)
    report, requests = await rig.run(failure, "apply")
    assert report.kind == ErrorKind.ACCOUNT_INACTIVE
    used = {row["Account"] for row in body["VoucherRows"]}
    read = [p for m, p in api_calls(requests) if m == "GET" and p.startswith("/3/accounts")]
    assert read == ["/3/accounts"], "the year's chart, read once"
    assert 3740 not in used
    assert writes(requests) == [("PUT", "/3/accounts/3001"), ("POST", "/3/vouchers")]
    assert rig.company.accounts[2][3740].active is False


async def test_without_a_voucher_nor_a_named_account_nothing_is_activated(
    open_rig: OpenRig,
) -> None:
    rig = await open_rig(state_for(ErrorKind.ACCOUNT_INACTIVE))
    failure = rig.failure({"message": "Kontot är inaktivt", "code": 2000550}, None)
    report, requests = await rig.run(failure, "apply")
    assert writes(requests) == []
    assert report.outcome is Outcome.MANUAL_ACTION_REQUIRED
    assert rig.company.accounts[2][3001].active is False
    assert_honest(report)


async def _saved_plan(rig: Rig, failure: ExportFailure, tmp_path: Path) -> SavedPlan:
    plan, _ = await rig.run(failure, "plan")
    path = tmp_path / "plan.json"
    SavedPlan(failure=failure, report=plan).write(path)
    return SavedPlan.read(path)


async def test_a_saved_plan_is_applied_when_fortnox_has_not_changed(
    open_rig: OpenRig, tmp_path: Path
) -> None:
    rig, failure = await provoke(open_rig, ErrorKind.SERIES_NOT_MANUAL)
    saved = await _saved_plan(rig, failure, tmp_path)
    seen = len(rig.sandbox.requests)
    report = await rig.runtime.engine.apply_saved(saved)
    assert report.outcome is Outcome.FIXED
    assert writes(list(rig.sandbox.requests)[seen:]) == [
        ("PUT", "/3/voucherseries/F"),
        ("POST", "/3/vouchers"),
    ]


async def test_a_stale_plan_is_refused_and_writes_nothing(
    open_rig: OpenRig, tmp_path: Path
) -> None:
    rig, failure = await provoke(open_rig, ErrorKind.SERIES_NOT_MANUAL)
    saved = await _saved_plan(rig, failure, tmp_path)
    series = rig.company.series[2]
    series["F"] = series["F"].model_copy(update={"description": "Kassa (ändrad)"})
    seen = len(rig.sandbox.requests)
    with pytest.raises(StalePlanError, match=r"series_manual series:F: .*Kassa \(ändrad\)"):
        await rig.runtime.engine.apply_saved(saved)
    assert writes(list(rig.sandbox.requests)[seen:]) == []
    assert rig.company.series[2]["F"].manual is False


async def test_a_plan_is_stale_once_the_day_was_booked_by_hand(
    open_rig: OpenRig, tmp_path: Path
) -> None:
    rig, failure = await provoke(open_rig, ErrorKind.SERIES_NOT_MANUAL)
    saved = await _saved_plan(rig, failure, tmp_path)
    fixed_by_hand, _ = await rig.run(failure, "apply")  # e.g. another support person
    assert fixed_by_hand.outcome is Outcome.FIXED
    seen = len(rig.sandbox.requests)
    with pytest.raises(StalePlanError, match="Make a new plan"):
        await rig.runtime.engine.apply_saved(saved)
    assert writes(list(rig.sandbox.requests)[seen:]) == []
    assert len(rig.vouchers(failure.export_key)) == 1
