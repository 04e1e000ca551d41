"""What each error kind's playbook must do on the sandbox, plan and apply."""

from __future__ import annotations

from dataclasses import dataclass

from remediator.kinds import ErrorKind, Kind
from remediator.report import Outcome, Report, StepStatus

Write = tuple[str, str]
VOUCHER_POST: Write = ("POST", "/3/vouchers")


@dataclass(frozen=True)
class Expect:
    """Outcomes of a plan, a fix and a second fix, and the writes the fix makes."""

    plan: Outcome
    fix: Outcome
    again: Outcome
    writes: tuple[Write, ...] = ()
    reviewed: bool = False  # the fix needs a person's review (policy ``review``)
    refused: bool = False  # the fix's writes are refused by Fortnox: nothing changes, each time

    @property
    def books(self) -> bool:
        """Whether the fix books the Z-report."""
        return VOUCHER_POST in self.writes and not self.refused

    @property
    def again_writes(self) -> tuple[Write, ...]:
        """The writes of a second fix: none, unless the first one was refused."""
        return self.writes if self.refused else ()


MANUAL = Expect(
    Outcome.MANUAL_ACTION_REQUIRED, Outcome.MANUAL_ACTION_REQUIRED, Outcome.MANUAL_ACTION_REQUIRED
)
FIXABLE = (Outcome.WOULD_FIX, Outcome.FIXED, Outcome.NOTHING_TO_FIX)

EXPECTED: dict[Kind, Expect] = {
    ErrorKind.SERIES_NOT_MANUAL: Expect(
        *FIXABLE, writes=(("PUT", "/3/voucherseries/F"), VOUCHER_POST)
    ),
    ErrorKind.CHART_OF_ACCOUNTS_MISSING: MANUAL,
    ErrorKind.ACCOUNT_INACTIVE: Expect(
        *FIXABLE, writes=(("PUT", "/3/accounts/3001"), VOUCHER_POST)
    ),
    ErrorKind.SERIES_MISSING: Expect(*FIXABLE, writes=(("POST", "/3/voucherseries"), VOUCHER_POST)),
    # Whether the user may book shows only when the voucher is sent: a refused POST, each time.
    ErrorKind.ACCESS_DENIED: Expect(
        Outcome.WOULD_FIX,
        Outcome.MANUAL_ACTION_REQUIRED,
        Outcome.MANUAL_ACTION_REQUIRED,
        writes=(VOUCHER_POST,),
        refused=True,
    ),
    ErrorKind.CONNECTION_INVALIDATED: MANUAL,
    ErrorKind.FINANCIAL_YEAR_MISSING: MANUAL,
    ErrorKind.PERIOD_LOCKED: MANUAL,
    ErrorKind.SCOPE_MISSING: MANUAL,
    ErrorKind.LICENSE_MISSING: MANUAL,
    ErrorKind.ACCOUNT_MISSING: Expect(
        *FIXABLE, writes=(("POST", "/3/accounts"), VOUCHER_POST), reviewed=True
    ),
    ErrorKind.FORTNOX_UNAVAILABLE: Expect(*FIXABLE, writes=(VOUCHER_POST,)),
    ErrorKind.DIMENSION_INVALID: Expect(
        *FIXABLE, writes=(("PUT", "/3/costcenters/KS1"), VOUCHER_POST)
    ),
    ErrorKind.VOUCHER_INVALID: MANUAL,
    ErrorKind.UNRECOGNIZED: Expect(
        Outcome.UNRECOGNIZED, Outcome.UNRECOGNIZED, Outcome.UNRECOGNIZED
    ),
}


def assert_honest(report: Report) -> None:
    """Step statuses say what happened: ``ok`` only after a check, reasons for the rest."""
    for step in report.steps:
        where = f"{report.kind}/{step.action}: {step.status.value}"
        if step.status is StepStatus.OK:
            assert step.observed, f"{where} without anything observed"
            assert not step.calls, f"{where} with calls"
        if step.status in (StepStatus.SKIPPED, StepStatus.FAILED):
            assert step.reason, f"{where} without a reason"
        if step.status in (StepStatus.CHANGED, StepStatus.WOULD_CHANGE):
            assert step.calls, f"{where} without the call"
            assert step.before is not None, f"{where} without before"
            assert step.after is not None, f"{where} without after"
            assert step.policy, f"{where} without the policy that allowed it"
        if step.status is StepStatus.NEEDS_MANUAL:
            assert step.manual.sv, f"{where} without instructions"
            assert len(step.manual.sv) == len(step.manual.en), f"{where}: sv/en differ"
    if report.mode == "plan":
        assert all(s.status is not StepStatus.CHANGED for s in report.steps)
    if report.outcome is Outcome.MANUAL_ACTION_REQUIRED:
        assert report.manual_steps.sv, "a person must act, but is not told what to do"
        assert len(report.manual_steps.sv) == len(report.manual_steps.en)
