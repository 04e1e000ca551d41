"""Checks ahead: every active connection's Fortnox made ready before the export needs it.

Once a day (``remediator preflight``, or the service's scheduler), for each active connection
and the slot's local date ``today``, the survey (``remediator.foreseen``) reads what the export
of tomorrow, and near a financial year's end of the next year's first day, would meet. Each
obstacle becomes a run like any other, stored in the queue with origin ``scheduled``: its
failure is a preflight (``export.kind`` ``preflight``, the message Fortnox would give, the
accounts the exports use, no voucher), recognised by the obstacle's playbook and worked by the
engine through the same actions, under the connection's policy:

- what the policy lets through unreviewed is applied and verified now: the run ends ``fixed``
  ("fixed ahead of the export"; nothing is booked or re-sent: ``resent`` is false);
- a change that needs a review leaves the run ``awaiting_review`` with its plan, approved
  (``runs approve``, the API, the console) and applied by the service's workers;
- what no policy allows (a missing year, a locked period, a refused change) ends the run
  ``manual_action_required`` with the playbook's instructions.

A connection where nothing stands in the way stores no run: it is counted (``clear``) and
logged. An obstacle whose run still stands (open, awaiting review, rejected, or reported as
needing a person) is not reported again for the same export date (``known``). Every run made
is told to the Backoffice at ``backoffice_url`` (signed, like keep-alive's events): event
``fixed_ahead`` for a fix made ahead, ``preflight_finding`` for the rest.

The connection's company turn (its lease) is held while it is checked and its runs worked, as
a service worker holds it: one actor per company at a time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from remediator.backoffice import BackofficeNotifier
from remediator.engine import Engine
from remediator.failure import PREFLIGHT, ExportFailure
from remediator.foreseen import Obstacle, Survey, survey
from remediator.fortnox import ConsentRequired, FortnoxError
from remediator.report import Outcome, Report, StepStatus
from remediator.runtime import Runtime
from remediator.storage import Connection, ConnectionStatus
from remediator.storage.queue import SCHEDULED, QueuedRun, QueueStore, Scheduled, Settled
from remediator.storage.runs import RunState
from remediator.texts import AHEAD_EVENTS, render_text
from remediator.timestamps import iso_epoch
from remediator.trail import Audit

log = logging.getLogger(__name__)
EVENT_FIXED_AHEAD = "fixed_ahead"
EVENT_FINDING = "preflight_finding"
RECEIVED_LOOKED_AT = 20  # the latest received failures read for the series and accounts


class Ahead(StrEnum):
    """Where one obstacle's run stands after the check."""

    FIXED = "fixed"  # fixed ahead and verified
    AWAITING_REVIEW = "awaiting_review"  # a plan waits for a person
    MANUAL_ACTION_REQUIRED = "manual_action_required"  # a person must act in Fortnox
    FAILED = "failed"  # the run could not be completed
    CLEARED = "nothing_to_fix"  # gone by the time the run looked (someone fixed it)


@dataclass(frozen=True)
class AheadRun:
    run_id: str
    kind: str
    day: date
    status: Ahead


@dataclass
class Checked:
    """One connection's check: the days looked at, the runs made, what was already known."""

    connection_id: str
    days: list[date] = field(default_factory=list)
    runs: list[AheadRun] = field(default_factory=list)
    known: list[AheadRun] = field(default_factory=list)
    requests: int = 0  # Fortnox requests of the survey and the runs, token calls included
    error: str | None = None  # why the connection could not be checked

    @property
    def clear(self) -> bool:
        return self.error is None and not self.runs and not self.known


@dataclass
class Summary:
    """A check ahead of every active connection."""

    today: date
    connections: list[Checked] = field(default_factory=list)

    def count(self, status: Ahead) -> int:
        return sum(1 for c in self.connections for r in c.runs if r.status is status)

    def tally(self) -> str:
        """One line: how many were checked and what came of it (the job's summary)."""
        counts = Counter(r.status.value for c in self.connections for r in c.runs)
        parts = [f"{len(self.connections)} checked"]
        parts += [f"{n} {status}" for status, n in sorted(counts.items())]
        known = sum(len(c.known) for c in self.connections)
        failed = sum(1 for c in self.connections if c.error)
        parts += [f"{known} known"] if known else []
        parts += [f"{failed} not checked"] if failed else []
        return ", ".join(parts)

    def as_json(self) -> dict[str, Any]:
        return {
            "today": self.today.isoformat(),
            "connections": [
                {
                    "connection_id": c.connection_id,
                    "days": [d.isoformat() for d in c.days],
                    "clear": c.clear,
                    "runs": [_run_json(r) for r in c.runs],
                    "known": [_run_json(r) for r in c.known],
                    "requests": c.requests,
                    "error": c.error,
                }
                for c in self.connections
            ],
        }


