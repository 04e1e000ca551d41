"""Accounts the export uses: active in its year; a missing one created only after review."""

from __future__ import annotations

from typing import Any

from remediator.actions.base import Context, Planned, call, make_change, manual, step, text
from remediator.bas import name_of
from remediator.fortnox import Account
from remediator.policy import Change
from remediator.report import Step, StepStatus

MENU = "Inställningar → Bokföring → Kontoplan"


def target_accounts(ctx: Context, args: dict[str, str]) -> list[int]:
    """The error's account if it names one, else the accounts the failed voucher uses.

    An account is only ever changed when the error names it or the export uses it.
    """
    named = (args.get("account") or "").strip()
    if named.isdigit():
        return [int(named)]
    voucher = ctx.failure.export.voucher
    return voucher.accounts() if voucher is not None else []


def _state(account: Account | None) -> dict[str, Any]:
    if account is None:
        return {"exists": False}
    return {"exists": True, "active": bool(account.active), "description": account.description}


def _no_target(action: str) -> Step:
    return step(
        action,
        StepStatus.NEEDS_MANUAL,
        text(
            "Felet anger inget konto och exporten skickade ingen verifikation att läsa konton ur.",
            "The error names no account and the failure carried no voucher to read accounts from.",
        ),
        reason="no account to check",
        manual=manual(
            ["Kontrollera kontona i Backofficens Fortnox-inställningar."],
            ["Check the accounts in the Backoffice's Fortnox settings."],
        ),
    )


async def account_active(ctx: Context, args: dict[str, str]) -> list[Step]:
    numbers = target_accounts(ctx, args)
    if not numbers:
        return [_no_target("account_active")]
    return [await _activate(ctx, number) for number in numbers]


async def _activate(ctx: Context, number: int) -> Step:
    year = ctx.require_year()
    account = await ctx.client.account(number, year.id)
    observed = {f"account:{number}": _state(account)}
    if account is None:
        return step(
            "account_active",
            StepStatus.NEEDS_MANUAL,
            text(
                f"Konto {number} finns inte i kontoplanen för räkenskapsåret.",
                f"Account {number} is not in the chart of accounts for the year.",
            ),
            reason="account missing",
            observed=observed,
            manual=manual(
                [f"Lägg upp konto {number} under {MENU} i Fortnox."],
                [f"Add account {number} under {MENU} in Fortnox."],
            ),
        )
    if account.active:
        return step(
            "account_active",
            StepStatus.OK,
            text(f"Konto {number} är aktivt.", f"Account {number} is active."),
            observed=observed,
        )

    async def activate() -> dict[str, Any]:
        return _state(await ctx.client.update_account(number, year.id, active=True))

    return await make_change(
        ctx,
        Planned(
            action="account_active",
            change=Change.ACTIVATE_ACCOUNT,
            call=call(
                "PUT",
                f"/3/accounts/{number}?financialyear={year.id}",
                {"Account": {"Active": True}},
            ),
            before=_state(account),
            after={"exists": True, "active": True},
            planned=text(
                f"Aktivera konto {number} ({account.description}) i räkenskapsåret.",
                f"Activate account {number} ({account.description}) in the year.",
            ),
            done=text(
                f"Konto {number} ({account.description}) är nu aktivt.",
                f"Account {number} ({account.description}) is now active.",
            ),
            by_hand=manual(
                [
                    (
                        f"Öppna {MENU} i Fortnox, välj rätt räkenskapsår, öppna konto {number} och "
                        "kryssa i Aktiv."
                    )
                ],
                [
                    (
                        f"In Fortnox open {MENU}, select the right financial year, open account {number} "
                        "and tick Aktiv (active)."
                    )
                ],
            ),
            observed=observed,
        ),
        activate,
    )


async def account_exists(ctx: Context, args: dict[str, str]) -> list[Step]:
    numbers = target_accounts(ctx, args)
    if not numbers:
        return [_no_target("account_exists")]
    return [await _create(ctx, number) for number in numbers]


async def _create(ctx: Context, number: int) -> Step:
    year = ctx.require_year()
    account = await ctx.client.account(number, year.id)
    observed = {f"account:{number}": _state(account)}
    if account is not None:
        return step(
            "account_exists",
            StepStatus.OK,
            text(
                f"Konto {number} finns i kontoplanen.",
                f"Account {number} is in the chart of accounts.",
            ),
            observed=observed,
        )
    name = name_of(number)
    by_hand = manual(
        [f"Lägg upp konto {number} under {MENU} i Fortnox."],
        [f"Add account {number} under {MENU} in Fortnox."],
    )
    if name is None:
        return step(
            "account_exists",
            StepStatus.NEEDS_MANUAL,
            text(
                f"Konto {number} saknas och är inget standardkonto för restauranger; "
                "det måste läggas upp för hand.",
                f"Account {number} is missing and is not a standard restaurant "
                "account; it must be added by hand.",
            ),
            reason="no standard BAS name known",
            observed=observed,
            manual=by_hand,
        )

    async def create() -> dict[str, Any]:
        return _state(await ctx.client.create_account(number, name, year.id))

    return await make_change(
        ctx,
        Planned(
            action="account_exists",
            change=Change.CREATE_ACCOUNT,
            call=call(
                "POST",
                f"/3/accounts?financialyear={year.id}",
                {"Account": {"Number": number, "Description": name, "Active": True}},
            ),
            before=_state(None),
            after={"exists": True, "active": True},
            planned=text(
                f'Lägg upp konto {number} "{name}" (BAS) i räkenskapsåret.',
                f'Create account {number} "{name}" (BAS) in the financial year.',
            ),
            done=text(f'Konto {number} "{name}" lades upp.', f'Created account {number} "{name}".'),
            by_hand=by_hand,
            observed=observed,
        ),
        create,
    )
