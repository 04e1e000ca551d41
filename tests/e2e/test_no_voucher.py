"""A failure that carries no voucher: whatever is fixed in Fortnox, the day is not booked
until it is exported again, so the run never ends ``fixed`` and says what a person must do."""

from __future__ import annotations

import pytest

from remediator.kinds import ErrorKind, Kind
from remediator.report import Outcome, StepStatus
from tests.e2e.conftest import OpenRig, provoke
from tests.e2e.expectations import assert_honest
from tests.e2e.support import writes


@pytest.mark.parametrize(
    "kind",
    [
        ErrorKind.SERIES_NOT_MANUAL,
        ErrorKind.SERIES_MISSING,
        ErrorKind.ACCOUNT_INACTIVE,
        ErrorKind.FORTNOX_UNAVAILABLE,
    ],
)
async def test_without_a_voucher_the_day_must_be_exported_again(
    open_rig: OpenRig, kind: Kind
) -> None:
    rig, provoked = await provoke(open_rig, kind)
    failure = rig.failure(provoked.error.model_dump(exclude_none=True), None)
    report, requests = await rig.run(failure, "apply")
    assert report.outcome is Outcome.MANUAL_ACTION_REQUIRED, report.summary.en
    assert ("POST", "/3/vouchers") not in writes(requests)
    assert not report.resent
    resend = next(s for s in report.steps if s.action == "resend_voucher")
    assert resend.status is StepStatus.NEEDS_MANUAL
    assert any("Export" in line and "→" in line for line in report.manual_steps.en)
    assert any("Exportera" in line and "→" in line for line in report.manual_steps.sv)
    assert rig.company.vouchers[2] == []
    assert_honest(report)
