"""Every account the Z-report uses, in one pass: all of them are checked in the voucher's year
before the re-send and every inactive one is activated (under policy), none it does not use;
and "Ogiltigt konto" (2001265) on real account numbers is an account problem, not a missing
chart in the Backoffice."""

from __future__ import annotations

from remediator.kinds import ErrorKind
from remediator.report import Outcome, StepStatus
from tests.e2e.conftest import OpenRig
from tests.e2e.expectations import assert_honest
from tests.e2e.support import api_calls, healthy_state, state_for, writes

POST = ("POST", "/3/vouchers")
INVALID_ACCOUNT = {"message": "Fel vid export: Ogiltigt konto", "code": 2001265}


async def test_one_run_gets_past_two_inactive_accounts(open_rig: OpenRig) -> None:
    state = state_for(ErrorKind.ACCOUNT_INACTIVE)
    state.tenants[0].charts["2"].inactive = [3001, 2611]
    rig = await open_rig(state)
    failure = await rig.export()
    assert failure.error.message == 'Fel vid export: Konto "3001" är inte aktivt'  # only 3001
    report, requests = await rig.run(failure, "apply")
    assert report.outcome is Outcome.FIXED, report.summary.en
    assert writes(requests) == [("PUT", "/3/accounts/3001"), ("PUT", "/3/accounts/2611"), POST]
    assert rig.company.accounts[2][3001].active
    assert rig.company.accounts[2][2611].active
    assert len(rig.vouchers(failure.export_key)) == 1
    assert_honest(report)
    again, requests = await rig.run(failure, "apply")
    assert (again.outcome, writes(requests)) == (Outcome.NOTHING_TO_FIX, [])
    assert len(rig.vouchers(failure.export_key)) == 1


async def test_the_plan_names_every_inactive_account(open_rig: OpenRig) -> None:
    state = state_for(ErrorKind.ACCOUNT_INACTIVE)
    state.tenants[0].charts["2"].inactive = [3001, 2611]
    rig = await open_rig(state)
    plan, requests = await rig.run(await rig.export(), "plan")
    assert (plan.outcome, writes(requests)) == (Outcome.WOULD_FIX, [])
    planned = [s.calls[0].path for s in plan.steps if s.status is StepStatus.WOULD_CHANGE]
    assert planned[:2] == [
        "/3/accounts/3001?financialyear=2",
        "/3/accounts/2611?financialyear=2",
    ]
    assert [p for m, p in api_calls(requests) if p.startswith("/3/accounts")] == ["/3/accounts"]


async def test_an_account_the_voucher_does_not_use_is_never_changed(open_rig: OpenRig) -> None:
    state = state_for(ErrorKind.ACCOUNT_INACTIVE)
    state.tenants[0].charts["2"].inactive = [3001, 3740]  # 3740 is not on the Z-report
    rig = await open_rig(state)
    failure = rig.failure(
        {"message": 'Fel vid export: Konto "3740" är inte aktivt', "code": 2000550},
        rig.voucher_body(),
    )
    report, requests = await rig.run(failure, "apply")
    assert writes(requests) == [("PUT", "/3/accounts/3001"), POST]
    assert rig.company.accounts[2][3740].active is False
    assert report.outcome is Outcome.FIXED
    assert len(rig.vouchers(failure.export_key)) == 1


async def test_invalid_account_on_real_inactive_accounts_goes_to_the_account_playbook(
    open_rig: OpenRig,
) -> None:
    state = healthy_state()
    state.tenants[0].charts["2"].inactive = [3001, 2611]
    rig = await open_rig(state)
    failure = rig.failure(INVALID_ACCOUNT, rig.voucher_body())
    assert rig.runtime.catalogue.classify_failure(failure).kind == (
        ErrorKind.CHART_OF_ACCOUNTS_MISSING
    )
    report, requests = await rig.run(failure, "apply")
    assert report.kind == ErrorKind.ACCOUNT_INACTIVE
    assert report.outcome is Outcome.FIXED, report.summary.en
    assert writes(requests) == [("PUT", "/3/accounts/3001"), ("PUT", "/3/accounts/2611"), POST]
    assert "nothing needs changing" not in report.explanation.en.lower()
    assert len(rig.vouchers(failure.export_key)) == 1
    assert_honest(report)


async def test_invalid_account_on_a_real_missing_account_goes_to_the_account_playbook(
    open_rig: OpenRig,
) -> None:
    state = healthy_state()
    state.tenants[0].charts["2"].missing = [3001]
    rig = await open_rig(state)
    failure = rig.failure(INVALID_ACCOUNT, rig.voucher_body())
    unreviewed, requests = await rig.run(failure, "apply")
    assert unreviewed.kind == ErrorKind.ACCOUNT_MISSING
    assert (unreviewed.outcome, writes(requests)) == (Outcome.MANUAL_ACTION_REQUIRED, [])
    reviewed, requests = await rig.run(failure, "apply", reviewed=True)
    assert reviewed.outcome is Outcome.FIXED
    assert writes(requests) == [("POST", "/3/accounts"), POST]
    assert len(rig.vouchers(failure.export_key)) == 1


async def test_invalid_account_without_real_accounts_stays_a_backoffice_chart_problem(
    open_rig: OpenRig,
) -> None:
    rig = await open_rig(state_for(ErrorKind.CHART_OF_ACCOUNTS_MISSING))
    failure = await rig.export()
    report, requests = await rig.run(failure, "apply", reviewed=True)
    assert report.kind == ErrorKind.CHART_OF_ACCOUNTS_MISSING
    assert (report.outcome, writes(requests)) == (Outcome.MANUAL_ACTION_REQUIRED, [])
    assert rig.vouchers(failure.export_key) == []
