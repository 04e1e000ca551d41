"""Accounts the export uses: every one exists and is active in the voucher's year.

All the accounts the failed voucher uses are checked in one pass, against the year's chart read
once (all pages) and shared by the account steps of the run; every inactive one is activated
and every missing one created (only after review), each under the connection's policy, before
the voucher is sent again. Fortnox names only the first account it refuses, so the error's
account alone is not enough. An account the voucher does not use is never changed.
"""

from __future__ import annotations

from typing import Any

from remediator.actions.base import Context, Planned, call, make_change, manual, step, text
from remediator.bas import name_of
from remediator.fortnox import Account, Chart
from remediator.kinds import ErrorKind
from remediator.policy import Change
from remediator.report import Step, StepStatus

FIRST, LAST = 1000, 9999  # account numbers Fortnox accepts
PLANNED_NEW = "accounts_planned_new"  # ctx.facts: accounts a plan would create


def is_account_number(number: int | None) -> bool:
    return number is not None and FIRST <= number <= LAST


def target_accounts(ctx: Context, args: dict[str, str]) -> list[int]:
    """The accounts the failed voucher uses (real numbers only); for a preflight, the accounts
    the restaurant's exports use; without either, the account the error names. An account the
    voucher (or the exports) does not use is never a target."""
    voucher, accounts = ctx.failure.export.voucher, ctx.failure.export.accounts
    if voucher is not None:
        return [number for number in voucher.accounts() if is_account_number(number)]
    if accounts is not None:
        return [number for number in dict.fromkeys(accounts) if is_account_number(number)]
    named = (args.get("account") or "").strip()
    return [int(named)] if named.isdigit() and is_account_number(int(named)) else []


async def chart(ctx: Context) -> Chart:
    """The chart of the voucher's year by number, read once per run (all pages)."""
    found: Chart | None = ctx.facts.get("chart")
    if found is None:
        found = ctx.facts["chart"] = await ctx.client.chart(ctx.require_year().id)
    return found


def _state(account: Account | None) -> dict[str, Any]:
    if account is None:
        return {"exists": False}
    return {"exists": True, "active": bool(account.active), "description": account.description}


def _observed(numbers: list[int], known: Chart) -> dict[str, Any]:
    return {f"account:{number}": _state(known.get(number)) for number in numbers}


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


def _all_right(action: str, numbers: list[int], known: Chart, *, sv: str, en: str) -> Step:
    listed = ", ".join(map(str, numbers))
    return step(
        action,
        StepStatus.OK,
        text(f"Konto {listed}: {sv}.", f"Account {listed}: {en}."),
        observed=_observed(numbers, known),
    )


async def account_active(ctx: Context, args: dict[str, str]) -> list[Step]:
    """Every account the voucher uses is active in its year; inactive ones are activated."""
    numbers = target_accounts(ctx, args)
    if not numbers:
        return [_no_target("account_active")]
    known = await chart(ctx)
    planned = ctx.facts.get(PLANNED_NEW, set())  # created active, in a plan: nothing to activate
    numbers = [n for n in numbers if n not in planned]
    fine = [n for n in numbers if n in known and known[n].active]
    steps = [await _activate(ctx, n, known) for n in numbers if n not in fine]
    if fine:
        steps.insert(0, _all_right("account_active", fine, known, sv="aktivt", en="active"))
    return steps


async def _activate(ctx: Context, number: int, known: Chart) -> Step:
    year = ctx.require_year()
    account = known.get(number)
    observed = _observed([number], known)
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
            manual=ctx.instructions(ErrorKind.ACCOUNT_MISSING, {"account": str(number)}),
        )

    async def activate() -> dict[str, Any]:
        updated = await ctx.client.update_account(number, year.id, active=True)
        known[number] = updated
        return _state(updated)

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
            by_hand=ctx.instructions(ErrorKind.ACCOUNT_INACTIVE, {"account": str(number)}),
            observed=observed,
        ),
        activate,
    )


async def account_exists(ctx: Context, args: dict[str, str]) -> list[Step]:
    """Every account the voucher uses exists in its year; missing ones are created."""
    numbers = target_accounts(ctx, args)
    if not numbers:
        return [_no_target("account_exists")]
    known = await chart(ctx)
    present = [n for n in numbers if n in known]
    steps = [await _create(ctx, n, known) for n in numbers if n not in present]
    if present:
        steps.insert(
            0,
            _all_right(
                "account_exists", present, known, sv="finns i kontoplanen", en="in the chart"
            ),
        )
    return steps


async def _create(ctx: Context, number: int, known: Chart) -> Step:
    year = ctx.require_year()
    observed = _observed([number], known)
    name = name_of(number)
    by_hand = ctx.instructions(ErrorKind.ACCOUNT_MISSING, {"account": str(number)})
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
        created = await ctx.client.create_account(number, name, year.id)
        known[number] = created
        return _state(created)

    async def look() -> dict[str, Any]:
        found = await ctx.client.account(number, year.id)
        if found is not None:
            known[number] = found
        return _state(found)

    created = await make_change(
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
            look=look,
        ),
        create,
    )
    if created.status is StepStatus.WOULD_CHANGE:
        ctx.facts.setdefault(PLANNED_NEW, set()).add(number)
    return created
