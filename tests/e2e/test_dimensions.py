"""Cost centres and the Backoffice's own data, end to end on the sandbox: an inactive cost
centre is activated under policy and the day booked once; an account that requires a cost
centre is explained (which account, where the Backoffice sets it) with nothing written; a voucher
Fortnox cannot book as sent is explained with no request to Fortnox at all."""

from __future__ import annotations

from remediator.kinds import ErrorKind
from remediator.policy import Policy, Rule
from remediator.report import Outcome, StepStatus
from tests.e2e.conftest import OpenRig, provoke
from tests.e2e.expectations import VOUCHER_POST, assert_honest
from tests.e2e.support import ALL_SCOPES, healthy_state, state_for, writes

ACTIVATE = ("PUT", "/3/costcenters/KS1")


async def test_an_inactive_cost_centre_is_activated_and_the_day_booked_once(
    open_rig: OpenRig,
) -> None:
    rig, failure = await provoke(open_rig, ErrorKind.DIMENSION_INVALID)
    assert failure.error.code == 2000947
    fix, during = await rig.run(failure, "apply")
    assert (fix.outcome, writes(during)) == (Outcome.FIXED, [ACTIVATE, VOUCHER_POST])
    step = next(s for s in fix.steps if s.action == "cost_centres")
    assert (step.status, step.change, step.resend) == (
        StepStatus.CHANGED,
        "activate_cost_centre",
        False,
    )
    assert rig.company.cost_centres["KS1"].active
    assert len(rig.vouchers(failure.export_key)) == 1
    assert_honest(fix)


async def test_a_policy_that_never_activates_leaves_the_instructions(open_rig: OpenRig) -> None:
    rig, failure = await provoke(open_rig, ErrorKind.DIMENSION_INVALID)
    rig.runtime.store.set_policy(rig.connection.id, Policy(activate_cost_centre=Rule.NEVER))
    fix, during = await rig.run(failure, "apply")
    assert (fix.outcome, writes(during)) == (Outcome.MANUAL_ACTION_REQUIRED, [])
    assert any("Kostnadsställen" in line and "KS1" in line for line in fix.manual_steps.sv)
    assert not rig.company.cost_centres["KS1"].active
    assert_honest(fix)


async def test_an_account_that_requires_a_cost_centre_is_explained(open_rig: OpenRig) -> None:
    state = healthy_state()
    state.tenants[0].charts["2"].cost_centre_required = [1910]
    rig = await open_rig(state)
    failure = await rig.export()
    assert (failure.error.code, failure.error.message) == (
        2000946,
        "Fel vid export: Kostnadsställe är obligatoriskt på konto: 1910",
    )
    fix, during = await rig.run(failure, "apply")
    assert (fix.kind, fix.outcome, writes(during)) == (
        ErrorKind.DIMENSION_INVALID,
        Outcome.MANUAL_ACTION_REQUIRED,
        [],
    )
    step = next(s for s in fix.steps if s.action == "cost_centres")
    assert step.observed == {"requires_dimension": [{"account": 1910, "dimension": "cost_centre"}]}
    assert "Konto 1910 (Kassa) kräver kostnadsställe" in step.summary.sv
    manual = " ".join(fix.manual_steps.en)
    assert "Account 1910 requires a cost centre" in manual
    assert "Backoffice's Fortnox settings" in manual
    assert rig.vouchers(failure.export_key) == []
    assert_honest(fix)


async def test_without_the_costcenter_scope_it_says_how_to_do_it_by_hand(
    open_rig: OpenRig,
) -> None:
    state = state_for(ErrorKind.DIMENSION_INVALID)
    state.grants[0].scopes = list(ALL_SCOPES)
    rig = await open_rig(state)
    failure = await rig.export()
    fix, during = await rig.run(failure, "apply")
    assert (fix.outcome, writes(during)) == (Outcome.MANUAL_ACTION_REQUIRED, [])
    step = next(s for s in fix.steps if s.action == "cost_centres")
    assert step.reason == "the connection lacks the costcenter scope"
    assert any('"costcenter"' in line for line in fix.manual_steps.en)
    assert_honest(fix)


async def test_an_unbalanced_voucher_is_explained_without_asking_fortnox(
    open_rig: OpenRig,
) -> None:
    rig, failure = await provoke(open_rig, ErrorKind.VOUCHER_INVALID)
    fix, during = await rig.run(failure, "apply")
    assert (fix.outcome, during) == (Outcome.MANUAL_ACTION_REQUIRED, [])
    step = fix.steps[0]
    assert (step.action, step.reason, step.observed["difference"]) == (
        "voucher_review",
        "unbalanced",
        100.0,
    )
    assert any("100.00" in line for line in fix.manual_steps.sv)
    assert_honest(fix)


async def test_a_row_rounded_to_zero_leaves_too_few_rows(open_rig: OpenRig) -> None:
    rig = await open_rig(healthy_state())
    body = rig.voucher_body(
        VoucherRows=[
            {"Account": 1910, "Debit": 0.0, "Credit": 0},
            {"Account": 3001, "Debit": 0, "Credit": 0.0},
        ]
    )
    failure = await rig.export(body)
    assert failure.error.code == 2001897
    fix, during = await rig.run(failure, "apply")
    assert (fix.kind, fix.outcome, during) == (
        ErrorKind.VOUCHER_INVALID,
        Outcome.MANUAL_ACTION_REQUIRED,
        [],
    )
    assert fix.steps[0].reason == "too_few_rows"
    assert fix.steps[0].observed["zero_rows"] == [1910, 3001]
    assert "0.00" in " ".join(fix.manual_steps.en)
    assert_honest(fix)
