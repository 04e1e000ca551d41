"""The engine on the sandbox (the suite's one Fortnox stand-in): plans never write, fixes write
exactly what is needed and verify it, a second fix writes nothing, and a re-sent voucher exists
once. The sandbox's request log and books are the oracle."""

from __future__ import annotations

from remediator.actions import Context
from remediator.fortnox import FortnoxClient
from remediator.kinds import ErrorKind
from remediator.policy import Policy
from remediator.report import Outcome, StepStatus
from remediator.trail import Audit
from tests.e2e.conftest import provoke
from tests.e2e.support import OpenRig, api_calls, healthy_state, state_for, writes
from tests.garbage import cyclic_garbage

SERIES_PUT = ("PUT", "/3/voucherseries/F")
VOUCHER_POST = ("POST", "/3/vouchers")


async def test_plan_never_writes_and_says_what_it_would_do(open_rig: OpenRig) -> None:
    rig, failure = await provoke(open_rig, ErrorKind.SERIES_NOT_MANUAL)
    before = rig.sandbox.snapshot()["tenants"]
    report, requests = await rig.run(failure, "plan")
    assert report.outcome is Outcome.WOULD_FIX
    assert writes(requests) == []
    assert rig.sandbox.snapshot()["tenants"] == before
    assert [(s.action, s.status) for s in report.steps] == [
        ("financial_year", StepStatus.OK),
        ("series_manual", StepStatus.WOULD_CHANGE),
        ("resend_voucher", StepStatus.WOULD_CHANGE),
    ]
    planned = report.steps[1].calls[0]
    assert (planned.method, planned.path, planned.body) == (
        "PUT",
        "/3/voucherseries/F?financialyear=2",
        {"VoucherSeries": {"Manual": True}},
    )
    assert report.requests.by_method == {"GET": 3} == {"GET": len(api_calls(requests))}


async def test_fix_writes_exactly_what_is_needed_verifies_and_resends(open_rig: OpenRig) -> None:
    rig, failure = await provoke(open_rig, ErrorKind.SERIES_NOT_MANUAL)
    report, requests = await rig.run(failure, "apply")
    assert report.outcome is Outcome.FIXED
    assert writes(requests) == [SERIES_PUT, VOUCHER_POST]
    assert report.steps[1].before == {"exists": True, "manual": False, "description": "Kassa"}
    assert report.steps[1].after is not None
    assert report.steps[1].after["manual"] is True
    assert rig.company.series[2]["F"].manual is True
    (booked,) = rig.vouchers(failure.export_key)
    assert booked["Comments"].splitlines()[-1] == failure.export_key
    assert report.resent
    assert report.voucher is not None
    assert (report.voucher.number, report.voucher.year) == (booked["VoucherNumber"], 2)
    assert report.requests.total <= rig.playbook(report.kind).budget.apply
    again, requests = await rig.run(failure, "apply")
    assert (again.outcome, writes(requests)) == (Outcome.NOTHING_TO_FIX, [])
    assert len(rig.company.vouchers[2]) == 1
    assert again.voucher is not None
    assert again.voucher.already_booked


async def test_a_voucher_post_that_timed_out_is_looked_for_not_resent(open_rig: OpenRig) -> None:
    rig = await open_rig(healthy_state())
    failure = rig.failure({"message": "Fortnox: Read timed out"}, rig.voucher_body())
    rig.sandbox.set_faults(timeout_after_write=1)  # stored, but the answer never comes
    report, requests = await rig.run(failure, "apply")
    assert report.recognition.kind == ErrorKind.FORTNOX_UNAVAILABLE
    assert report.outcome is Outcome.FIXED
    assert writes(requests) == [VOUCHER_POST]
    assert api_calls(requests)[-1] == ("GET", "/3/vouchers"), "after the timeout: a look"
    assert len(rig.vouchers(failure.export_key)) == 1