def _run_json(run: AheadRun) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "kind": run.kind,
        "date": run.day.isoformat(),
        "status": run.status.value,
    }


def checked_ahead(connection: Connection) -> bool:
    return connection.status is ConnectionStatus.ACTIVE


def status_of(report: Report, state: RunState) -> Ahead:
    if state is RunState.AWAITING_REVIEW:
        return Ahead.AWAITING_REVIEW
    return {
        Outcome.FIXED: Ahead.FIXED,
        Outcome.NOTHING_TO_FIX: Ahead.CLEARED,
        Outcome.MANUAL_ACTION_REQUIRED: Ahead.MANUAL_ACTION_REQUIRED,
    }.get(report.outcome, Ahead.FAILED)


def received(queue: QueueStore, connection_id: str) -> tuple[str | None, list[int]]:
    """The series the restaurant exports to and the accounts its vouchers used, from the
    latest failures the service received (none: ``None`` and no accounts)."""
    series: str | None = None
    accounts: list[int] = []
    for row in queue.find(connection_id=connection_id, limit=RECEIVED_LOOKED_AT):
        if row.origin == SCHEDULED:
            continue
        try:
            export = json.loads(row.failure).get("export") or {}
        except (ValueError, AttributeError):  # unreadable: it says nothing about the exports
            continue
        series = series or export.get("voucher_series")
        voucher = export.get("voucher") or {}
        voucher = voucher.get("Voucher", voucher)
        accounts.extend(
            r["Account"]
            for r in voucher.get("VoucherRows") or []
            if isinstance(r.get("Account"), int)
        )
    return series, list(dict.fromkeys(accounts))


def preflight_failure(
    connection: Connection, obstacle: Obstacle, found: Survey, today: date
) -> ExportFailure:
    """The preflight standing in for the export ``obstacle`` would make fail."""
    day = obstacle.day.isoformat()
    return ExportFailure.model_validate(
        {
            "event_id": f"ahead:{today}:{connection.id}:{obstacle.kind}:{day}",
            "restaurant": {
                "id": connection.restaurant_id or connection.id,
                "name": connection.restaurant_name or connection.label or connection.id,
            },
            "connection_id": connection.id,
            "export": {
                "kind": PREFLIGHT,
                "id": f"ahead-{day}",
                "date": day,
                "voucher_series": found.series,
                "accounts": found.accounts,
            },
            "error": {"message": obstacle.message},
        }
    )


