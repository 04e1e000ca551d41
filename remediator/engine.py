"""The engine: failure → classify → playbook → actions (through the connector) → report.

The CLI, the service and the demo are doors into ``Engine.run``; none holds remediation logic.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import weakref
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from datetime import UTC, datetime
from string import Formatter
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from remediator.actions import ACTIONS, Context
from remediator.actions.base import Instructions, MissingPrerequisiteError
from remediator.actions.connection import consent_step
from remediator.catalogue import Catalogue
from remediator.companies import Companies, Turn
from remediator.errors import LeaseLost
from remediator.failure import ExportFailure
from remediator.fortnox import (
    ConsentRequired,
    FortnoxAPIError,
    FortnoxClient,
    FortnoxConnector,
    FortnoxError,
    FortnoxTransportError,
    RateLimited,
    ReadOnlyViolation,
    RequestRecord,
    ServerError,
    TokenError,
    WriteOutcomeUnknown,
)
from remediator.kinds import ErrorKind
from remediator.links import ReconnectLinks
from remediator.outcome import could_not_complete, decide, summary
from remediator.plans import SavedPlan, StalePlanError, differences
from remediator.playbook import AHEAD_CASE, Playbook
from remediator.policy import Policy
from remediator.report import (
    ExportRef,
    Mode,
    Outcome,
    Recognition,
    Report,
    Restaurant,
    Step,
    Steps,
    StepStatus,
    Text,
    VoucherResult,
)
from remediator.runlog import RunLog
from remediator.storage import ConnectionStore
from remediator.storage.leases import Leases
from remediator.storage.runs import Finished, Logged, RunStore, Started
from remediator.texts import render_lines, render_text
from remediator.trail import Audit, Keep, recording

BLOCKING = frozenset({StepStatus.FAILED, StepStatus.NEEDS_MANUAL})
# Answers of the session memory at most this old are as good as reads made now (the service
# plans a run, then applies it on what the plan read): a run that ends blocked on them alone
# would read the same again, so it is not run again on fresh reads.
FRESH_SECONDS = 5.0
# Steps a preflight (``ExportFailure.ahead``) leaves out: it has no voucher to send; its run
# fixes the cause ahead of the export, which then goes through on its own.
NOT_AHEAD = frozenset({"resend_voucher"})
log = logging.getLogger(__name__)


class Engine:
    """Runs playbooks for export failures and stores every run with its audit trail."""

    def __init__(
        self,
        connector: FortnoxConnector,
        catalogue: Catalogue,
        runs: RunStore,
        *,
        store: ConnectionStore,
        default_policy: Policy,
        links: ReconnectLinks,
        leases: Leases,
    ) -> None:
        self.connector, self.catalogue, self.runs = connector, catalogue, runs
        self.runlog = RunLog(runs)
        self.store = store
        self.default_policy = default_policy
        self.links = links
        self.companies = Companies(connector, store, leases)

    def reconnect_url(self, connection_id: str) -> str:
        """The signed, expiring link that lets a person reconnect ``connection_id`` (and do
        nothing else) at the service, without its api token."""
        return self.links.url(connection_id)

    @asynccontextmanager
    async def turn(self, connection_id: str, *, wait: bool = True) -> AsyncIterator[Turn]:
        """Hold the lease of the connection's Fortnox company while the body acts on it: one
        actor per company at a time, across every process sharing the database (two fixes
        would both post the same voucher), even through two restaurants' connections.
        ``wait=False``: ``LeaseBusy`` at once when someone else holds it."""
        async with self.companies.turn(connection_id, wait=wait) as turn:
            yield turn

    @asynccontextmanager
    async def _turn_for(self, connection_id: str, mode: Mode) -> AsyncIterator[Turn | None]:
        """An apply's turn at the company, once its restaurant has a place among those this
        process works on (``Companies.admitted``); a plan only reads and needs neither (but an
        unknown connection stops both here, before anything is stored)."""
        if mode == "apply":
            async with self.companies.admitted(connection_id), self.turn(connection_id) as turn:
                yield turn
            return
        await self.companies.connection(connection_id)
        yield None

    async def run(
        self,
        failure: ExportFailure,
        *,
        mode: Mode,
        reviewed: bool = False,
        run_id: str | None = None,
    ) -> Report:
        """Recognise, act per the playbook in ``mode``, store and return the report.

        ``reviewed``: a person approved this run's changes. Applies to one Fortnox company take
        turns (its lease); runs for different companies go on at the same time. Raises
        ``LeaseLost`` (after storing the ``failed`` report) when the company's lease was lost
        before a write: that write and everything after it were not made.
        """
        run_id = run_id or secrets.token_hex(16)
        started = datetime.now(UTC)
        with self._expecting(failure, mode):
            async with self._turn_for(failure.connection_id, mode) as turn:
                await self._started(run_id, failure, mode)
                report, audit = await self._act_or_fail(
                    failure,
                    mode=mode,
                    reviewed=reviewed,
                    run_id=run_id,
                    started=started,
                    turn=turn,
                )
        # Stored after the company's turn: the next run need not wait for it.
        await self._finished(report, audit)
        return _unless_refused(report, turn)

    def _expecting(self, failure: ExportFailure, mode: Mode) -> AbstractContextManager[object]:
        """An apply waits for its company: its day may be searched with the burst's."""
        return self.companies.expecting(failure) if mode == "apply" else nullcontext()

    async def apply_saved(self, saved: SavedPlan, *, run_id: str | None = None) -> Report:
        """Apply a reviewed saved plan if Fortnox still looks as it did when it was made.

        Fortnox is read again first (not recorded); when anything the plan observed has
        changed, ``StalePlanError`` is raised and nothing is written. The check and the apply
        hold the company's lease together, so no other run slips in between.
        """
        failure = saved.failure
        async with self.turn(failure.connection_id) as turn:
            changed = await self._changes(saved.report, failure)
            if changed:
                raise StalePlanError(
                    "Fortnox changed since the plan was made, so it is not applied: "
                    + "; ".join(changed)
                    + ". Make a new plan."
                )
            run_id, started = run_id or secrets.token_hex(16), datetime.now(UTC)
            await self._started(run_id, failure, "apply")
            report, audit = await self._act_or_fail(
                failure, mode="apply", reviewed=True, run_id=run_id, started=started, turn=turn
            )
        await self._finished(report, audit)
        return _unless_refused(report, turn)

    async def changes_since(self, planned: Report, failure: ExportFailure) -> list[str]:
        """What differs in Fortnox now from what ``planned`` observed (empty: the plan still
        holds). Reads only, and is not recorded as a run; holds the company's lease, as the
        apply it decides on will."""
        async with self.turn(failure.connection_id):
            return await self._changes(planned, failure)

    async def _changes(self, planned: Report, failure: ExportFailure) -> list[str]:
        now, _ = await self._act(
            failure,
            mode="plan",
            reviewed=False,
            run_id="recheck",
            started=datetime.now(UTC),
            audit=Audit(),
        )
        return differences(planned, now)

    async def _act_or_fail(
        self,
        failure: ExportFailure,
        *,
        mode: Mode,
        reviewed: bool,
        run_id: str,
        started: datetime,
        turn: Turn | None = None,
    ) -> tuple[Report, Audit]:
        """``_act``, or, when something outside the actions raises, a ``failed`` report that
        says why: a started run always ends with an outcome. A database error is raised: the
        run may succeed once the database answers (the service tries the pass again; the CLI
        says the database failed), and a report of it might not be stored anyway."""
        audit = Audit(keep=self._keeper(run_id) if mode == "apply" else None)
        audit.records.extend(self.companies.learnt(failure.connection_id))
        try:
            return await self._act(
                failure,
                mode=mode,
                reviewed=reviewed,
                run_id=run_id,
                started=started,
                audit=audit,
                turn=turn,
                changed_before=await self._changed_before(run_id),
            )
        except SQLAlchemyError:
            raise
        except Exception as err:
            log.exception("run %s could not be completed", run_id)
            report = could_not_complete(
                failure,
                run_id=run_id,
                mode=mode,
                recognition=self._recognition_or_none(failure),
                reason=unexpected(err),
                started=started,
                requests=audit.counts(),
            )
            return report, audit

    def _keeper(self, run_id: str) -> Keep:
        """How an apply stores its trail so far when a write is answered (``Audit``)."""

        async def keep(records: list[RequestRecord], first: int) -> None:
            await self.runlog.write(Logged(run_id, records, first))

        return keep

    async def _changed_before(self, run_id: str) -> int:
        """The changes the run's earlier passes made in Fortnox (a service run resumed after
        its process died, or queued again after a pass that wrote)."""
        runs = self.runlog.runs
        earlier = runs.earlier(run_id)
        return await asyncio.to_thread(runs.changes, run_id, before=earlier) if earlier else 0

    def _recognition_or_none(self, failure: ExportFailure) -> Recognition:
        try:
            match = self.catalogue.classify_failure(failure)
        except Exception:  # noqa: BLE001 - the report of a broken run must still be written
            return Recognition(kind=ErrorKind.UNRECOGNIZED.value, matched_by="none")
        return Recognition(
            kind=match.kind,
            matched_by=match.matched_by,
            params=dict(match.params),
            playbook=match.playbook,
        )

    async def _started(self, run_id: str, failure: ExportFailure, mode: Mode) -> None:
        await self.runlog.write(
            Started(
                run_id,
                event_id=failure.event_id,
                connection_id=failure.connection_id,
                mode=mode,
                failure_json=failure.model_dump_json(by_alias=True),
            )
        )

    async def _finished(self, report: Report, audit: Audit) -> None:
        await audit.stored()  # the rest of the trail follows what is stored
        await self.runlog.write(
            Finished(
                report.run_id,
                report_json=report.model_dump_json(),
                kind=report.recognition.kind,
                outcome=report.outcome.value,
                records=audit.unkept(),
                mode=report.mode,
                first=audit.kept,
            )
        )

    async def _act(
        self,
        failure: ExportFailure,
        *,
        mode: Mode,
        reviewed: bool,
        run_id: str,
        started: datetime,
        audit: Audit,
        turn: Turn | None = None,
        changed_before: int = 0,
    ) -> tuple[Report, Audit]:
        """Recognise and run the playbook: the report and the requests it made (in ``audit``).
        Writes go out only while ``turn`` is held. ``changed_before``: see ``decide``."""
        if turn is not None:  # read as the turn was asked for: this run's settings
            connection = turn.connection
        else:
            connection = await self.companies.connection(failure.connection_id)
        match = self.catalogue.classify_failure(failure)
        playbook = self.catalogue.playbook(match.kind)
        recognition = Recognition(
            kind=match.kind,
            matched_by=match.matched_by,
            params=dict(match.params),
            playbook=playbook.kind if playbook else None,
        )
        client = self.connector.client(
            connection,
            read_only=mode == "plan",
            hook=audit,
            guard=turn.before_write if turn is not None else None,
            memory=turn.memory if turn is not None else self.companies.kept_by_plan(connection),
        )

        def context() -> Context:
            ctx = Context(
                failure=failure,
                recognition=recognition,
                connection=connection,
                client=client,
                connector=self.connector,
                connections=self.store,
                mode=mode,
                policy=connection.policy or self.default_policy,
                reviewed=reviewed,
                reconnect_url=self.reconnect_url(connection.id),
                ledger=turn.ledger if turn is not None else None,
                burst=functools.partial(self.companies.burst, failure.connection_id),
            )
            ctx.instructions = self.instructions_for(ctx)
            return ctx

        with recording(audit):
            ctx = context()
            played, steps = await self._played(ctx, playbook)
            if _blocked_on_old_answers(client, steps) and client.memory is not None:
                # Forget them and run once more on fresh reads; the actions read before they
                # write and the voucher is searched before its POST.
                client.memory.forget()
                if ctx.ledger is not None:
                    ctx.ledger.forget()
                client.stalest_recall = None
                ctx = context()
                played, steps = await self._played(ctx, playbook)
        playbook = played
        report = self._report(
            run_id=run_id,
            ctx=ctx,
            playbook=playbook,
            steps=steps,
            audit=audit,
            started=started,
            changed_before=changed_before,
        )
        return report, audit

    async def _played(
        self, ctx: Context, playbook: Playbook | None
    ) -> tuple[Playbook | None, list[Step]]:
        """The playbook's steps, and those of the playbook an action handed the run to."""
        steps = await self._steps(ctx, playbook) if playbook else []
        return await self._handed_over(ctx, playbook, steps)

    def instructions_for(self, ctx: Context) -> Instructions:
        """The playbooks' instructions for people, rendered with ``ctx``'s values. The function
        holds ``ctx`` weakly: ``ctx`` holds it (``ctx.instructions``), and a cycle would leave
        every run's context, client and audit to the garbage collector."""
        catalogue, ahead = self.catalogue, AHEAD_CASE if ctx.failure.ahead else None
        held = weakref.ref(ctx)

        def instructions(kind: str, params: dict[str, str], case: str | None = None) -> Steps:
            current = held()
            if current is None:  # pragma: no cover - called through the context only
                raise RuntimeError("the run's context is gone")
            lines = catalogue.instructions(kind, case or ahead)
            return render_lines(lines.sv, lines.en, placeholders(current) | params)

        return instructions

    async def _handed_over(
        self, ctx: Context, playbook: Playbook | None, steps: list[Step]
    ) -> tuple[Playbook | None, list[Step]]:
        """Go on with the playbook an action handed the run to (``ctx.handoff``): the report
        then carries that kind and playbook, and the steps of both. Steps already done are not
        done again."""
        handed = self.catalogue.playbook(ctx.handoff) if ctx.handoff else None
        if handed is None or any(step.status in BLOCKING for step in steps):
            return playbook, steps
        ctx.recognition = ctx.recognition.model_copy(
            update={
                "kind": handed.kind,
                "playbook": handed.kind,
                "matched_by": f"{ctx.recognition.matched_by}+{steps[-1].action}",
            }
        )
        done = {step.action for step in steps if step.status is StepStatus.OK}
        return handed, steps + await self._steps(ctx, handed, done)

    async def _steps(
        self, ctx: Context, playbook: Playbook, done: frozenset[str] | set[str] = frozenset()
    ) -> list[Step]:
        steps: list[Step] = []
        for spec in playbook.actions:
            if spec.action in done or (ctx.failure.ahead and spec.action in NOT_AHEAD):
                continue
            if any(step.status in BLOCKING for step in steps):
                steps.append(_skipped(spec.action))
                continue
            values = placeholders(ctx) if spec.with_ else {}
            args = {key: fill(value, values) for key, value in spec.with_.items()}
            steps.extend(await guarded(ctx, spec.action, args, self.catalogue))
        return steps

    def _report(
        self,
        *,
        run_id: str,
        ctx: Context,
        playbook: Playbook | None,
        steps: list[Step],
        audit: Audit,
        started: datetime,
        changed_before: int = 0,
    ) -> Report:
        failure, recognition = ctx.failure, ctx.recognition
        outcome = decide(ctx.mode, recognition.kind, steps, changed_before=changed_before)
        voucher = ctx.facts.get("voucher")
        values = placeholders(ctx)
        return Report(
            run_id=run_id,
            event_id=failure.event_id,
            connection_id=failure.connection_id,
            restaurant=Restaurant.of(failure),
            export=ExportRef.of(failure),
            mode=ctx.mode,
            recognition=recognition,
            outcome=outcome,
            steps=steps,
            manual_steps=manual_steps(playbook, steps, outcome, values, ahead=failure.ahead),
            summary=summary(
                outcome,
                playbook,
                steps,
                voucher,
                values,
                ahead=failure.ahead,
                changed_before=changed_before if outcome is Outcome.FIXED else 0,
            ),
            explanation=explanation(playbook, values),
            resent=isinstance(voucher, VoucherResult) and not voucher.already_booked,
            voucher=voucher if isinstance(voucher, VoucherResult) else None,
            requests=audit.counts(),
            started_at=started,
            finished_at=datetime.now(UTC),
        )


