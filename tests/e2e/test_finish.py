"""Every run finishes: an exception inside a run becomes a ``failed`` step with its reason, and
the run's row always gets an outcome; nothing is left ``running`` by an error."""

from __future__ import annotations

import json

import httpx
import pytest

from remediator.kinds import ErrorKind
from remediator.report import Mode, Outcome, StepStatus
from remediator.storage.runs import RunState
from tests.e2e.conftest import OpenRig, provoke
from tests.e2e.expectations import assert_honest
from tests.e2e.support import state_for, writes


class OddEnvelope(httpx.AsyncBaseTransport):
    """Answers ``GET /3/financialyears`` with an envelope no Fortnox client expects (the
    client raises ``ValueError``, which is no Fortnox error)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.armed = inner, False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.armed and request.url.path == "/3/financialyears":
            return httpx.Response(200, json={"Unexpected": []}, request=request)
        return await self.inner.handle_async_request(request)


async def test_an_unexpected_answer_becomes_a_failed_step_and_the_run_ends(
    open_rig: OpenRig,
) -> None:
    odd: list[OddEnvelope] = []

    def wrap(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        odd.append(OddEnvelope(inner))
        return odd[0]

    rig = await open_rig(state_for(ErrorKind.SERIES_NOT_MANUAL), wrap)
    failure = await rig.export()
    odd[0].armed = True
    report, requests = await rig.run(failure, "apply")
    assert report.outcome is Outcome.FAILED
    assert [(s.action, s.status) for s in report.steps] == [
        ("financial_year", StepStatus.FAILED),
        ("series_manual", StepStatus.SKIPPED),
        ("resend_voucher", StepStatus.SKIPPED),
    ]
    reason = report.steps[0].reason or ""
    assert "FinancialYears" in reason, reason
    assert f"Reason: {reason}" in report.summary.en
    assert writes(requests) == []
    assert rig.vouchers(failure.export_key) == []
    stored = rig.runtime.runs.get(report.run_id)
    assert (stored.state, stored.outcome) == (RunState.DONE, "failed")
    assert_honest(report)


async def test_an_error_outside_the_actions_still_ends_the_run_failed(
    open_rig: OpenRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig, failure = await provoke(open_rig, ErrorKind.SERIES_NOT_MANUAL)

    def broken(*_args: object) -> object:
        raise RuntimeError("the catalogue broke")

    monkeypatch.setattr(rig.runtime.catalogue, "classify_failure", broken)
    modes: tuple[Mode, ...] = ("plan", "apply")
    for mode in modes:
        report, requests = await rig.run(failure, mode)
        assert report.outcome is Outcome.FAILED, mode
        assert "the catalogue broke" in report.summary.en
        assert writes(requests) == []
        stored = rig.runtime.runs.get(report.run_id)
        assert (stored.state, stored.outcome) == (RunState.DONE, "failed")
        assert json.loads(stored.report or "{}")["outcome"] == "failed"
    assert [r.state for r in rig.runtime.runs.find()] == [RunState.DONE, RunState.DONE]
