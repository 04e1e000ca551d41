"""What the service itself tells people (in Swedish and English) beyond the engine's report."""

from __future__ import annotations

from remediator.failure import ExportFailure
from remediator.report import Outcome, Report, Steps, Text


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


def reconnected(failures: list[ExportFailure]) -> Text:
    """The page after a person approved the connection in Fortnox: what happens next to the
    Z-reports that waited for it, and what (if anything) is still theirs to do."""
    sv = ["Klart: kopplingen till Fortnox fungerar igen."]
    en = ["Done: the connection to Fortnox works again."]
    resent = _dates([f for f in failures if f.export.voucher is not None])
    by_hand = _dates([f for f in failures if f.export.voucher is None])
    if resent:
        one = len(resent) == 1
        days = ", ".join(resent)
        sv.append(
            f"{'Z-rapporten' if one else 'Z-rapporterna'} för {days} skickas nu till Fortnox "
            "igen (aldrig två gånger); ni behöver inte göra något mer för "
            f"{'den' if one else 'dem'}."
        )
        en.append(
            f"{'The Z-report' if one else 'The Z-reports'} for {days} "
            f"{'is' if one else 'are'} being sent to Fortnox again now (never twice); nothing "
            f"more is needed from you for {'it' if one else 'them'}."
        )
    if by_hand:
        one = len(by_hand) == 1
        days = ", ".join(by_hand)
        sv.append(
            f"{'Z-rapporten' if one else 'Z-rapporterna'} för {days} måste exporteras igen från "
            f"Backoffice: remediatorn fick aldrig {'dess verifikation' if one else 'deras verifikationer'}."
        )
        en.append(
            f"{'The Z-report' if one else 'The Z-reports'} for {days} must be exported again "
            f"from the Backoffice: the remediator never got {'its voucher' if one else 'their vouchers'}."
        )
    sv.append("Du kan stänga fönstret.")
    en.append("You may close this window.")
    return Text(sv=" ".join(sv), en=" ".join(en))


def _dates(failures: list[ExportFailure]) -> list[str]:
    return sorted({str(f.export.date) for f in failures})