async def guarded(
    ctx: Context, name: str, args: dict[str, str], catalogue: Catalogue | None = None
) -> list[Step]:
    """Run one action; Fortnox errors become honest steps instead of crashing the run.

    With ``catalogue``, a refusal Fortnox gives on the way (the re-send refused because the user
    still may not book, a read refused for want of a licence) is recognised: a known cause is a
    step for a person with that cause's instructions, not a bare failure.
    """
    try:
        result = await ACTIONS[name](ctx, args)
    except SQLAlchemyError:
        raise  # the database failed, not the step: the caller's to handle (``_act_or_fail``)
    except Exception as err:  # noqa: BLE001 - every error becomes a step (_error_step says how)
        return [_error_step(ctx, name, err, catalogue)]
    return result if isinstance(result, list) else [result]


def _error_step(ctx: Context, name: str, err: Exception, catalogue: Catalogue | None) -> Step:
    """The honest step for an error an action raised."""
    if isinstance(err, ConsentRequired):
        return consent_step(ctx, name, err)
    if isinstance(err, ReadOnlyViolation):
        return _failed(name, f"refused a write during a dry run (a bug): {err}")
    if isinstance(err, WriteOutcomeUnknown | UNAVAILABLE) or (
        isinstance(err, TokenError) and err.transient
    ):
        return _unanswered(name, err)
    if isinstance(err, FortnoxAPIError):
        return refused(ctx, name, err, catalogue)
    if isinstance(err, (LeaseLost, FortnoxError, MissingPrerequisiteError)):
        # LeaseLost: another actor may have the company now; nothing more is written.
        return _failed(name, str(err))
    # Not a Fortnox error (an answer of a shape no client expects, a bug): the step fails
    # with its reason and the run goes on to its report instead of crashing.
    log.error("action %s raised", name, exc_info=err)
    return _failed(name, unexpected(err))


