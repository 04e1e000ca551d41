"""The engine on a respx stand-in: plans never write, fixes write exactly what is needed and
verify it, a second fix writes nothing, and a re-sent voucher exists once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import respx

from remediator.failure import ExportFailure
from remediator.fortnox import RetryPolicy
from remediator.policy import Policy
from remediator.report import Outcome, StepStatus
from remediator.runtime import Runtime, open_runtime
from remediator.settings import Settings
from tests.conftest import connection
from tests.engine_support import FakeFortnox, failure_json

SERIES_NOT_MANUAL = "Fel vid export: Verifikationsserien är inte manuell (F)"


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    opened = open_runtime(settings)
    opened.connector.retry = RetryPolicy(attempts=2, initial_wait=0.001, max_wait=0.01, jitter=0)
    opened.store.add(connection())
    yield opened
    await opened.aclose()


@pytest.fixture
def fortnox() -> FakeFortnox:
    return FakeFortnox()


def failure(message: str, **kwargs: object) -> ExportFailure:
    return ExportFailure.model_validate(failure_json(message, **kwargs))  # type: ignore[arg-type]


@respx.mock
async def test_plan_never_writes_and_says_what_it_would_do(
    runtime: Runtime, fortnox: FakeFortnox
) -> None:
    fortnox.series["F"]["Manual"] = False
    fortnox.install(respx.mock)
    report = await runtime.engine.run(failure(SERIES_NOT_MANUAL), mode="plan")
    assert report.outcome is Outcome.WOULD_FIX
    assert fortnox.writes == []
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
    assert report.requests.by_method == {"GET": 3}


@respx.mock
async def test_fix_writes_exactly_what_is_needed_verifies_and_resends(
    runtime: Runtime, fortnox: FakeFortnox
) -> None:
    fortnox.series["F"]["Manual"] = False
    fortnox.install(respx.mock)
    report = await runtime.engine.run(failure(SERIES_NOT_MANUAL), mode="apply")
    assert report.outcome is Outcome.FIXED
    assert fortnox.writes == [("PUT", "/3/voucherseries/F"), ("POST", "/3/vouchers")]
    assert report.steps[1].before == {"exists": True, "manual": False, "description": "Kassa"}
    assert report.steps[1].after is not None
    assert report.steps[1].after["manual"] is True
    assert report.resent
    assert report.voucher is not None
    assert report.voucher.number == 1
    assert "zr:r1:z-812" in fortnox.vouchers[0]["Comments"]
    assert report.requests.total <= runtime.catalogue.playbook(report.kind).budget.apply  # type: ignore[union-attr]
    again = await runtime.engine.run(failure(SERIES_NOT_MANUAL), mode="apply")
    assert again.outcome is Outcome.NOTHING_TO_FIX
    assert len(fortnox.writes) == 2
    assert len(fortnox.vouchers) == 1
    assert again.voucher is not None
    assert again.voucher.already_booked


@respx.mock
async def test_a_voucher_post_that_timed_out_is_looked_for_not_resent(
    runtime: Runtime, fortnox: FakeFortnox
) -> None:
    fortnox.timeout_after_store = True
    fortnox.install(respx.mock)
    report = await runtime.engine.run(failure("Fortnox: Read timed out"), mode="apply")
    assert report.recognition.kind == "fortnox_unavailable"
    assert report.outcome is Outcome.FIXED
    assert len(fortnox.vouchers) == 1
    assert [w for w in fortnox.writes if w[1] == "/3/vouchers"] == [("POST", "/3/vouchers")]


@respx.mock
async def test_only_the_named_account_is_activated(runtime: Runtime, fortnox: FakeFortnox) -> None:
    fortnox.accounts[3001]["Active"] = False
    fortnox.accounts[3002]["Active"] = False
    fortnox.install(respx.mock)
    report = await runtime.engine.run(failure('Konto "3001" är inte aktivt'), mode="apply")
    assert report.outcome is Outcome.FIXED
    assert fortnox.accounts[3001]["Active"] is True
    assert fortnox.accounts[3002]["Active"] is False
    assert ("PUT", "/3/accounts/3001") in fortnox.writes


@respx.mock
async def test_policy_never_leaves_the_change_to_a_person(
    runtime: Runtime, fortnox: FakeFortnox
) -> None:
    runtime.store.set_policy("rest-1", Policy.model_validate({"set_manual": "never"}))
    fortnox.series["F"]["Manual"] = False
    fortnox.install(respx.mock)
    report = await runtime.engine.run(failure(SERIES_NOT_MANUAL), mode="apply", reviewed=True)
    assert report.outcome is Outcome.MANUAL_ACTION_REQUIRED
    assert fortnox.writes == []
    step = report.steps[1]
    assert step.status is StepStatus.NEEDS_MANUAL
    assert step.policy == "policy set_manual=never: never allowed"
    assert report.steps[2].status is StepStatus.SKIPPED
    assert any("Manuell kontering" in line for line in report.manual_steps.sv)


@respx.mock
async def test_account_creation_waits_for_review(runtime: Runtime, fortnox: FakeFortnox) -> None:
    del fortnox.accounts[3001]
    fortnox.install(respx.mock)
    unreviewed = await runtime.engine.run(
        failure("Kunde inte hitta konto", code=2001304), mode="apply"
    )
    assert unreviewed.outcome is Outcome.MANUAL_ACTION_REQUIRED
    assert fortnox.writes == []
    reviewed = await runtime.engine.run(
        failure("Kunde inte hitta konto", code=2001304), mode="apply", reviewed=True
    )
    assert reviewed.outcome is Outcome.FIXED
    assert fortnox.accounts[3001]["Description"] == "Försäljning inom Sverige, 25 % moms"


@respx.mock
async def test_chart_of_accounts_missing_changes_nothing_and_explains(
    runtime: Runtime, fortnox: FakeFortnox
) -> None:
    fortnox.install(respx.mock)
    report = await runtime.engine.run(
        failure("Fel vid export: Ogiltigt konto", accounts=(0, 0)), mode="apply"
    )
    assert report.outcome is Outcome.MANUAL_ACTION_REQUIRED
    assert fortnox.writes == []
    text = "\n".join(report.manual_steps.en)
    assert "0: not a valid account number" in text
    assert "1910 Konto 1910" in text
    assert "entered by hand" in text


@respx.mock
async def test_unrecognized_errors_are_reported_as_such(
    runtime: Runtime, fortnox: FakeFortnox
) -> None:
    fortnox.install(respx.mock)
    report = await runtime.engine.run(failure("verifikation balanserar ej"), mode="apply")
    assert report.outcome is Outcome.UNRECOGNIZED
    assert report.steps == []
    assert report.requests.total == 0


@respx.mock
async def test_runs_are_stored_with_their_audit_trail(
    runtime: Runtime, fortnox: FakeFortnox
) -> None:
    fortnox.install(respx.mock)
    report = await runtime.engine.run(failure(SERIES_NOT_MANUAL), mode="plan")
    row = runtime.runs.get(report.run_id)
    assert row.outcome == report.outcome.value
    trail = runtime.runs.audit(report.run_id)
    assert [(e.method, e.path) for e in trail][:2] == [
        ("GET", "/3/financialyears"),
        ("GET", "/3/voucherseries/F"),
    ]
