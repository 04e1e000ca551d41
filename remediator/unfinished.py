"""Final reports for runs the engine could not finish, and the end of CLI runs whose command
died.

A run of ``remediator fix``, ``apply`` or ``plan`` whose process died (``kill -9``, a closed
laptop) is not worked again, since a person made it: once it is ``stuck_run_seconds`` old and
nobody holds its company's lease, it ends failed, saying so. The service's look-back ends such
runs, and so do ``remediator runs list`` and ``runs show``, so that a laptop without a service
sees them end too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

from remediator.catalogue import Catalogue, Match
from remediator.failure import (
    ErrorInfo,
    ExportFailure,
    ExportInfo,
    InvalidFailure,
    RestaurantRef,
    salvaged,
    stored_failure,
)
from remediator.kinds import ErrorKind
from remediator.outcome import could_not_complete
from remediator.report import Recognition, Report
from remediator.storage.queue import QueuedRun, QueueStore, Settled
from remediator.storage.runs import RunState

INTERRUPTED = (
    "interrupted: the command that ran it (remediator fix, apply or plan) stopped before it "
    "finished, and nothing more is known of its last step; make the run again (it looks in "
    "Fortnox first, and never books a day twice)"
)


def could_not_run(
    failure: ExportFailure, run_id: str, match: Match, reason: str, written: int = 0
) -> Report:
    """A final report for a run the engine could not complete (e.g. its connection is gone);
    ``written``: the changes its stored audit trail shows."""
    recognition = Recognition(
        kind=match.kind, matched_by=match.matched_by, params=dict(match.params)
    )
    return could_not_complete(
        failure,
        run_id=run_id,
        mode="plan",
        recognition=recognition,
        reason=reason,
        written=written,
    )


def unreadable(run: QueuedRun, reason: str, written: int = 0) -> Report:
    """The final report for a run whose stored failure cannot be read at all: from what the
    run's row knows (its restaurant and export are not known)."""
    unknown = "unknown"
    export_date = (
        date.fromisoformat(run.export_date) if run.export_date else datetime.now(UTC).date()
    )
    stand_in = ExportFailure(
        event_id=run.event_id,
        restaurant=RestaurantRef(id=unknown, name=unknown),
        connection_id=run.connection_id,
        export=ExportInfo(id=unknown, date=export_date),
        error=ErrorInfo(message=""),
    )
    recognition = Recognition(kind=run.kind or ErrorKind.UNRECOGNIZED, matched_by="none")
    return could_not_complete(
        stand_in,
        run_id=run.id,
        mode="plan",
        recognition=recognition,
        reason=reason,
        written=written,
    )


def unfinished(row: QueuedRun, catalogue: Catalogue, reason: str, written: int = 0) -> Report:
    """The failed report of a run that could not be completed, from its stored failure (or
    what can be read of it); ``written``: the changes its stored audit trail shows."""
    failure: ExportFailure | None
    try:
        failure = stored_failure(row.failure)
    except InvalidFailure:
        failure = salvaged(row.failure)
    if failure is None:
        return unreadable(row, reason, written)
    match = catalogue.classify_failure(failure)
    return could_not_run(failure, row.id, match, reason, written)


def end_interrupted(
    queue: QueueStore, catalogue: Callable[[], Catalogue], older_than: float
) -> list[str]:
    """End the CLI runs whose command died (``QueueStore.take_interrupted``) with their
    failed report; their ids. ``catalogue`` is loaded only when there is one to end."""
    ended = queue.take_interrupted(older_than)
    for run_id in ended:
        written = queue.changes(run_id)
        report = unfinished(queue.queued(run_id), catalogue(), INTERRUPTED, written)
        queue.finish(
            run_id,
            report_json=report.model_dump_json(),
            kind=report.kind,
            outcome=report.outcome.value,
            records=[],
        )
        queue.settle(
            run_id, Settled(RunState.DONE, reason=f"the run could not be completed: {INTERRUPTED}")
        )
    return ended