class Preflight:
    """One check ahead of every active connection (see the module's docstring)."""

    def __init__(self, runtime: Runtime, notifier: BackofficeNotifier) -> None:
        if not isinstance(runtime.runs, QueueStore):
            raise TypeError("checks ahead store their runs in the queue: a QueueStore runtime")
        self.runtime, self.queue, self.notifier = runtime, runtime.runs, notifier
        self.engine: Engine = runtime.engine
        self.settings = runtime.settings

    async def run(self, today: date, only: Iterable[str] = ()) -> Summary:
        summary = Summary(today)
        for connection in await self.targets(only):
            summary.connections.append(await self.check(connection, today))
        return summary

    async def targets(self, only: Iterable[str] = ()) -> list[Connection]:
        """The connections to check: every active one (or those in ``only``)."""
        wanted = set(only)
        everyone = await asyncio.to_thread(self.runtime.store.all)
        return [c for c in everyone if checked_ahead(c) and (not wanted or c.id in wanted)]

    async def check(self, connection: Connection, today: date) -> Checked:
        """Check one connection and work a run for each new obstacle, in its company's turn."""
        checked = Checked(connection.id)
        try:
            async with self.engine.turn(connection.id):
                await self._check(connection, today, checked)
        except ConsentRequired as err:
            checked.error = f"needs reconnect ({err.error})"
        except FortnoxError as err:
            checked.error = f"Fortnox could not be read ({type(err).__name__})"
        except Exception as err:  # one company's trouble never stops the others
            log.exception("check ahead of %s could not be completed", connection.id)
            checked.error = f"could not be completed ({type(err).__name__})"
        if checked.error:
            log.warning("check ahead of %s: %s", connection.id, checked.error)
        elif checked.clear:
            log.info("check ahead of %s: nothing in the way of %s", connection.id, checked.days)
        return checked

    async def _check(self, connection: Connection, today: date, checked: Checked) -> None:
        audit = Audit()
        series, accounts = await asyncio.to_thread(received, self.queue, connection.id)
        client = self.runtime.connector.client(connection, read_only=True, hook=audit)
        found = await survey(
            client,
            today=today,
            series=series or "F",
            received=accounts,
            year_end_days=self.settings.preflight_year_end_days,
            latest_vouchers=self.settings.preflight_vouchers,
            voucher_days=self.settings.preflight_voucher_days,
        )
        checked.days, checked.requests = found.days, audit.counts().total
        for obstacle in found.obstacles:
            standing = await asyncio.to_thread(
                self.queue.standing, connection.id, obstacle.kind, obstacle.day.isoformat()
            )
            if standing is not None:
                checked.known.append(_known(standing, obstacle))
                continue
            run, report = await self._work(preflight_failure(connection, obstacle, found, today))
            checked.runs.append(
                AheadRun(run.id, obstacle.kind, obstacle.day, status_of(report, run.state))
            )
            checked.requests += report.requests.total
            await self._tell(connection, run, report)

    async def _work(self, failure: ExportFailure) -> tuple[QueuedRun, Report]:
        """Store the run and work it as a service worker would: plan; apply now what the
        policy lets through unreviewed; otherwise wait for a person."""
        kind = self.runtime.catalogue.classify_failure(failure).kind
        run_id = secrets.token_hex(16)
        scheduled = Scheduled(
            run_id=run_id,
            event_id=failure.event_id,
            connection_id=failure.connection_id,
            kind=kind,
            export_date=failure.export.date.isoformat(),
            failure_json=failure.model_dump_json(by_alias=True),
        )
        await asyncio.to_thread(self.queue.start_scheduled, scheduled)
        # Raising here leaves the run ``running``: once the company's turn is released,
        # ``recover`` queues it again and a service worker redoes it.
        report, settled = await self._plan_and_apply(failure, run_id)
        return await asyncio.to_thread(self.queue.settle, run_id, settled), report

    async def _plan_and_apply(self, failure: ExportFailure, run_id: str) -> tuple[Report, Settled]:
        plan = await self.engine.run(failure, mode="plan", run_id=run_id)
        if plan.outcome is not Outcome.WOULD_FIX:
            return plan, Settled(RunState.DONE)
        if await self.runtime.needs_review(plan):
            return plan, Settled(
                RunState.AWAITING_REVIEW, reason="the plan waits for a person's review"
            )
        report = await self.engine.run(failure, mode="apply", run_id=run_id)
        verified = any(s.status is StepStatus.CHANGED for s in report.steps)
        return report, Settled(RunState.DONE, fix_verified=verified)

    async def _tell(self, connection: Connection, run: QueuedRun, report: Report) -> None:
        status = status_of(report, run.state)
        if status is Ahead.CLEARED:
            return
        await self.notifier.send(ahead_event(connection, run, report, status))


def _known(run: QueuedRun, obstacle: Obstacle) -> AheadRun:
    report = Report.model_validate_json(run.report) if run.report else None
    status = Ahead.AWAITING_REVIEW if report is None else status_of(report, run.state)
    if run.state is RunState.REJECTED:
        status = Ahead.MANUAL_ACTION_REQUIRED
    return AheadRun(run.id, obstacle.kind, obstacle.day, status)


def ahead_event(
    connection: Connection, run: QueuedRun, report: Report, status: Ahead
) -> dict[str, Any]:
    """What the Backoffice is told about one run of a check ahead."""
    day = report.export.date.isoformat()
    key = "fixed_ahead" if status is Ahead.FIXED else status.value
    text = AHEAD_EVENTS[key]
    restaurant = (
        {"id": connection.restaurant_id, "name": connection.restaurant_name}
        if connection.restaurant_id
        else None
    )
    return {
        "event": EVENT_FIXED_AHEAD if status is Ahead.FIXED else EVENT_FINDING,
        "run_id": run.id,
        "connection_id": connection.id,
        "restaurant": restaurant,
        "kind": report.kind,
        "date": day,
        "status": status.value,
        "text": render_text(text.sv, text.en, {"date": day}).model_dump(),
        "summary": report.summary.model_dump(),
        "explanation": report.explanation.model_dump(),
        "manual_steps": report.manual_steps.model_dump(),
        "at": iso_epoch(time.time()),
    }


async def preflight_all(
    runtime: Runtime,
    today: date,
    *,
    notifier: BackofficeNotifier | None = None,
    only: Iterable[str] = (),
) -> Summary:
    """Check every active connection (or those in ``only``) ahead of its exports, for the
    slot's local date ``today``; fix what the policy allows, report the rest as runs and tell
    the Backoffice. ``notifier``: the Backoffice's (one is opened, and closed, when none)."""
    own = notifier is None
    notifier = notifier or BackofficeNotifier(runtime.settings)
    try:
        return await Preflight(runtime, notifier).run(today, only)
    finally:
        if own:
            await notifier.aclose()


__all__ = [
    "EVENT_FINDING",
    "EVENT_FIXED_AHEAD",
    "Ahead",
    "AheadRun",
    "Checked",
    "Preflight",
    "Summary",
    "ahead_event",
    "preflight_all",
]
