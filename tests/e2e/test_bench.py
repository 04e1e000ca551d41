"""The remediation benchmark's lower bound and a small run of it, so the benchmark cannot rot."""

from __future__ import annotations

import pytest

from bench.remediation import (
    PER_FAILURE,
    SEARCH,
    YEAR,
    bound_seconds,
    minimal_plan,
    minimal_requests,
    run,
)


def test_the_bound_rate_and_latency_impose() -> None:
    assert bound_seconds(0, 0.05) == 0
    assert bound_seconds(1, 0.05) == pytest.approx(0.05)
    assert bound_seconds(25, 0.05) == pytest.approx(1.25)  # one window's worth: latency only
    assert bound_seconds(26, 0.05) == pytest.approx(5.05)  # the 26th waits for the window
    assert bound_seconds(23, 0.05) == pytest.approx(1.15)  # 10 failures of a fixable kind
    assert bound_seconds(26, 0.3) == pytest.approx(7.8)  # latency dominates: 26 x 0.3


def test_the_minimal_plan_per_tenant_is_its_data_dependencies() -> None:
    # the year, the defect's read and write and the burst's search once, then a POST per failure
    assert [minimal_requests(i, 10) for i in range(4)] == [14, 14, 14, 12]
    assert minimal_plan(0, 1) == [
        YEAR,
        "series F read",
        "series F update (Manual)",
        SEARCH,
        *PER_FAILURE,
    ]
    assert minimal_plan(3, 2) == [YEAR, SEARCH, *PER_FAILURE, *PER_FAILURE]
    assert minimal_requests(0, 0) == 0


def test_a_small_run_fixes_everything_once_within_the_budget() -> None:
    result = run(tenants=4, per_tenant=2, latency=0.001, naive_tenants=1)
    assert result["fixed"] == 8
    assert result["responses_429"] == 0
    assert result["minimal_requests"] == 3 * (1 + 2 + 1 + 2) + (1 + 1 + 2)
    assert result["minimal_requests"] <= result["requests"] <= result["budget_requests"]
    assert result["budget_requests"] == 2 * (5 + 8 + 5 + 4)
    assert result["naive_seconds"] > 0
    assert result["cpu_ms_per_failure"] > 0
    assert result["wall_per_cpu"] > 0


def test_the_http_floor_sends_the_engine_s_requests_again_and_gets_the_same_answers() -> None:
    # bench/_floor.py raises when an answer differs from the one the engine's request got
    result = run(tenants=4, per_tenant=2, latency=0.001, served=True, naive_tenants=0)
    assert result["fixed"] == 8
    assert result["floor_seconds"] > 0
    assert result["floor_cpu_ms_per_failure"] > 0