def _blocked_on_old_answers(client: FortnoxClient, steps: list[Step]) -> bool:
    """The run stopped after answers from memory older than ``FRESH_SECONDS``: they may be what
    is wrong now (a person changed Fortnox meanwhile)."""
    stalest = client.stalest_recall
    if stalest is None or stalest <= FRESH_SECONDS:
        return False
    return any(step.status in BLOCKING for step in steps)


def _unless_refused(report: Report, turn: Turn | None) -> Report:
    """``report``, unless a write of its run was refused for a lost lease: then that."""
    if turn is not None and turn.refused is not None:
        raise turn.refused
    return report


TRANSIENT = frozenset({ErrorKind.FORTNOX_UNAVAILABLE, ErrorKind.UNRECOGNIZED})
# Fortnox did not answer (after the client's own retries): nothing is known to be wrong.
UNAVAILABLE = ServerError | RateLimited | FortnoxTransportError


def _unanswered(action: str, err: Exception) -> Step:
    """The failed step for a request Fortnox did not answer: a write whose outcome is unknown
    is ``unconfirmed``, anything else ``unavailable``; either may succeed on another pass."""
    unknown = isinstance(err, WriteOutcomeUnknown)
    flags = {"unconfirmed": unknown, "unavailable": not unknown}
    return _failed(action, str(err)).model_copy(update=flags)


