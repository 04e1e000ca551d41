"""How a run ends: the outcome its steps add up to, and the one-line summary for people."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from remediator.fortnox import RequestRecord
from remediator.kinds import ErrorKind, Kind
from remediator.report import (
    ExportRef,
    Mode,
    Outcome,
    Recognition,
    Report,
    Requests,
    Restaurant,
    Step,
    Steps,
    StepStatus,
    Text,
    VoucherResult,
)
from remediator.texts import AHEAD_HEADLINES

if TYPE_CHECKING:
    from remediator.failure import ExportFailure


def decide(mode: Mode, kind: Kind, steps: list[Step], *, changed_before: int = 0) -> Outcome:
    """The outcome of a run. A step that was not checked never counts as done.
    ``changed_before``: changes the run's earlier passes made in Fortnox (one that stopped
    after it wrote): a pass that finds nothing left to do ends the run ``fixed``, as one pass
    that made them all would have."""
    statuses = {step.status for step in steps}
    if kind == ErrorKind.UNRECOGNIZED:
        return Outcome.UNRECOGNIZED
    if StepStatus.FAILED in statuses:
        return Outcome.FAILED
    if StepStatus.NEEDS_MANUAL in statuses:
        return Outcome.MANUAL_ACTION_REQUIRED
    if mode == "plan" and StepStatus.WOULD_CHANGE in statuses:
        return Outcome.WOULD_FIX
    if StepStatus.CHANGED in statuses or changed_before:
        return Outcome.FIXED
    return Outcome.NOTHING_TO_FIX


_HEADLINES: dict[Outcome, tuple[str, str]] = {
    Outcome.FIXED: ("Åtgärdat", "Fixed"),
    Outcome.NOTHING_TO_FIX: ("Inget att åtgärda", "Nothing to fix"),
    Outcome.WOULD_FIX: ("Plan (inget är ändrat ännu)", "Plan (nothing changed yet)"),
    Outcome.MANUAL_ACTION_REQUIRED: ("En person behöver göra något", "A person needs to act"),
    Outcome.FAILED: ("Misslyckades", "Failed"),
    Outcome.UNRECOGNIZED: ("Okänt fel", "Unrecognised error"),
}


def _counted(steps: list[Step], status: StepStatus) -> int:
    return sum(1 for step in steps if step.status is status and not step.resend)


def summary(
    outcome: Outcome,
    playbook: Any,
    steps: list[Step],
    voucher: Any,
    values: dict[str, str],
    *,
    ahead: bool = False,
    changed_before: int = 0,
) -> Text:
    """One line per language: headline, what the error was, what happened. ``ahead``: a
    preflight's run, whose headlines say the error was prevented, not that a day was booked;
    ``changed_before``: changes the run's earlier passes made (``decide``)."""
    sv_head, en_head = (AHEAD_HEADLINES if ahead else _HEADLINES)[outcome]
    title_sv = playbook.title.sv if playbook else "felet känns inte igen"
    title_en = playbook.title.en if playbook else "the error is not recognised"
    sv, en = [f"{sv_head}: {title_sv}."], [f"{en_head}: {title_en}."]
    if changed_before:
        sv.append(
            f"{changed_before} ändring(ar) gjordes i Fortnox av ett tidigare försök som inte "
            "blev klart (se granskningsloggen)."
        )
        en.append(
            f"{changed_before} change(s) made in Fortnox by an earlier attempt that did not "
            "finish (see the audit trail)."
        )
    changed, planned = _counted(steps, StepStatus.CHANGED), _counted(steps, StepStatus.WOULD_CHANGE)
    if changed:
        sv.append(f"{changed} ändring(ar) gjordes i Fortnox.")
        en.append(f"{changed} change(s) made in Fortnox.")
    if planned:
        sv.append(f"{planned} ändring(ar) skulle göras i Fortnox.")
        en.append(f"{planned} change(s) would be made in Fortnox.")
    if isinstance(voucher, VoucherResult) and voucher.number is not None:
        verb_sv, verb_en = _booked_verbs(voucher)
        sv.append(
            f"Z-rapporten för {values.get('date')} {verb_sv} som verifikation "
            f"{voucher.series} {voucher.number}."
        )
        en.append(
            f"The Z-report for {values.get('date')} {verb_en} as voucher "
            f"{voucher.series} {voucher.number}."
        )
    failed = [step.reason for step in steps if step.status is StepStatus.FAILED and step.reason]
    if failed:
        sv.append(f"Orsak: {failed[0]}")
        en.append(f"Reason: {failed[0]}")
    return Text(sv=" ".join(sv), en=" ".join(en))


