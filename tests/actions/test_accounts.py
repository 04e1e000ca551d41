"""Account actions: only the named or used accounts, once; creation needs a BAS name."""

from __future__ import annotations

from remediator.actions import Context
from remediator.actions.accounts import target_accounts
from remediator.kinds import ErrorKind
from remediator.policy import Policy, Rule
from remediator.report import StepStatus
from remediator.sandbox import SandboxState
from tests.actions.conftest import OpenBench

PUT_3001 = ("PUT", "/3/accounts/3001")


def inactive_3001(state: SandboxState) -> None:
    state.tenants[0].charts["2"].inactive = [3001]


def missing_3001(state: SandboxState) -> None:
    state.tenants[0].charts["2"].missing = [3001]


async def test_which_accounts_are_targets(open_bench: OpenBench) -> None:
    bench = open_bench()
    with_voucher = bench.context()
    used = [row["Account"] for row in bench.rig.voucher_body()["VoucherRows"]]
    assert target_accounts(with_voucher, {"account": "3740"}) == [3740]
    # An error that names no account leaves the placeholder unfilled: the voucher decides.
    assert target_accounts(with_voucher, {"account": "{account}"}) == used
    assert target_accounts(bench.context(failure=bench.failure(voucher=False)), {}) == []


async def test_account_active_twice_writes_once(open_bench: OpenBench) -> None:
    bench = open_bench(inactive_3001)
    args = {"account": "3001"}
    first, written = await bench.act(await bench.with_year(bench.context()), "account_active", args)
    assert (first[0].status, written) == (StepStatus.CHANGED, [PUT_3001])
    second, written = await bench.act(
        await bench.with_year(bench.context()), "account_active", args
    )
    assert (second[0].status, written) == (StepStatus.OK, [])
    assert bench.company.accounts[2][3001].active is True


async def test_account_active_in_plan_mode_only_reads(open_bench: OpenBench) -> None:
    bench = open_bench(inactive_3001)
    ctx = await bench.with_year(bench.context("plan"))
    steps, written = await bench.act(ctx, "account_active", {"account": "{account}"})
    assert [s.status for s in steps].count(StepStatus.WOULD_CHANGE) == 1
    assert written == []
    assert bench.company.accounts[2][3001].active is False


async def test_an_account_that_does_not_exist_is_not_activated(open_bench: OpenBench) -> None:
    bench = open_bench(missing_3001)
    ctx = await bench.with_year(bench.context())
    steps, written = await bench.act(ctx, "account_active", {"account": "3001"})
    assert (steps[0].status, steps[0].reason, written) == (
        StepStatus.NEEDS_MANUAL,
        "account missing",
        [],
    )


async def test_account_exists_creates_once_after_review(open_bench: OpenBench) -> None:
    bench = open_bench(missing_3001)
    args = {"account": "3001"}

    def reviewed() -> Context:
        return bench.context(kind=ErrorKind.ACCOUNT_MISSING, reviewed=True)

    first, written = await bench.act(await bench.with_year(reviewed()), "account_exists", args)
    assert (first[0].status, written) == (StepStatus.CHANGED, [("POST", "/3/accounts")])
    second, written = await bench.act(await bench.with_year(reviewed()), "account_exists", args)
    assert (second[0].status, written) == (StepStatus.OK, [])


async def test_an_account_without_a_bas_name_is_left_to_a_person(open_bench: OpenBench) -> None:
    bench = open_bench()
    ctx = bench.context(
        kind=ErrorKind.ACCOUNT_MISSING, policy=Policy(create_account=Rule.AUTO), reviewed=True
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
