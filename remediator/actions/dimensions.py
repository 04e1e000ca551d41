"""Cost centres on the voucher: an inactive one is activated (policy ``activate_cost_centre``);
one that does not exist, or an account that requires a cost centre the row lacks, is explained.

Fortnox keeps cost centres for the company, not per financial year, so activating one makes it
usable in the voucher's year (and every other). Reading them needs the ``costcenter`` scope; a
connection without it gets the instructions to do it by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from remediator.actions.accounts import chart
from remediator.actions.base import Context, Planned, call, make_change, step, text
from remediator.fortnox import Account, CostCenter, FortnoxAPIError
from remediator.kinds import ErrorKind
from remediator.policy import Change
from remediator.report import Step, StepStatus

KIND = ErrorKind.DIMENSION_INVALID
NO_SCOPE = 2000663
MANDATORY = "MANDATORY"


def _named(args: dict[str, str], name: str) -> str:
    value = (args.get(name) or "").strip()
    return "" if not value or "{" in value else value


def _codes(ctx: Context, args: dict[str, str]) -> list[str]:
    """The cost centre the error names, else every one the voucher's rows carry."""
    voucher = ctx.failure.export.voucher
    found = [r.cost_center or voucher.cost_center for r in voucher.voucher_rows] if voucher else []
    on_rows = list(dict.fromkeys(code for code in found if code))
    named = _named(args, "cost_centre")
    if named:  # recognised in lower case: the voucher's spelling if it has it, else upper case
        return [next((c for c in on_rows if c.lower() == named.lower()), named.upper())]
    return on_rows


def _state(centre: CostCenter | None) -> dict[str, Any]:
    if centre is None:
        return {"exists": False}
    return {"exists": True, "active": bool(centre.active), "description": centre.description}


async def cost_centres(ctx: Context, args: dict[str, str]) -> list[Step]:
    steps = [await _centre(ctx, code) for code in _codes(ctx, args)]
    if not _named(args, "cost_centre"):
        steps += await _required(ctx, args)
    if not steps:
        return [
            step(
                "cost_centres",
                StepStatus.NEEDS_MANUAL,
                text(
                    "Felet anger inget kostnadsställe eller konto, och exporten skickade ingen "
                    "verifikation att läsa dem ur.",
                    "The error names no cost centre or account, and the failure carried no "
                    "voucher to read them from.",
                ),
                reason="nothing to check",
                manual=ctx.instructions(KIND, {}),
            )
        ]
    return steps


async def _read(ctx: Context, code: str) -> CostCenter | Step | None:
    try:
        return await ctx.client.cost_center(code)
    except FortnoxAPIError as err:
        if err.code != NO_SCOPE:
            raise
    return step(
        "cost_centres",
        StepStatus.NEEDS_MANUAL,
        text(
            f"Kopplingen får inte läsa kostnadsställen (behörigheten costcenter saknas), så "
            f"kostnadsställe {code} kan inte kontrolleras här.",
            f"The connection may not read cost centres (it lacks the costcenter scope), so "
            f"cost centre {code} cannot be checked here.",
        ),
        reason="the connection lacks the costcenter scope",
        observed={f"cost_centre:{code}": None},
        manual=ctx.instructions(KIND, {"cost_centre": code}, "cost_centre_by_hand"),
    )


async def _centre(ctx: Context, code: str) -> Step:
    centre = await _read(ctx, code)
    if isinstance(centre, Step):
        return centre
    observed = {f"cost_centre:{code}": _state(centre)}
    if centre is None:
        return step(
            "cost_centres",
            StepStatus.NEEDS_MANUAL,
            text(
                f"Kostnadsställe {code} finns inte i Fortnox.",
                f"Cost centre {code} does not exist in Fortnox.",
            ),
            reason="cost centre missing",
            observed=observed,
            manual=ctx.instructions(KIND, {"cost_centre": code}, "cost_centre_missing"),
        )
    if centre.active:
        return step(
            "cost_centres",
            StepStatus.OK,
            text(f"Kostnadsställe {code} är aktivt.", f"Cost centre {code} is active."),
            observed=observed,
        )

    async def activate() -> dict[str, Any]:
        return _state(await ctx.client.update_cost_center(code, active=True))

    name = f"{code} ({centre.description})" if centre.description else code
    return await make_change(
        ctx,
        Planned(
            action="cost_centres",
            change=Change.ACTIVATE_COST_CENTRE,
            call=call(
                "PUT", f"/3/costcenters/{quote(code, safe='')}", {"CostCenter": {"Active": True}}
            ),
            before=_state(centre),
            after={"exists": True, "active": True},
            planned=text(
                f"Aktivera kostnadsställe {name} (gäller hela företaget, alla räkenskapsår).",
                f"Activate cost centre {name} (for the whole company, every financial year).",
            ),
            done=text(f"Kostnadsställe {name} är nu aktivt.", f"Cost centre {name} is now active."),
            by_hand=ctx.instructions(KIND, {"cost_centre": code}, "cost_centre_inactive"),
            observed=observed,
        ),
        activate,
    )


def _without_cost_centre(ctx: Context) -> list[int]:
    """The accounts of the voucher's rows that carry no cost centre."""
    voucher = ctx.failure.export.voucher
    if voucher is None or voucher.cost_center:
        return []
    return list(
        dict.fromkeys(r.account for r in voucher.voucher_rows if r.account and not r.cost_center)
    )


async def _required(ctx: Context, args: dict[str, str]) -> list[Step]:
    """Accounts that require a cost centre or a project the rows lack: the account the
    error names (one read), else those of the rows without one (the year's chart, read once)."""
    named = _named(args, "account")
    year = ctx.require_year()
    if named.isdigit():
        account = await ctx.client.account(int(named), year.id)
        known: Mapping[int, Account] = {account.number: account} if account else {}
        numbers = [int(named)]
    else:
        numbers = _without_cost_centre(ctx)
        known = await chart(ctx) if numbers else {}
    mandatory = [n for n in numbers if n in known and _requires(known[n])]
    if not numbers:
        return []
    if not mandatory:
        return [
            step(
                "cost_centres",
                StepStatus.OK,
                text(
                    "Inget av kontona kräver kostnadsställe eller projekt.",
                    "None of the accounts requires a cost centre or a project.",
                ),
                observed={"requires_dimension": []},
            )
        ]
    return [_explained(ctx, known[n]) for n in mandatory]


def _requires(account: Account) -> bool:
    return MANDATORY in (account.cost_center_settings, account.project_settings)


def _explained(ctx: Context, account: Account) -> Step:
    what = "cost_centre" if account.cost_center_settings == MANDATORY else "project"
    sv_what, en_what = (
        ("kostnadsställe", "a cost centre")
        if what == "cost_centre"
        else (
            "projekt",
            "a project",
        )
    )
    return step(
        "cost_centres",
        StepStatus.NEEDS_MANUAL,
        text(
            f"Konto {account.number} ({account.description}) kräver {sv_what} i Fortnox, men "
            "Z-rapportens rader på kontot har inget.",
            f"Account {account.number} ({account.description}) requires {en_what} in Fortnox, "
            "but the Z-report's rows on it carry none.",
        ),
        reason=f"account {account.number} requires {what.replace('_', ' ')}",
        observed={"requires_dimension": [{"account": account.number, "dimension": what}]},
        manual=ctx.instructions(KIND, {"account": str(account.number)}, f"{what}_required"),
    )
