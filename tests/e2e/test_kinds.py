"""Every error kind, end to end on the sandbox, asserting on the sandbox's request log.

The error is made to really happen (the Z-report is posted and Fortnox refuses it), then:
a plan makes no write, a fix makes exactly the writes needed, a second fix makes none.
"""

from __future__ import annotations

import pytest

from remediator.errors import UnknownConnectionError
from remediator.kinds import ErrorKind, Kind
from remediator.report import Outcome
from tests.e2e.conftest import OpenRig, provoke, rig_for
from tests.e2e.expectations import EXPECTED, assert_honest
from tests.e2e.support import Rig, writes
from tests.shipped import shipped_kinds

KINDS = shipped_kinds()


def test_every_kind_has_an_expectation() -> None:
    assert sorted(EXPECTED) == KINDS


@pytest.mark.parametrize("kind", KINDS)
async def test_the_real_refusal_is_recognised(open_rig: OpenRig, kind: Kind) -> None:
    rig, failure = await provoke(open_rig, kind)
    assert rig.runtime.catalogue.classify_failure(failure).kind == kind


@pytest.mark.parametrize("kind", KINDS)
async def test_plan_fix_and_fix_again(open_rig: OpenRig, kind: Kind) -> None:
    expect = EXPECTED[kind]
    rig, failure = await provoke(open_rig, kind)
    before = rig.sandbox.snapshot()["tenants"]

    plan, during_plan = await rig.run(failure, "plan")
    assert plan.kind == kind
    assert (plan.outcome, writes(during_plan)) == (expect.plan, [])
    assert rig.sandbox.snapshot()["tenants"] == before, "a dry run changed Fortnox"
    assert_honest(plan)

    fix, during_fix = await rig.run(failure, "apply", reviewed=expect.reviewed)
    assert (fix.outcome, writes(during_fix)) == (expect.fix, list(expect.writes))
    assert_honest(fix)

    again, during_again = await rig.run(failure, "apply", reviewed=expect.reviewed)
    assert (again.outcome, writes(during_again)) == (expect.again, list(expect.again_writes))
    assert_honest(again)

    booked = len(rig.vouchers(failure.export_key))
    assert booked == (1 if expect.books else 0)
    if booked:
        assert fix.voucher is not None
        assert again.voucher is not None
        assert (fix.resent, again.resent, again.voucher.already_booked) == (True, False, True)

    for report in (plan, fix, again):
        stored = rig.runtime.runs.get(report.run_id)
        assert stored.outcome == report.outcome.value
        audited = rig.runtime.runs.audit(report.run_id)
        assert sum(report.requests.by_method.values()) == len(
            [e for e in audited if e.path.startswith("/3/")]
        )


async def test_a_fix_books_the_z_report_exactly_once(open_rig: OpenRig) -> None:
    rig = await rig_for(open_rig, ErrorKind.SERIES_NOT_MANUAL)
    failure = await rig.export()
    fix, _ = await rig.run(failure, "apply")
    again, _ = await rig.run(failure, "apply")
    booked = rig.vouchers(failure.export_key)
    assert len(booked) == 1
    assert fix.voucher is not None
    assert (fix.voucher.series, fix.voucher.number) == ("F", booked[0]["VoucherNumber"])
    assert fix.resent
    assert fix.voucher.already_booked is False
    assert again.voucher is not None
    assert again.voucher.already_booked
    assert not again.resent
    assert f"F {booked[0]['VoucherNumber']}" in fix.summary.sv


async def test_unrecognized_makes_no_request(open_rig: OpenRig) -> None:
    rig = await rig_for(open_rig, ErrorKind.UNRECOGNIZED)
    failure = await rig.export()
    report, requests = await rig.run(failure, "apply")
    assert report.outcome is Outcome.UNRECOGNIZED
    assert requests == []
    assert report.requests.total == 0
    assert report.manual_steps.en == ["Contact support and attach this report."]


def _series_f(rig: Rig) -> dict[str, object]:
    series = rig.company.series[2]["F"]
    return {"description": series.description, "manual": series.manual}


@pytest.mark.parametrize(
    ("kind", "before", "after"),
    [
        (
            ErrorKind.SERIES_NOT_MANUAL,
            {"description": "Kassa", "manual": False},
            {"description": "Kassa", "manual": True},
        ),
        (ErrorKind.SERIES_MISSING, None, {"description": "Kassa", "manual": True}),
    ],
)
async def test_the_series_is_right_after_the_fix(
    open_rig: OpenRig, kind: Kind, before: object, after: object
) -> None:
    rig, failure = await provoke(open_rig, kind)
    assert (_series_f(rig) if "F" in rig.company.series[2] else None) == before
    fix, _ = await rig.run(failure, "apply")
    assert fix.outcome is Outcome.FIXED
    assert _series_f(rig) == after
    assert "F" not in rig.company.series[1] or rig.company.series[1]["F"].manual
    assert len(rig.vouchers(failure.export_key)) == 1


async def test_the_account_is_active_after_the_fix(open_rig: OpenRig) -> None:
    rig, failure = await provoke(open_rig, ErrorKind.ACCOUNT_INACTIVE)
    assert rig.company.accounts[2][3001].active is False
    fix, _ = await rig.run(failure, "apply")
    assert fix.outcome is Outcome.FIXED
    assert rig.company.accounts[2][3001].active is True
    assert rig.company.accounts[1][3001].active is True  # the other year was never touched
    assert len(rig.vouchers(failure.export_key)) == 1


async def test_manual_kinds_change_nothing_in_fortnox(open_rig: OpenRig) -> None:
    for kind in (k for k, e in EXPECTED.items() if not e.writes or e.refused):
        rig, failure = await provoke(open_rig, kind)
        before = rig.sandbox.snapshot()["tenants"]
        await rig.run(failure, "apply", reviewed=True)
        assert rig.sandbox.snapshot()["tenants"] == before, kind


async def test_a_failure_for_an_unknown_connection_leaves_no_run(open_rig: OpenRig) -> None:
    rig, failure = await provoke(open_rig, ErrorKind.SERIES_NOT_MANUAL)
    unknown = failure.model_copy(update={"connection_id": "rest-unknown"})
    with pytest.raises(UnknownConnectionError):
        await rig.runtime.engine.run(unknown, mode="apply")
    assert rig.runtime.runs.find(connection_id="rest-unknown") == []
