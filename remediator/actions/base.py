"""What every action gets and gives back: the run's context, and one step of the report."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from remediator.failure import ExportFailure
from remediator.fortnox import (
    FinancialYear,
    FortnoxClient,
    FortnoxConnector,
    FortnoxError,
    Ledger,
    WriteOutcomeUnknown,
)
from remediator.policy import Change, Policy, Rule
from remediator.report import Call, Mode, Recognition, Step, Steps, StepStatus, Text
from remediator.storage import Connection, ConnectionStore


class Instructions(Protocol):
    """What a person must do about a kind of error, as its playbook says (its ``manual``, or
    the named ``case``), rendered for this run with ``params`` besides the run's values."""

    def __call__(self, kind: str, params: dict[str, str], case: str | None = None) -> Steps: ...


def no_instructions(kind: str, params: dict[str, str], case: str | None = None) -> Steps:  # noqa: ARG001 - the Instructions signature
    return Steps()


def no_burst(series: str) -> list[date]:  # noqa: ARG001 - the burst's signature
    return []


@dataclass
class Context:
    """One run: the failure, what it was recognised as, and the means to act.

    ``instructions``: the playbooks' instructions for people; an action that finds a cause a
    person must remove takes them from there instead of writing its own.
    """

    failure: ExportFailure
    recognition: Recognition
    connection: Connection
    client: FortnoxClient
    connector: FortnoxConnector
    connections: ConnectionStore
    mode: Mode
    policy: Policy
    reviewed: bool
    reconnect_url: str
    year: FinancialYear | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    instructions: Instructions = no_instructions
    # Set by an action that found the error to be another kind: the engine goes on with
    # that kind's playbook (``chart_review`` hands "Ogiltigt konto" on real accounts over).
    handoff: str | None = None
    # An apply's: the company's lease's voucher ledger, and the days of the failures of this
    # connection in a series that wait for the company in this process (one search may
    # cover them all: ``booked.find_booked``). A plan has neither and searches its own day.
    ledger: Ledger | None = None
    burst: Callable[[str], list[date]] = no_burst

    @property
    def applying(self) -> bool:
        return self.mode == "apply"

    def require_year(self) -> FinancialYear:
        if self.year is None:
            raise MissingPrerequisiteError("the financial year was not resolved first")
        return self.year


class MissingPrerequisiteError(Exception):
    """An action ran before the step it depends on (a playbook ordering bug)."""


class UnconfirmedWrite(Exception):
    """A write whose result could not be confirmed; the message says what is known."""


Action = Callable[[Context, dict[str, str]], Awaitable[Step | list[Step]]]


def text(sv: str, en: str) -> Text:
    return Text(sv=sv, en=en)


def step(
    action: str,
    status: StepStatus,
    summary: Text,
    **fields: Any,
) -> Step:
    return Step(action=action, status=status, summary=summary, **fields)


def manual(sv: list[str], en: list[str]) -> Steps:
    return Steps(sv=sv, en=en)


def policy_note(ctx: Context, change: Change) -> str:
    """Which rule governed ``change`` and what it said, for the report."""
    if ctx.policy.allows(change, reviewed=ctx.reviewed):
        verdict = "allowed"
    elif ctx.policy.rule(change) is Rule.NEVER:
        verdict = "never allowed"
    else:
        verdict = "waits for a person's review"
    return f"{ctx.policy.explain(change)}: {verdict}"


@dataclass(frozen=True)
class Planned:
    """A change an action wants to make, with everything the report needs about it.

    ``look``: the state of what the change writes, read again from Fortnox (in the shape of
    ``after``). When the write's outcome is unknown (a timeout, a dropped connection, a 5xx),
    ``make_change`` looks instead of writing again: found as planned, the change is done."""

    action: str
    change: Change
    call: Call
    before: dict[str, Any]
    after: dict[str, Any]
    planned: Text
    done: Text
    by_hand: Steps
    observed: dict[str, Any]
    look: Callable[[], Awaitable[dict[str, Any]]] | None = None


async def make_change(
    ctx: Context, plan: Planned, write: Callable[[], Awaitable[dict[str, Any]]]
) -> Step:
    """Plan, refuse by policy, or write and verify ``plan``; never writes in plan mode."""
    note = policy_note(ctx, plan.change)
    common = {
        "before": plan.before,
        "calls": [plan.call],
        "change": plan.change,
        "resend": plan.change is Change.RESEND_VOUCHER,
        "policy": note,
        "observed": plan.observed,
    }
    if ctx.policy.rule(plan.change) is Rule.NEVER or (
        ctx.applying and not ctx.policy.allows(plan.change, reviewed=ctx.reviewed)
    ):
        return step(
            plan.action,
            StepStatus.NEEDS_MANUAL,
            plan.planned,
            reason=note,
            manual=plan.by_hand,
            **common,
        )
    if not ctx.applying:
        return step(plan.action, StepStatus.WOULD_CHANGE, plan.planned, after=plan.after, **common)
    try:
        after = await _written(plan, write)
    except UnconfirmedWrite as err:
        return step(
            plan.action,
            StepStatus.FAILED,
            plan.planned,
            reason=str(err),
            unconfirmed=True,
            **common,
        )
    if any(after.get(key) != value for key, value in plan.after.items()):
        return step(
            plan.action,
            StepStatus.FAILED,
            plan.planned,
            after=after,
            reason="Fortnox accepted the change but did not confirm it",
            **common,
        )
    return step(plan.action, StepStatus.CHANGED, plan.done, after=after, **common)


async def _written(plan: Planned, write: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    """What ``write`` made; when its outcome is unknown, what a look finds, if it finds the
    change applied. Else ``UnconfirmedWrite``: nothing is sent again, blind or otherwise."""
    try:
        return await write()
    except WriteOutcomeUnknown as err:
        unknown = err
    if plan.look is None:
        raise UnconfirmedWrite(str(unknown)) from None
    try:
        found = await plan.look()
    except FortnoxError as err:
        raise UnconfirmedWrite(
            f"{unknown.cause} on {unknown.method} {unknown.path}, and the look that followed "
            f"failed too ({err}): it was not sent again"
        ) from None
    if any(found.get(key) != value for key, value in plan.after.items()):
        raise UnconfirmedWrite(
            f"{unknown.cause} on {unknown.method} {unknown.path}, and a look found it not "
            "applied: it was not sent again (trying again later, looking first, is safe)"
        )
    return found


def call(method: str, path: str, body: dict[str, Any] | None = None) -> Call:
    return Call(method=method, path=path, body=body)