def refused(ctx: Context, action: str, err: FortnoxAPIError, catalogue: Catalogue | None) -> Step:
    """The step for a refusal: a cause a playbook knows (still there, or another one) needs a
    person, with that playbook's instructions; anything else is a failed step."""
    match = (
        catalogue.classify(err.message, code=err.code, http_status=err.status)
        if catalogue
        else None
    )
    playbook = catalogue.playbook(match.kind) if catalogue and match else None
    if match is None or playbook is None or match.kind in TRANSIENT:
        return _failed(action, str(err))
    same = match.kind == ctx.recognition.kind
    title = playbook.title
    return Step(
        action=action,
        status=StepStatus.NEEDS_MANUAL,
        reason=f"Fortnox refused ({match.kind}): {err}",
        summary=Text(
            sv=("Fortnox nekar fortfarande: " if same else "Fortnox nekade: ") + f"{title.sv}.",
            en=("Fortnox still refuses: " if same else "Fortnox refused: ") + f"{title.en}.",
        ),
        observed={"refused": {"kind": match.kind, "code": err.code, "status": err.status}},
        manual=ctx.instructions(match.kind, match.params),
    )


def unexpected(err: Exception) -> str:
    """The reason for an error no one expected: its type and message (never a token: the
    exceptions of the connector keep tokens out of their messages)."""
    return f"unexpected error ({type(err).__name__}: {err})"


