"""One worker pass over one queued run: which engine runs to make, and the state it ends in.

No remediation logic lives here: the engine recognises, plans, applies and reports. This module
decides only *whether* the service may apply (the playbook's ``auto_apply`` and the connection's
policy), when a run joins one in progress, when a fix did not hold, when to retry, and when a
run waits for a review or a reconnect.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy.exc import OperationalError, SQLAlchemyError

from remediator.errors import LeaseLost
from remediator.failure import ExportFailure, stored_failure
from remediator.kinds import ErrorKind, Kind
from remediator.plans import SavedPlan, StalePlanError
from remediator.policy import Change
from remediator.report import Outcome, Report, StepStatus
from remediator.runtime import Runtime
from remediator.service.logs import ids
from remediator.service.metrics import Metrics
from remediator.service.texts import fix_did_not_hold
from remediator.settings import Settings
from remediator.storage import ConnectionStatus
from remediator.storage.db import problem
from remediator.storage.queue import QueuedRun, QueueStore, Settled
from remediator.storage.runs import RunState
from remediator.unfinished import unfinished

log = logging.getLogger(__name__)
SETTLED_OUTCOMES = frozenset({Outcome.FIXED, Outcome.NOTHING_TO_FIX})


@dataclass(frozen=True)
class Leader:
    """An applied run of a kind: later runs of that kind join it while its fix is fresh."""

    run_id: str
    fixed_at: float  # wall-clock time, as a queued run's created_at
    changes: frozenset[Change]  # what it changed besides re-sending its voucher


@dataclass
class Session:
    """A connection's recent work: the run of each kind that was applied leads later ones."""

    connection_id: str
    leaders: dict[Kind, Leader] = field(default_factory=dict)
    last_active: float = field(default_factory=time.monotonic)

    def leader_for(self, row: QueuedRun, window: float) -> Leader | None:
        """The run ``row`` joins: one of its kind applied at most ``window`` seconds before
        ``row`` arrived (or after: it arrived while the fix was being made). The window runs
        from the fix, not from the last run, so a steady stream of failures does not keep it
        open."""
        leader = self.leaders.get(row.kind or "")
        if leader is None or leader.run_id == row.id or row.created_at - leader.fixed_at > window:
            return None
        return leader

    def lead(self, report: Report) -> None:
        """``report``'s run, applied and settled, leads later runs of its kind."""
        changes = frozenset(
            step.change
            for step in report.steps
            if step.status is StepStatus.CHANGED and step.change is not None and not step.resend
        )
        self.leaders[report.kind] = Leader(report.run_id, time.time(), changes)


def needs_fixing_again(plan: Report) -> bool:
    """The plan would change something besides re-sending the voucher."""
    return any(step.status is StepStatus.WOULD_CHANGE and not step.resend for step in plan.steps)


def verified_fix(report: Report) -> bool:
    """An applied run changed something besides re-sending the voucher, and verified it."""
    return report.mode == "apply" and any(
        step.status is StepStatus.CHANGED and not step.resend for step in report.steps
    )


def _nothing() -> None:
    """The default ``on_settled`` (called when a settled run has a callback to deliver)."""


def _fields(row: QueuedRun) -> dict[str, object]:
    return ids(run_id=row.id, event_id=row.event_id, connection_id=row.connection_id)


_REASON_CHARS = 300