def _booked_verbs(voucher: VoucherResult) -> tuple[str, str]:
    if not voucher.already_booked:
        return "bokfördes", "was booked"
    if voucher.keyed:
        return (
            "var redan bokförd (skickad tidigare av remediatorn)",
            "was already booked (sent earlier by the remediator)",
        )
    return "var redan bokförd", "was already booked"


def _unfinished(requests: Requests | None, written: int = 0) -> Text:
    """What the remediator did in Fortnox before its run stopped: nothing, something (see the
    audit trail), or not known (``None``: a report written for the run by another process, or
    after the pass that worked it died; ``written``: the changes its stored trail shows)."""
    if requests is None and written:
        return Text(
            sv="Remediatorn kunde inte arbeta klart med felet. Innan den stoppades gjorde den "
            f"{written} ändring(ar) i Fortnox (se granskningsloggen: remediator runs show "
            "--audit); vad den gjorde efter den sista är inte känt här. En ny körning läser av "
            "Fortnox först och bokför aldrig en dag två gånger.",
            en="The remediator could not finish working on the error. Before it stopped it made "
            f"{written} change(s) in Fortnox (see the audit trail: remediator runs show "
            "--audit); what it did after the last one is not known here. A new run reads "
            "Fortnox first and never books a day twice.",
        )
    if requests is None:
        return Text(
            sv="Remediatorn kunde inte arbeta klart med felet. Vad den hann göra i Fortnox innan "
            "den stoppades är inte känt här; en ny körning läser av Fortnox först och bokför "
            "aldrig en dag två gånger.",
            en="The remediator could not finish working on the error. What it did in Fortnox "
            "before it stopped is not known here; a new run reads Fortnox first and never books "
            "a day twice.",
        )
    if not any(method not in RequestRecord.READS for method in requests.by_method):
        return Text(
            sv="Remediatorn kunde inte arbeta klart med felet; ingenting ändrades i Fortnox.",
            en="The remediator could not finish working on the error; nothing was changed in "
            "Fortnox.",
        )
    return Text(
        sv="Remediatorn kunde inte arbeta klart med felet efter att ha skrivit till Fortnox; "
        "se stegen i granskningsloggen (remediator runs show --audit).",
        en="The remediator could not finish working on the error after writing to Fortnox; "
        "see the audit trail (remediator runs show --audit).",
    )


def could_not_complete(
    failure: ExportFailure,
    *,
    run_id: str,
    mode: Mode,
    recognition: Recognition,
    reason: str,
    started: datetime | None = None,
    requests: Requests | None = None,
    written: int = 0,
) -> Report:
    """The final ``failed`` report of a run that could not be completed (an error outside
    any action, or a connection gone before the run): every run ends with an outcome.
    ``requests``: what the run sent to Fortnox, when known; else ``written``: the changes
    its stored audit trail shows."""
    now = datetime.now(UTC)
    return Report(
        run_id=run_id,
        event_id=failure.event_id,
        connection_id=failure.connection_id,
        restaurant=Restaurant.of(failure),
        export=ExportRef.of(failure),
        mode=mode,
        recognition=recognition,
        outcome=Outcome.FAILED,
        manual_steps=Steps(
            sv=["Kontakta supporten och bifoga den här rapporten."],
            en=["Contact support and attach this report."],
        ),
        summary=Text(
            sv=f"Misslyckades: körningen kunde inte genomföras ({reason}).",
            en=f"Failed: the run could not be completed ({reason}).",
        ),
        explanation=_unfinished(requests, written),
        requests=requests or Requests(),
        started_at=started or now,
        finished_at=now,
    )
