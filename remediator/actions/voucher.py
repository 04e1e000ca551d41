"""The Backoffice's own data: a voucher Fortnox cannot book as it was sent (fewer than two rows
with an amount, often a row rounded to 0.00; debit and credit that differ). Nothing in Fortnox
to change: the step says what is wrong with the voucher, and the playbook what the Backoffice
must correct."""

from __future__ import annotations

from remediator.actions.base import Context, step, text
from remediator.fortnox import Voucher
from remediator.kinds import ErrorKind
from remediator.report import Step, StepStatus

HALF_AN_ORE = 0.005


def _amount(value: float | None) -> float:
    return round(value or 0.0, 2)


def _counted(voucher: Voucher) -> int:
    return sum(1 for r in voucher.voucher_rows if _amount(r.debit) or _amount(r.credit))


def _difference(voucher: Voucher) -> float:
    rows = voucher.voucher_rows
    return round(sum(_amount(r.debit) for r in rows) - sum(_amount(r.credit) for r in rows), 2)


def _observed(voucher: Voucher) -> dict[str, object]:
    rows = voucher.voucher_rows
    debit = round(sum(_amount(r.debit) for r in rows), 2)
    credit = round(sum(_amount(r.credit) for r in rows), 2)
    return {
        "rows": len(rows),
        "rows_with_amount": _counted(voucher),
        "zero_rows": [r.account for r in rows if not (_amount(r.debit) or _amount(r.credit))],
        "debit": debit,
        "credit": credit,
        "difference": _difference(voucher),
    }


def _finding(counted: int, difference: float) -> tuple[str | None, str, str]:
    """Which case of the playbook applies, and a summary of what was seen (sv, en)."""
    if counted < 2:  # noqa: PLR2004 - a voucher needs a debit and a credit row
        return (
            "too_few_rows",
            f"Verifikationen har {counted} rad(er) med belopp; minst två behövs.",
            f"The voucher has {counted} row(s) with an amount; at least two are needed.",
        )
    if abs(difference) >= HALF_AN_ORE:
        return (
            "unbalanced",
            f"Verifikationen balanserar inte: debet och kredit skiljer {difference:.2f} kr.",
            f"The voucher does not balance: debit and credit differ by {difference:.2f} kr.",
        )
    return (
        None,
        "Verifikationen har minst två rader och balanserar här; Fortnox nekade ändå dess data.",
        "The voucher has two rows or more and balances here; Fortnox refused its data anyway.",
    )


async def voucher_review(ctx: Context, _args: dict[str, str]) -> Step:
    voucher = ctx.failure.export.voucher
    if voucher is None:
        return step(
            "voucher_review",
            StepStatus.NEEDS_MANUAL,
            text(
                "Felet skickades utan verifikation, så den kan inte granskas här.",
                "The failure carried no voucher, so it cannot be reviewed here.",
            ),
            reason="no voucher in the failure",
            manual=ctx.instructions(ErrorKind.VOUCHER_INVALID, {}),
        )
    counted, difference = _counted(voucher), _difference(voucher)
    case, sv, en = _finding(counted, difference)
    params = {"rows": str(counted), "difference": f"{difference:.2f}"}
    return step(
        "voucher_review",
        StepStatus.NEEDS_MANUAL,
        text(sv, en),
        reason=case or "the voucher's data was refused",
        observed=_observed(voucher),
        manual=ctx.instructions(ErrorKind.VOUCHER_INVALID, params, case),
    )
