"""Actions that only read and explain: financial year, locked period, Fortnox status, access,
the chart review. They never write and say exactly what they found."""

from __future__ import annotations

from datetime import date

from remediator.kinds import ErrorKind
from remediator.report import StepStatus
from remediator.sandbox import SandboxState
from tests.actions.conftest import OpenBench


def locked(state: SandboxState) -> None:
    state.tenants[0].locked_until = date(2026, 3, 31)


def no_2026(state: SandboxState) -> None:
    tenant = state.tenants[0]
    tenant.financial_years = [y for y in tenant.financial_years if y.id == 1]
    tenant.series.pop("2")
    tenant.charts.pop("2")


def inactive_3002(state: SandboxState) -> None:
    state.tenants[0].charts["2"].inactive = [3002]


async def test_the_financial_year_is_resolved_or_left_to_a_person(open_bench: OpenBench) -> None:
    found = open_bench()
    ctx = found.context()
    steps, _ = await found.act(ctx, "financial_year")
    assert steps[0].status is StepStatus.OK
    assert ctx.year is not None
    assert ctx.year.id == 2
    none = open_bench(no_2026)
    ctx = none.context()
    steps, _ = await none.act(ctx, "financial_year")
    assert (steps[0].status, steps[0].observed, ctx.year) == (
        StepStatus.NEEDS_MANUAL,
        {"financial_year": None},
        None,
    )


async def test_the_locked_period_is_read_and_remembered(open_bench: OpenBench) -> None:
    open_books = open_bench()
    steps, _ = await open_books.act(open_books.context(), "locked_period")
    assert (steps[0].status, steps[0].observed) == (StepStatus.OK, {"locked_until": "2025-12-31"})
    closed = open_bench(locked)
    ctx = closed.context()
    steps, _ = await closed.act(ctx, "locked_period")
    assert steps[0].status is StepStatus.NEEDS_MANUAL
    assert ctx.facts["locked_until"] == "2026-03-31"
    assert any("2026-03-31" in line for line in steps[0].manual.sv)


async def test_fortnox_status_tells_up_from_down(open_bench: OpenBench) -> None:
    bench = open_bench()
    up, _ = await bench.act(bench.context(), "fortnox_status")
    assert (up[0].status, up[0].observed) == (StepStatus.OK, {"available": True})
    bench.rig.sandbox.set_faults(burst_503_seconds=60)
    down, _ = await bench.act(bench.context(), "fortnox_status")
    assert (down[0].status, down[0].observed) == (StepStatus.FAILED, {"available": False})
    assert down[0].reason


def _without_bookkeeping_scope(state: SandboxState) -> None:
    state.grants[0].scopes = ["companyinformation", "settings", "profile"]


async def test_access_is_diagnosed_from_the_scopes_and_the_user(open_bench: OpenBench) -> None:
    bench = open_bench()
    ctx = bench.context(kind=ErrorKind.ACCESS_DENIED)
    rights, written = await bench.act(ctx, "diagnose_access")
    assert written == []
    # Nothing readable says the user may not book: the re-send after it is the check.
    assert rights[0].status is StepStatus.OK
    assert rights[0].observed["user"] == "Anna Ek <anna@example.se>"
    assert ctx.facts["user"] == "Anna Ek <anna@example.se>"

    scopeless = open_bench(_without_bookkeeping_scope)
    await scopeless.rig.runtime.connector.client(scopeless.rig.connection, read_only=True).me()
    ctx = scopeless.context(kind=ErrorKind.LICENSE_MISSING)
    missing, written = await scopeless.act(ctx, "diagnose_access")
    assert written == []
    assert missing[0].status is StepStatus.NEEDS_MANUAL
    assert missing[0].reason == "the connection's scopes lack bookkeeping"
    assert any("https://remediator.test/reconnect" in line for line in missing[0].manual.sv)
    assert any("bookkeeping" in line for line in missing[0].manual.en)


async def test_the_chart_review_lists_what_the_voucher_used(open_bench: OpenBench) -> None:
    bench = open_bench(inactive_3002)
    body = bench.rig.voucher_body()
    body["VoucherRows"][0]["Account"] = 0
    body["VoucherRows"][1]["Account"] = 9999
    failure = bench.rig.failure({"message": "Fel vid export: Ogiltigt konto"}, body)
    ctx = await bench.with_year(bench.context(failure=failure))
    steps, written = await bench.act(ctx, "chart_review")
    assert written == []
    used = steps[0].observed["voucher_accounts"]
    assert used[:2] == ["0: not a valid account number", "9999: not in Fortnox"]
    assert "3002 Försäljning inom Sverige, 12 % moms: inactive" in used
    assert not any(a.startswith("3002") for a in steps[0].observed["active_standard_accounts"])
    assert any("1910 Kassa" in a for a in steps[0].observed["active_standard_accounts"])
