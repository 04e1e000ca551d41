"""Series actions: read first, write only in apply mode, and a second run changes nothing."""

from __future__ import annotations

import pytest

from remediator.actions.base import MissingPrerequisiteError
from remediator.report import StepStatus
from remediator.sandbox import SandboxState
from tests.actions.conftest import OpenBench

PUT_F = ("PUT", "/3/voucherseries/F")


def not_manual(state: SandboxState) -> None:
    next(s for s in state.tenants[0].series["2"] if s.code == "F").manual = False


def missing(state: SandboxState) -> None:
    state.tenants[0].series["2"] = [s for s in state.tenants[0].series["2"] if s.code != "F"]


async def test_series_manual_twice_writes_once(open_bench: OpenBench) -> None:
    bench = open_bench(not_manual)
    first, written = await bench.act(await bench.with_year(bench.context()), "series_manual")
    assert (first[0].status, written) == (StepStatus.CHANGED, [PUT_F])
    assert first[0].before == {"exists": True, "manual": False, "description": "Kassa"}
    assert first[0].after == {"exists": True, "manual": True, "description": "Kassa"}
    second, written = await bench.act(await bench.with_year(bench.context()), "series_manual")
    assert (second[0].status, written) == (StepStatus.OK, [])
    assert bench.company.series[2]["F"].manual is True


async def test_series_manual_in_plan_mode_only_reads(open_bench: OpenBench) -> None:
    bench = open_bench(not_manual)
    ctx = await bench.with_year(bench.context("plan"))
    steps, written = await bench.act(ctx, "series_manual", {"series": "f"})
    assert (steps[0].status, written) == (StepStatus.WOULD_CHANGE, [])
    call = steps[0].calls[0]
    assert (call.method, call.path) == ("PUT", "/3/voucherseries/F?financialyear=2")
    assert bench.company.series[2]["F"].manual is False


async def test_series_exists_twice_creates_once(open_bench: OpenBench) -> None:
    bench = open_bench(missing)
    args = {"series": "F", "description": "Kassa"}
    first, written = await bench.act(await bench.with_year(bench.context()), "series_exists", args)
    assert (first[0].status, written) == (StepStatus.CHANGED, [("POST", "/3/voucherseries")])
    second, written = await bench.act(await bench.with_year(bench.context()), "series_exists", args)
    assert (second[0].status, written) == (StepStatus.OK, [])
    created = bench.company.series[2]["F"]
    assert (created.description, created.manual) == ("Kassa", True)


async def test_the_series_is_read_once_per_run(open_bench: OpenBench) -> None:
    bench = open_bench(missing)
    ctx = await bench.with_year(bench.context("plan"))
    seen = len(bench.rig.sandbox.requests)
    exists, _ = await bench.act(ctx, "series_exists")
    manual, _ = await bench.act(ctx, "series_manual")
    reads = [r for r in list(bench.rig.sandbox.requests)[seen:] if r["path"].startswith("/3/")]
    assert len(reads) == 1
    assert exists[0].status is StepStatus.WOULD_CHANGE
    assert manual[0].status is StepStatus.SKIPPED
    assert manual[0].reason


async def test_series_manual_without_the_series_fails_honestly(open_bench: OpenBench) -> None:
    bench = open_bench(missing)
    steps, written = await bench.act(await bench.with_year(bench.context()), "series_manual")
    assert (steps[0].status, steps[0].reason, written) == (StepStatus.FAILED, "series missing", [])


async def test_series_actions_need_the_year_first(open_bench: OpenBench) -> None:
    bench = open_bench()
    with pytest.raises(MissingPrerequisiteError, match="financial year"):
        await bench.act(bench.context(), "series_manual")
