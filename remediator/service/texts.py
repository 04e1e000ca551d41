"""What the service itself tells people (in Swedish and English) beyond the engine's report."""

from __future__ import annotations

from datetime import UTC, datetime

from remediator.catalogue import Match
from remediator.failure import ExportFailure
from remediator.report import (
    ExportRef,
    Outcome,
    Recognition,
    Report,
    Restaurant,
    Steps,
    Text,
)


def fix_did_not_hold(plan: Report, seconds: float) -> Report:
    """The dry run's report, ending ``manual_action_required`` because the fix did not hold."""
    minutes = max(1, round(seconds / 60))
    sv = (
        f"Åtgärden höll inte: samma fel kom tillbaka {minutes} min efter att remediatorn rättat "
        "det. Remediatorn gör inte samma ändring igen automatiskt."
    )
    en = (
        f"The fix did not hold: the same error came back {minutes} min after the remediator "
        "fixed it. The remediator does not make the same change again on its own."
    )
    manual = Steps(
        sv=[
            (
                "Ta reda på vem eller vad som ändrar tillbaka inställningen i Fortnox (en "
                "person, ett annat system eller en annan integration) innan felet rättas igen."
            ),
            *plan.manual_steps.sv,
        ],
        en=[
            (
                "Find out who or what changes the setting back in Fortnox (a person, another "
                "system or another integration) before the error is fixed again."
            ),
            *plan.manual_steps.en,
        ],
    )
    return plan.model_copy(
        update={
            "outcome": Outcome.MANUAL_ACTION_REQUIRED,
            "summary": Text(sv=f"{sv} {plan.summary.sv}", en=f"{en} {plan.summary.en}"),
            "manual_steps": manual,
        }
    )


def could_not_run(failure: ExportFailure, run_id: str, match: Match, reason: str) -> Report:
    """A final report for a run the engine could not complete (e.g. its connection is gone)."""
    now = datetime.now(UTC)
    return Report(
        run_id=run_id,
        event_id=failure.event_id,
        connection_id=failure.connection_id,
        restaurant=Restaurant.of(failure),
        export=ExportRef.of(failure),
        mode="plan",
        recognition=Recognition(
            kind=match.kind, matched_by=match.matched_by, params=dict(match.params)
        ),
        outcome=Outcome.FAILED,
        manual_steps=Steps(
            sv=["Kontakta supporten och bifoga den här rapporten."],
            en=["Contact support and attach this report."],
        ),
        summary=Text(
            sv=f"Misslyckades: körningen kunde inte genomföras ({reason}).",
            en=f"Failed: the run could not be completed ({reason}).",
        ),
        explanation=Text(
            sv="Remediatorn kunde inte arbeta med felet; ingenting ändrades i Fortnox.",
            en="The remediator could not work on the error; nothing was changed in Fortnox.",
        ),
        started_at=now,
        finished_at=now,
    )