def _reason(err: BaseException) -> str:
    """What an exception says, on one line and not too long (its type when it says nothing)."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= _REASON_CHARS else text[: _REASON_CHARS - 1] + "…"


class Passing(NamedTuple):
    """Why a failed run may succeed on another pass, for its ``state_reason``."""

    why: str  # while it is tried again
    detail: str  # the step's reason, given once it is not tried again


def _passing(report: Report) -> Passing | None:
    """Why a failed run may succeed on another pass, or None: a write whose outcome is unknown
    and which a look did not find (``unconfirmed``), or a step Fortnox did not answer
    (``unavailable``). Such a run is tried again like a ``fortnox_unavailable`` one."""
    if report.outcome is not Outcome.FAILED:
        return None
    for step in report.steps:
        if step.unconfirmed:
            return Passing("a write was not confirmed", step.reason or step.action)
        if step.unavailable:
            return Passing("Fortnox did not answer", step.reason or step.action)
    return None


def backoff(attempt: int, first: float, cap: float) -> float:
    return float(min(cap, first * 2**attempt))


class Processor:
    """Works one claimed run through the engine and settles it."""

    def __init__(
        self, runtime: Runtime, queue: QueueStore, settings: Settings, metrics: Metrics
    ) -> None:
        self.runtime, self.queue, self.settings, self.metrics = runtime, queue, settings, metrics
        self.on_settled: Callable[[], None] = _nothing

    async def process(self, row: QueuedRun, session: Session) -> QueuedRun:
        """One pass; never raises for a run's own trouble: whatever its work raises, or work
        longer than ``run_timeout_seconds``, settles it as failed, saying why (a database
        failure, as a pass to try again). Raises ``OperationalError`` only when the database
        does not store how the pass ended (``_settle``)."""
        started = time.monotonic()
        fields = _fields(row)
        log.info("run started", extra=fields)
        limit = self.settings.run_timeout_seconds
        try:
            settled = await asyncio.wait_for(self._work(row, session), limit)
        except LeaseLost as err:  # another process has the company now: nothing more written
            log.warning("run queued again: %s", err, extra=fields)
            settled = Settled(
                RunState.QUEUED,
                reason=f"{err}; tried again",
                not_before=time.time() + self.settings.worker_poll_seconds,
            )
        except TimeoutError:
            log.exception("run took too long", extra=fields)
            settled = await self._broken(row, f"it took longer than {limit:g} s")
        except SQLAlchemyError as err:
            log.exception("run interrupted: the database failed", extra=fields)
            settled = await self._database_failed(row, err)
        except Exception as err:
            log.exception("run could not be completed", extra=fields)
            settled = await self._broken(row, _reason(err))
        done = await self._settle(row, settled)
        self._settled(done, time.monotonic() - started)
        return done

    async def park(self, run_id: str, attempts: int) -> QueuedRun:
        """Settle a run as failed ("poison") that was interrupted as often as it may be."""
        row = await asyncio.to_thread(self.queue.queued, run_id)
        reason = f"poison: its work was interrupted {attempts} times, so it is not tried again"
        log.error("run parked", extra=_fields(row))
        done = await self._settle(row, await self._broken(row, reason))
        self._settled(done, 0.0)
        return done

    async def _database_failed(self, row: QueuedRun, err: SQLAlchemyError) -> Settled:
        """The database failed during the pass (a restart, a lost connection): the pass is
        tried again after a backoff, as one that met an unavailable Fortnox, as often; then
        the run ends failed, saying why. What the pass did in Fortnox is found by the next
        (it looks first, the voucher search included)."""
        if (row.attempts or 0) < self.settings.unavailable_retry_attempts:
            return self._again(row, f"the database failed ({type(err).__name__})")
        return await self._broken(row, f"the database failed: {problem(err)}")

    async def _settle(self, row: QueuedRun, settled: Settled) -> QueuedRun:
        """Store how the pass ended (``QueueStore.settle`` asks a database that does not answer
        again for a while; still not, the run stays ``running``, and is queued again once its
        company's lease is gone: the next pass finds what this one did). When the end itself
        cannot be stored (any other error), the run ends failed with a report saying why, not
        the pass's: that may be what could not be stored (a last failure here leaves it
        ``running`` too)."""
        try:
            return await asyncio.to_thread(self.queue.settle, row.id, settled)
        except OperationalError:
            raise
        except Exception as err:
            log.exception("the run's result could not be stored", extra=_fields(row))
            failed = await self._broken(row, f"its result could not be stored: {_reason(err)}")
            return await asyncio.to_thread(self.queue.settle, row.id, failed)

    def _settled(self, done: QueuedRun, seconds: float) -> None:
        fields = _fields(done)
        if done.callback_state == "pending":  # a run without a callback_url has nothing to send
            self.on_settled()
        if done.state is RunState.DONE:
            self.metrics.run_finished(done.outcome or "failed", seconds)
        else:
            self.metrics.run_pass(seconds)
        log.info("run settled", extra=fields | ids(state=done.state.value, outcome=done.outcome))

    async def _work(self, row: QueuedRun, session: Session) -> Settled:
        failure = stored_failure(row.failure)
        engine = self.runtime.engine
        if row.approved_by:
            return await self._apply_reviewed(row, failure)
        leader = session.leader_for(row, self.settings.join_seconds)
        if leader is not None and await self._may_join(row, leader):
            report = await engine.run(failure, mode="apply", run_id=row.id)
            settled = await self._after(row, report)
            return dataclasses.replace(settled, joined_to=leader.run_id)
        plan = await engine.run(failure, mode="plan", run_id=row.id)
        if needs_fixing_again(plan) and await self._recently_fixed(row):
            return await self._not_held(row, plan)
        if plan.outcome is not Outcome.WOULD_FIX:
            return await self._after(row, plan)
        if await self.runtime.needs_review(plan):
            return Settled(
                RunState.AWAITING_REVIEW, reason="the plan waits for a person's review", notify=True
            )
        report = await engine.run(failure, mode="apply", run_id=row.id)
        if report.outcome in SETTLED_OUTCOMES:
            session.lead(report)
        return await self._after(row, report)

    async def _broken(self, row: QueuedRun, reason: str) -> Settled:
        """The run could not be completed: a final ``failed`` report says why (never raises:
        a run whose failure cannot be read back gets a report from what can be)."""
        try:
            written = await asyncio.to_thread(self.queue.changes, row.id)
            await self._store(row, unfinished(row, self.runtime.catalogue, reason, written))
        except Exception:
            log.exception("no report for a run that could not be completed", extra=_fields(row))
        return Settled(
            RunState.DONE, reason=f"the run could not be completed: {reason}", notify=True
        )

    async def _apply_reviewed(self, row: QueuedRun, failure: ExportFailure) -> Settled:
        """Apply an approved plan, unless Fortnox changed since: then plan again for review."""
        if row.report is None:
            return await self._replan(row, failure)
        saved = SavedPlan(failure=failure, report=Report.model_validate_json(row.report))
        try:
            report = await self.runtime.engine.apply_saved(saved, run_id=row.id)
        except StalePlanError:
            return await self._replan(row, failure)
        return await self._after(row, report)

    async def _replan(self, row: QueuedRun, failure: ExportFailure) -> Settled:
        await self.runtime.engine.run(failure, mode="plan", run_id=row.id)
        return Settled(
            RunState.AWAITING_REVIEW,
            reason="Fortnox changed after the approval; review the new plan",
            notify=True,
        )

    async def _may_join(self, row: QueuedRun, leader: Leader) -> bool:
        """Whether ``row`` may be applied without a plan: its playbook may run unreviewed and
        the connection's policy lets through, without review, the re-send and whatever the
        leader changed (the fix may be needed again). Otherwise it is planned like any run,
        and stops for review where the policy says so."""
        playbook = self.runtime.catalogue.playbook(row.kind or "")
        if playbook is None or not playbook.auto_apply:
            return False
        # read as the engine reads it for a run: at most seconds ago, shared by the burst
        connection = await self.runtime.engine.companies.connection(row.connection_id)
        policy = connection.policy or self.settings.policy
        needed = leader.changes | {Change.RESEND_VOUCHER}
        return all(policy.allows(change, reviewed=False) for change in needed)

    async def _recently_fixed(self, row: QueuedRun) -> bool:
        """The same kind was fixed and verified for the connection shortly before this
        failure arrived."""
        if not row.kind or row.kind == ErrorKind.UNRECOGNIZED:
            return False
        fixed_at = await asyncio.to_thread(self.queue.last_fix, row.connection_id, row.kind)
        if fixed_at is None or row.created_at <= fixed_at:
            return False
        return row.created_at - fixed_at <= self.settings.fix_holds_seconds

    async def _not_held(self, row: QueuedRun, plan: Report) -> Settled:
        fixed_at = await asyncio.to_thread(self.queue.last_fix, row.connection_id, row.kind or "")
        await self._store(
            row, fix_did_not_hold(plan, row.created_at - (fixed_at or row.created_at))
        )
        return Settled(RunState.DONE, reason="fix_did_not_hold", notify=True)

    async def _store(self, row: QueuedRun, report: Report) -> None:
        """Store a report the service wrote (the engine stores its own)."""
        await asyncio.to_thread(
            self.queue.finish,
            row.id,
            report_json=report.model_dump_json(),
            kind=report.kind,
            outcome=report.outcome.value,
            records=[],
        )

    async def _after(self, row: QueuedRun, report: Report) -> Settled:
        if report.outcome is Outcome.MANUAL_ACTION_REQUIRED and await self._needs_reconnect(
            row.connection_id
        ):
            return Settled(
                RunState.AWAITING_RECONNECT,
                reason="the connection must be authorized again",
                notify=True,
            )
        passing = _passing(report)
        if self._retry_unavailable(row, report):
            return self._again(row, "Fortnox unavailable")
        if passing is not None:
            if (row.attempts or 0) < self.settings.unavailable_retry_attempts:
                return self._again(row, passing.why)
            return Settled(
                RunState.DONE,
                reason=f"{passing.why} after {(row.attempts or 0) + 1} attempts: {passing.detail}",
                notify=True,
            )
        return Settled(RunState.DONE, fix_verified=verified_fix(report), notify=True)

    def _again(self, row: QueuedRun, why: str) -> Settled:
        """Back to the queue for another pass after a backoff (the next pass looks in Fortnox
        first, as every pass does)."""
        wait = backoff(
            row.attempts or 0,
            self.settings.unavailable_retry_seconds,
            self.settings.unavailable_retry_max_seconds,
        )
        return Settled(
            RunState.QUEUED,
            reason=f"{why}; attempt {(row.attempts or 0) + 1}, next in {wait:g} s",
            not_before=time.time() + wait,
        )

    async def _needs_reconnect(self, connection_id: str) -> bool:
        connection = await asyncio.to_thread(self.runtime.store.get, connection_id)
        return connection.status is ConnectionStatus.NEEDS_RECONNECT

    def _retry_unavailable(self, row: QueuedRun, report: Report) -> bool:
        return (
            report.kind == ErrorKind.FORTNOX_UNAVAILABLE
            and report.outcome is Outcome.FAILED
            and (row.attempts or 0) < self.settings.unavailable_retry_attempts
        )
