"""The remediation benchmark's bound and a small run of it, so the benchmark cannot rot."""

from __future__ import annotations

import pytest

from bench.remediation import bound_seconds, minimum_requests, run


def test_the_bound_rate_and_latency_impose() -> None:
    assert bound_seconds(0, 0.05) == 0
    assert bound_seconds(1, 0.05) == pytest.approx(0.05)
    assert bound_seconds(25, 0.05) == pytest.approx(1.25)  # one window's worth: latency only
    assert bound_seconds(26, 0.05) == pytest.approx(5.05)  # the 26th waits for the window
    assert bound_seconds(41, 0.05) == pytest.approx(5.8)  # 10 failures of a fixable kind
    assert bound_seconds(26, 0.3) == pytest.approx(7.8)  # latency dominates: 26 x 0.3


def test_the_documented_minimum_per_tenant() -> None:
    assert [minimum_requests(i, 10) for i in range(4)] == [41, 41, 41, 40]
    assert minimum_requests(0, 1) == 5


def test_a_small_run_fixes_everything_once_at_the_minimum() -> None:
    result = run(tenants=4, per_tenant=2, latency=0.001)
    assert result["fixed"] == 8
    assert result["responses_429"] == 0
    assert result["requests"] == result["minimum_requests"] == 3 * (5 + 4) + (4 + 4)
