"""Account actions: every account the voucher uses, read in one pass, changed once; never an
account it does not use; creation needs a BAS name."""

from __future__ import annotations

from remediator.actions import Context
from remediator.actions.accounts import target_accounts
from remediator.kinds import ErrorKind
from remediator.policy import Policy, Rule
from remediator.report import StepStatus
from remediator.sandbox import SandboxState
from tests.actions.conftest import OpenBench
from tests.e2e.support import api_calls

PUT_3001 = ("PUT", "/3/accounts/3001")


def inactive_3001(state: SandboxState) -> None:
    state.tenants[0].charts["2"].inactive = [3001]


def missing_3001(state: SandboxState) -> None:
    state.tenants[0].charts["2"].missing = [3001]


async def test_which_accounts_are_targets(open_bench: OpenBench) -> None:
    bench = open_bench()
    with_voucher = bench.context()
    used = [row["Account"] for row in bench.rig.voucher_body()["VoucherRows"]]
    # The voucher decides, whatever the error names (3740 is not on it).
    assert target_accounts(with_voucher, {"account": "3740"}) == used
    assert target_accounts(with_voucher, {"account": "{account}"}) == used
    without = bench.context(failure=bench.failure(voucher=False))
    assert target_accounts(without, {"account": "3001"}) == [3001]
    assert target_accounts(without, {"account": "0"}) == []
    assert target_accounts(without, {}) == []


async def test_account_active_twice_writes_once(open_bench: OpenBench) -> None:
    bench = open_bench(inactive_3001)
    first, written = await bench.act(await bench.with_year(bench.context()), "account_active")
    assert [s.status for s in first] == [StepStatus.OK, StepStatus.CHANGED]
    assert written == [PUT_3001]
    second, written = await bench.act(await bench.with_year(bench.context()), "account_active")
    assert ([s.status for s in second], written) == ([StepStatus.OK], [])
    assert bench.company.accounts[2][3001].active is True


async def test_every_account_is_read_in_one_pass(open_bench: OpenBench) -> None:
    bench = open_bench(inactive_3001)
    ctx = await bench.with_year(bench.context("plan"))
    seen = len(bench.rig.sandbox.requests)
    steps, written = await bench.act(ctx, "account_active", {"account": "{account}"})
    assert [s.status for s in steps].count(StepStatus.WOULD_CHANGE) == 1
    assert written == []
    assert api_calls(list(bench.rig.sandbox.requests)[seen:]) == [("GET", "/3/accounts")]
    assert bench.company.accounts[2][3001].active is False


async def test_an_account_that_does_not_exist_is_not_activated(open_bench: OpenBench) -> None:
    bench = open_bench(missing_3001)
    ctx = await bench.with_year(bench.context())
    steps, written = await bench.act(ctx, "account_active")
    missing = next(s for s in steps if s.status is not StepStatus.OK)
    assert (missing.status, missing.reason, written) == (
        StepStatus.NEEDS_MANUAL,
        "account missing",
        [],
    )


async def test_account_exists_creates_once_after_review(open_bench: OpenBench) -> None:
    bench = open_bench(missing_3001)

    def reviewed() -> Context:
        return bench.context(kind=ErrorKind.ACCOUNT_MISSING, reviewed=True)

    first, written = await bench.act(await bench.with_year(reviewed()), "account_exists")
    assert [s.status for s in first] == [StepStatus.OK, StepStatus.CHANGED]
    assert written == [("POST", "/3/accounts")]
    second, written = await bench.act(await bench.with_year(reviewed()), "account_exists")
    assert ([s.status for s in second], written) == ([StepStatus.OK], [])


async def test_an_account_without_a_bas_name_is_left_to_a_person(open_bench: OpenBench) -> None:
    bench = open_bench()
    ctx = bench.context(
        kind=ErrorKind.ACCOUNT_MISSING,
        policy=Policy(create_account=Rule.AUTO),
        reviewed=True,
        failure=bench.failure(voucher=False),
    )
    steps, written = await bench.act(
        await bench.with_year(ctx), "account_exists", {"account": "3999"}
    )
    assert (steps[0].status, steps[0].reason, written) == (
        StepStatus.NEEDS_MANUAL,
        "no standard BAS name known",
        [],
    )
    assert any("3999" in line for line in steps[0].manual.sv)
