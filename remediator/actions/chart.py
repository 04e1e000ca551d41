"""No chart of accounts in the Backoffice: nothing to change in Fortnox, only to explain."""

from __future__ import annotations

from remediator.actions.base import Context, manual, step, text
from remediator.bas import RESTAURANT_ACCOUNTS
from remediator.fortnox import Account
from remediator.report import Step, StepStatus


def _describe(number: int | None, chart: dict[int, Account]) -> tuple[str, str]:
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


async def chart_review(ctx: Context, _args: dict[str, str]) -> Step:
    year = ctx.require_year()
    chart = {account.number: account for account in await ctx.client.accounts(year.id)}
    voucher = ctx.failure.export.voucher
    used = [row.account for row in voucher.voucher_rows] if voucher is not None else []
    states = [_describe(number, chart) for number in dict.fromkeys(used)]
    suggested = [
        f"{n} {chart[n].description}" for n in RESTAURANT_ACCOUNTS if n in chart and chart[n].active
    ]
    sv = [
        (
            "Ställ in kontoplanen i Backofficens Fortnox-inställningar (vilka konton "
            "försäljning, moms och betalsätt ska bokföras på)."
        )
    ]
    en = [
        (
            "Set up the chart of accounts in the Backoffice's Fortnox settings (which accounts "
            "sales, VAT and payment methods are booked on)."
        )
    ]
    if states:
        sv.append("Den misslyckade verifikationen använde: " + "; ".join(s for s, _ in states))
        en.append("The failed voucher used: " + "; ".join(e for _, e in states))
    if suggested:
        sv.append("Standardkonton som finns och är aktiva i ert Fortnox: " + ", ".join(suggested))
        en.append(
            "Standard accounts that exist and are active in your Fortnox: " + ", ".join(suggested)
        )
    sv.append(
        "Tidigare Z-rapporter som inte kom fram måste bokföras för hand i Fortnox eller "
        "exporteras om när kontoplanen är inställd."
    )
    en.append(
        "Earlier Z-reports that did not arrive must be entered by hand in Fortnox or "
        "exported again once the chart of accounts is set."
    )
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
