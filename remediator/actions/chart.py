"""No chart of accounts in the Backoffice: nothing to change in Fortnox, only to explain.

"Ogiltigt konto" (2001265) also comes when the voucher's accounts are real numbers that are
inactive or missing in Fortnox. Then the Backoffice's chart is not the problem: the run is
handed over to the account playbook (``Context.handoff``), which checks and fixes them.
"""

from __future__ import annotations

from remediator.actions.accounts import chart as year_chart
from remediator.actions.accounts import is_account_number
from remediator.actions.base import Context, manual, step, text
from remediator.bas import RESTAURANT_ACCOUNTS
from remediator.fortnox import Chart
from remediator.kinds import ErrorKind
from remediator.report import Step, StepStatus


def _describe(number: int | None, chart: Chart) -> tuple[str, str]:
    if number is None:
        return "(inget konto)", "(no account)"
    if not 1000 <= number <= 9999:  # noqa: PLR2004 - BAS account numbers have four digits
        return f"{number}: inget giltigt kontonummer", f"{number}: not a valid account number"
    account = chart.get(number)
    if account is None:
        return f"{number}: finns inte i Fortnox", f"{number}: not in Fortnox"
    if not account.active:
        return (
            f"{number} {account.description}: inaktivt",
            f"{number} {account.description}: inactive",
        )
    return f"{number} {account.description}: aktivt", f"{number} {account.description}: active"


def _handoff(used: list[int | None], chart: Chart) -> tuple[ErrorKind, list[int]] | None:
    """The account kind that takes over when every account the voucher uses is a real
    number, and the accounts it is about; ``None`` when the Backoffice's chart is at fault."""
    if not used or not all(is_account_number(number) for number in used):
        return None
    numbers = [number for number in dict.fromkeys(used) if number is not None]
    missing = [number for number in numbers if number not in chart]
    if missing:
        return ErrorKind.ACCOUNT_MISSING, missing
    return ErrorKind.ACCOUNT_INACTIVE, [n for n in numbers if not chart[n].active]


def _handed_over(ctx: Context, kind: ErrorKind, about: list[int], states: list[str]) -> Step:
    ctx.handoff = kind
    if about:
        ctx.recognition.params.setdefault("account", ", ".join(map(str, about)))
    return step(
        "chart_review",
        StepStatus.OK,
        text(
            "Verifikationens konton är riktiga kontonummer, så Backofficens kontoplan är inte "
            "felet; kontona kontrolleras i Fortnox.",
            "The voucher's accounts are real account numbers, so the Backoffice's chart is "
            "not at fault; the accounts are checked in Fortnox.",
        ),
        observed={"voucher_accounts": states, "handed_over_to": kind.value},
    )


async def chart_review(ctx: Context, _args: dict[str, str]) -> Step:
    known = await year_chart(ctx)
    voucher = ctx.failure.export.voucher
    used = [row.account for row in voucher.voucher_rows] if voucher is not None else []
    states = [_describe(number, known) for number in dict.fromkeys(used)]
    handoff = _handoff(used, known)
    if handoff is not None:
        return _handed_over(ctx, *handoff, [e for _, e in states])
    suggested = [
        f"{n} {known[n].description}" for n in RESTAURANT_ACCOUNTS if n in known and known[n].active
    ]
    # The instructions are the playbook's; what was observed goes between its first line (set
    # the chart in the Backoffice) and the rest (the days that did not arrive).
    instructions = ctx.instructions(ErrorKind.CHART_OF_ACCOUNTS_MISSING, {})
    sv, en = instructions.sv[:1], instructions.en[:1]
    if states:
        sv.append("Den misslyckade verifikationen använde: " + "; ".join(s for s, _ in states))
        en.append("The failed voucher used: " + "; ".join(e for _, e in states))
    if suggested:
        sv.append("Standardkonton som finns och är aktiva i ert Fortnox: " + ", ".join(suggested))
        en.append(
            "Standard accounts that exist and are active in your Fortnox: " + ", ".join(suggested)
        )
    sv += instructions.sv[1:]
    en += instructions.en[1:]
    return step(
        "chart_review",
        StepStatus.NEEDS_MANUAL,
        text(
            "Backoffice saknar kontoplan för Fortnox-exporten; inget ändras i Fortnox.",
            "The Backoffice has no chart of accounts for the Fortnox export; nothing changes "
            "in Fortnox.",
        ),
        observed={
            "voucher_accounts": [e for _, e in states],
            "active_standard_accounts": suggested,
        },
        manual=manual(sv, en),
    )
