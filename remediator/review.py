"""A person's review of a plan that waits for one: approve or reject.

One function each, used by every door (the API, the CLI and the web console), on the same
database: the decision, the person who made it and the door they used go to the audit log in
the transaction that changes the run.

**Approve** applies the reviewed plan, never a new one: Fortnox is read again first (reads
only), and when anything the plan observed has changed the approval is refused with the
differences, and the run is queued to be planned again for a new review. Otherwise the run is
queued with the approver's name and a worker applies it (the worker checks once more, in the
company's turn, before it writes).

**Reject** ends the run ``rejected`` with the reason; nothing is written to Fortnox, and the
Backoffice's callback (if it gave one) is sent.
"""

from __future__ import annotations

import asyncio

from remediator.engine import Engine
from remediator.errors import UsageError
from remediator.failure import ExportFailure
from remediator.report import Report
from remediator.storage.audit import Actor, Via
from remediator.storage.queue import QueuedRun, QueueStore, RunConflictError
from remediator.storage.runs import RunState

MAX_REASON = 1000


class StaleReviewError(RunConflictError):
    """Fortnox changed since the plan was made: the approval is refused, the run replanned."""

    def __init__(self, run_id: str, differences: list[str]) -> None:
        super().__init__(
            f"run {run_id!r}: Fortnox changed since the plan was made, so it is not applied; "
            "the run is queued for a new plan: " + "; ".join(differences)
        )
        self.run_id = run_id
        self.differences = differences


def _waiting(run: QueuedRun) -> tuple[Report, ExportFailure]:
    if run.state is not RunState.AWAITING_REVIEW or run.report is None:
        raise RunConflictError(f"run {run.id!r} is {run.state.value}, not awaiting_review")
    return Report.model_validate_json(run.report), ExportFailure.model_validate_json(run.failure)


def _person(actor: Actor) -> Actor:
    name = actor.name.strip()
    if not name:
        raise UsageError("a review needs the name of the person who made it")
    return Actor(name, actor.via)


async def approve(queue: QueueStore, engine: Engine, run_id: str, actor: Actor) -> QueuedRun:
    """Approve a run's plan; raises ``StaleReviewError`` (with the differences) when Fortnox
    no longer looks as it did when it was planned. Wake the workers afterwards."""
    actor = _person(actor)
    run = await asyncio.to_thread(queue.queued, run_id)
    planned, failure = _waiting(run)
    changed = await engine.changes_since(planned, failure)
    if changed:
        await asyncio.to_thread(queue.replan, run_id, actor, "; ".join(changed))
        raise StaleReviewError(run_id, changed)
    return await asyncio.to_thread(queue.approve, run_id, actor)


async def reject(queue: QueueStore, run_id: str, actor: Actor, reason: str) -> QueuedRun:
    """Reject a run's plan with a reason: final, audited, and the callback is sent."""
    actor = _person(actor)
    reason = " ".join(reason.split())
    if not reason:
        raise UsageError("a rejection needs a reason")
    if len(reason) > MAX_REASON:
        raise UsageError(f"the reason is longer than {MAX_REASON} characters")
    run = await asyncio.to_thread(queue.queued, run_id)
    _waiting(run)
    return await asyncio.to_thread(queue.reject, run_id, actor, reason)


__all__ = ["Actor", "StaleReviewError", "Via", "approve", "reject"]