async def test_only_accounts_the_voucher_uses_are_activated(open_rig: OpenRig) -> None:
    state = state_for(ErrorKind.ACCOUNT_INACTIVE)
    state.tenants[0].charts["2"].inactive = [3001, 3003]  # 3003 is not on the Z-report
    rig = await open_rig(state)
    report, requests = await rig.run(await rig.export(), "apply")
    assert report.outcome is Outcome.FIXED
    assert writes(requests) == [("PUT", "/3/accounts/3001"), VOUCHER_POST]
    assert rig.company.accounts[2][3001].active is True
    assert rig.company.accounts[2][3003].active is False


async def test_policy_never_leaves_the_change_to_a_person(open_rig: OpenRig) -> None:
    rig, failure = await provoke(open_rig, ErrorKind.SERIES_NOT_MANUAL)
    rig.runtime.store.set_policy(rig.connection.id, Policy.model_validate({"set_manual": "never"}))
    report, requests = await rig.run(failure, "apply", reviewed=True)
    assert report.outcome is Outcome.MANUAL_ACTION_REQUIRED
    assert writes(requests) == []
    step = report.steps[1]
    assert step.status is StepStatus.NEEDS_MANUAL
    assert step.policy == "policy set_manual=never: never allowed"
    assert report.steps[2].status is StepStatus.SKIPPED
    assert any("Manuell kontering" in line for line in report.manual_steps.sv)
    assert rig.company.series[2]["F"].manual is False


async def test_account_creation_waits_for_review(open_rig: OpenRig) -> None:
    rig, failure = await provoke(open_rig, ErrorKind.ACCOUNT_MISSING)
    unreviewed, requests = await rig.run(failure, "apply")
    assert (unreviewed.outcome, writes(requests)) == (Outcome.MANUAL_ACTION_REQUIRED, [])
    reviewed, requests = await rig.run(failure, "apply", reviewed=True)
    assert reviewed.outcome is Outcome.FIXED
    assert writes(requests) == [("POST", "/3/accounts"), VOUCHER_POST]
    assert rig.company.accounts[2][3001].description == "Försäljning inom Sverige, 25 % moms"


async def test_chart_of_accounts_missing_changes_nothing_and_explains(open_rig: OpenRig) -> None:
    rig, failure = await provoke(open_rig, ErrorKind.CHART_OF_ACCOUNTS_MISSING)
    report, requests = await rig.run(failure, "apply")
    assert report.outcome is Outcome.MANUAL_ACTION_REQUIRED
    assert writes(requests) == []
    text = "\n".join(report.manual_steps.en)
    assert "0: not a valid account number" in text
    assert "1910 Kassa" in text
    assert "entered by hand" in text


async def test_unrecognized_errors_are_reported_as_such(open_rig: OpenRig) -> None:
    rig = await open_rig(healthy_state())
    failure = rig.failure({"message": "Något helt annat gick fel"}, rig.voucher_body())
    report, requests = await rig.run(failure, "apply")
    assert report.outcome is Outcome.UNRECOGNIZED
    assert report.steps == []
    assert (report.requests.total, requests) == (0, [])


async def test_runs_are_stored_with_their_audit_trail(open_rig: OpenRig) -> None:
    rig, failure = await provoke(open_rig, ErrorKind.SERIES_NOT_MANUAL)
    report, requests = await rig.run(failure, "plan")
    row = rig.runtime.runs.get(report.run_id)
    assert row.outcome == report.outcome.value
    trail = [(e.method, e.path) for e in rig.runtime.runs.audit(report.run_id)]
    assert [call for call in trail if call[1].startswith("/3/")] == api_calls(requests)
    assert trail[:2] == [("GET", "/3/financialyears"), ("GET", "/3/voucherseries/F")]


async def test_a_run_leaves_its_context_and_client_to_reference_counting(
    open_rig: OpenRig,
) -> None:
    """A fix's context, client and audit are freed when its report is out: a cycle among
    them left every run in flight to the garbage collector, whose pauses grew with them."""
    rig, failure = await provoke(open_rig, ErrorKind.SERIES_NOT_MANUAL)
    with cyclic_garbage() as garbage:
        report, _ = await rig.run(failure, "apply")
        assert report.outcome is Outcome.FIXED
        del report
    left = (Context, FortnoxClient, Audit)
    assert [type(o).__name__ for o in garbage if isinstance(o, left)] == []