def _failed(action: str, reason: str) -> Step:
    return Step(
        action=action,
        status=StepStatus.FAILED,
        reason=reason,
        summary=Text(sv="Steget kunde inte genomföras.", en="The step could not be done."),
    )


def _skipped(action: str) -> Step:
    return Step(
        action=action,
        status=StepStatus.SKIPPED,
        reason="not checked: an earlier step needs attention first",
        summary=Text(
            sv="Kontrollerades inte (ett tidigare steg måste lösas först).",
            en="Not checked (an earlier step must be resolved first).",
        ),
    )


def placeholders(ctx: Context) -> dict[str, str]:
    """Values texts and action parameters may use, from the error and the run so far."""
    failure = ctx.failure
    values = {
        "series": failure.export.voucher_series,
        "date": str(failure.export.date),
        "restaurant": failure.restaurant.name,
        "reconnect_url": ctx.reconnect_url,
        "year": f"{ctx.year.from_date} – {ctx.year.to_date}" if ctx.year else "",
        "locked_until": str(ctx.facts.get("locked_until", "")),
        "user": str(ctx.facts.get("user", "")),
    }
    return values | {k: v for k, v in ctx.recognition.params.items() if v}


def fill(template: str, values: dict[str, str]) -> str:
    """``template`` with known placeholders filled; unknown ones are left as they are."""
    names = {name for _, name, _, _ in Formatter().parse(template) if name}
    return template.format_map({name: values.get(name, "{" + name + "}") for name in names})


def explanation(playbook: Playbook | None, values: dict[str, str]) -> Text:
    if playbook is None:
        return Text(
            sv="Felet känns inte igen; ingen automatisk åtgärd finns.",
            en="The error is not recognised; there is no automatic remedy.",
        )
    meaning = playbook.texts.meaning
    return render_text(meaning.sv, meaning.en, values)


def manual_steps(
    playbook: Playbook | None,
    steps: list[Step],
    outcome: Any,
    values: dict[str, str],
    *,
    ahead: bool = False,
) -> Steps:
    sv = [line for step in steps for line in step.manual.sv]
    en = [line for step in steps for line in step.manual.en]
    if not sv and playbook is not None and outcome.value == "manual_action_required":
        lines = playbook.texts.instructions(None, ahead=ahead)
        rendered = render_lines(lines.sv, lines.en, values)
        sv, en = rendered.sv, rendered.en
    if playbook is None:
        sv = ["Kontakta supporten och bifoga den här rapporten."]
        en = ["Contact support and attach this report."]
    return Steps(sv=list(dict.fromkeys(sv)), en=list(dict.fromkeys(en)))


__all__ = ["Engine", "ErrorKind", "fill", "placeholders"]
